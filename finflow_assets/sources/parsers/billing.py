"""AR billing payments (``GET /v1/payments``) -> canonical records.

Input is one API page body: a list envelope (``{"object": "list", "data": [...], "next_cursor": ...}``), a bare
array of payment objects, or a single payment object (see ``finflow_simulator.api_objects.BILLING_PAYMENT``).
JSON numbers are read as exact decimals, never floats.

Mapping: ``id`` -> external_id; ``amount`` (decimal text, money received) -> amount, with a ``refund`` always
money out (a refund written with a positive amount is negated); ``received_at`` -> booked_date (the UTC day of the
timestamp, or the date as given); ``kind`` (payment | refund) -> transaction_type; ``invoice_id`` -> reference;
``customer.name`` -> counterparty; the remittance text ``reference`` -> description; method, customer id, invoice
amount and dates, received_at and updated_at -> extra.

``row`` is the 1-based index of the object in the page. A malformed object is a ParseError naming that row.
Options: ``account`` (the account to put on every record).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from .bank_csv import clean_text
from .base import ParsedFile, ParseError, Record, decimal_text, make_record

KINDS = ("payment", "refund")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def load_page(data: bytes, file: str, object_name: str) -> list[Any]:
    """The objects of an API page body: ``{"data": [...]}``, a bare array, or a single object."""
    if not data.strip():
        raise ParseError(file, None, "empty page")
    try:
        document = json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise ParseError(file, None, f"JSON is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            file, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} (truncated?)"
        ) from None
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        if "data" in document:
            if not isinstance(document["data"], list):
                raise ParseError(file, None, "'data' is not an array")
            return document["data"]
        if "id" in document and "amount" in document:
            return [document]
        keys = ", ".join(sorted(map(str, document))[:8])
        raise ParseError(file, None, f"not a page of {object_name} objects (no 'data' array; keys: {keys})")
    raise ParseError(file, None, f"expected a JSON object or array, not {type(document).__name__}")


def required(item: Mapping[str, Any], key: str, file: str, row: int) -> Any:
    value = item.get(key)
    if value is None or value == "":
        raise ParseError(file, row, f"{key!r} is missing")
    return value


def currency_code(value: Any, file: str, row: int, what: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ParseError(file, row, f"{what} {value!r} is not an ISO 4217 code")
    return value.upper()


def text(value: Any) -> str | None:
    return None if value is None else clean_text(str(value))


def utc_day(value: Any, file: str, row: int, what: str) -> str | None:
    """An ISO timestamp -> its UTC day; a plain ``YYYY-MM-DD`` date as given; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(file, row, f"{what} {value!r} is not an ISO date or timestamp")
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(file, row, f"{what} {value!r} is not an ISO date or timestamp") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


def _amount(value: Any, file: str, row: int, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ParseError(file, row, f"{what} {value!r} is not a decimal amount")
    if isinstance(value, str) and not _AMOUNT.fullmatch(value.strip()):
        raise ParseError(file, row, f"{what} {value!r} is not a decimal amount")
    return Decimal(decimal_text(value, file, row))


def parse_billing_payments(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse one page of billing payments (API JSON)."""
    records = []
    for row, item in enumerate(load_page(data, filename, "payment"), start=1):
        if not isinstance(item, dict):
            raise ParseError(filename, row, f"expected a payment object, got {type(item).__name__}")
        records.append(_payment(item, row, filename, options))
    return ParsedFile(records=records)


def _payment(item: Mapping[str, Any], row: int, file: str, options: Mapping[str, Any]) -> Record:
    kind = required(item, "kind", file, row)
    if kind not in KINDS:
        raise ParseError(file, row, f"kind {kind!r} is not one of {KINDS}")
    amount = _amount(required(item, "amount", file, row), file, row, "amount")
    if kind == "refund" and amount > 0:
        amount = -amount
    currency = currency_code(required(item, "currency", file, row), file, row)
    customer = item.get("customer") or {}
    if not isinstance(customer, dict):
        raise ParseError(file, row, "customer is not an object")
    invoice_amount = item.get("invoice_amount")
    return make_record(
        row,
        account=options.get("account"),
        booked_date=utc_day(required(item, "received_at", file, row), file, row, "received_at"),
        amount=decimal_text(amount, file, row),
        currency=currency,
        description=text(item.get("reference")),
        counterparty=text(customer.get("name")),
        reference=text(item.get("invoice_id")),
        transaction_type=kind,
        external_id=text(required(item, "id", file, row)),
        extra={
            "method": text(item.get("method")),
            "customer_id": text(customer.get("id")),
            "invoice_amount": (
                decimal_text(_amount(invoice_amount, file, row, "invoice_amount"), file, row)
                if invoice_amount is not None
                else None
            ),
            "invoice_issued_on": utc_day(item.get("invoice_issued_on"), file, row, "invoice_issued_on"),
            "invoice_due_on": utc_day(item.get("invoice_due_on"), file, row, "invoice_due_on"),
            "received_at": text(item.get("received_at")),
            "updated_at": text(item.get("updated_at")),
            "status": text(item.get("status")),
        },
    )
