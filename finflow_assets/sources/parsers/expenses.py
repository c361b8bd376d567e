"""Corporate card transactions (``GET /v1/transactions``) -> canonical records.

Input is one API page body: ``{"data": [...], "page": ..., "total_pages": ...}``, a bare array of transaction
objects, or a single transaction object (see ``finflow_simulator.api_objects.EXPENSES_TRANSACTION``).

Mapping: ``id`` -> external_id; ``amount.amount`` is integer minor units in ``amount.currency`` (converted with the
currency's exponent, as for Stripe), positive for a purchase: a ``purchase`` becomes money out (negated), a
``refund`` money in (positive whatever sign the API wrote); ``posted_at`` -> booked_date; ``type`` ->
transaction_type; ``merchant.name`` -> counterparty; ``memo`` -> description (the merchant name when there is no
memo); card last4 / holder, MCC, status and updated_at -> extra.

``row`` is the 1-based index of the object in the page. A malformed object is a ParseError naming that row.
Options: ``account`` (the account to put on every record).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .base import ParsedFile, ParseError, Record, decimal_text, make_record
from .billing import currency_code, load_page, required, text, utc_day
from .stripe import minor_to_decimal

TYPES = ("purchase", "refund")


def parse_expenses_transactions(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse one page of corporate card transactions (API JSON)."""
    records = []
    for row, item in enumerate(load_page(data, filename, "card transaction"), start=1):
        if not isinstance(item, dict):
            raise ParseError(filename, row, f"expected a transaction object, got {type(item).__name__}")
        records.append(_transaction(item, row, filename, options))
    return ParsedFile(records=records)


def _object(item: Mapping[str, Any], key: str, file: str, row: int) -> Mapping[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise ParseError(file, row, f"{key!r} is not an object")
    return value


def _transaction(item: Mapping[str, Any], row: int, file: str, options: Mapping[str, Any]) -> Record:
    kind = required(item, "type", file, row)
    if kind not in TYPES:
        raise ParseError(file, row, f"type {kind!r} is not one of {TYPES}")
    money = item.get("amount")
    if not isinstance(money, dict):
        raise ParseError(file, row, "'amount' is missing or not an object {amount, currency}")
    currency = currency_code(required(money, "currency", file, row), file, row, "amount.currency")
    minor = required(money, "amount", file, row)
    magnitude = Decimal(minor_to_decimal(minor, currency, file, row, "amount.amount"))
    amount = -magnitude if kind == "purchase" else abs(magnitude)
    merchant = _object(item, "merchant", file, row)
    card = _object(item, "card", file, row)
    posted = utc_day(required(item, "posted_at", file, row), file, row, "posted_at")
    return make_record(
        row,
        account=options.get("account"),
        booked_date=posted,
        amount=decimal_text(amount, file, row),
        currency=currency,
        description=text(item.get("memo")) or text(merchant.get("name")),
        counterparty=text(merchant.get("name")),
        transaction_type=kind,
        external_id=text(required(item, "id", file, row)),
        extra={
            "card_last4": text(card.get("last4")),
            "card_holder": text(card.get("holder")),
            "mcc": text(merchant.get("mcc")),
            "status": text(item.get("status")),
            "updated_at": text(item.get("updated_at")),
        },
    )
