"""Stripe balance activity -> canonical records.

Input is either Stripe API JSON or a Stripe report CSV:

* JSON: a list envelope (``{"object": "list", "data": [...]}``), a bare array, or a single object. Objects must be
  ``balance_transaction`` or ``payout``; anything else (charges, customers, a fixtures dump...) is a ParseError,
  because only these two describe money moving on the Stripe balance.
  Amounts are integer minor units, converted with the currency's exponent (2 by default, 0 for zero-decimal
  currencies such as JPY/KRW, 3 for BHD/JOD/KWD/OMR/TND; ISK, HUF, TWD and UGX stay two-decimal in Stripe's API).
  ``created`` (unix seconds) -> booked_date in UTC, ``available_on`` -> value_date, ``type`` -> transaction_type,
  ``source`` -> reference, fee / net / reporting_category / status / fee_details -> extra.
  A *payout* object carries a positive amount in Stripe, but the money leaves the Stripe balance, so the record's
  amount is the negated payout amount with transaction_type ``payout`` and ``arrival_date`` as value_date; its
  reference is the payout id so it matches the ``payout`` balance transaction whose source is that id.
* CSV: Dashboard / Sigma balance and payout-reconciliation reports (``balance_transaction_id``, ``gross``, ``fee``,
  ``net`` in decimal major units, ``created`` or ``created_utc``). ``reporting_category`` is the transaction type.

``row`` is the 1-based index of the object in the JSON array (or the physical line for CSV).
Options: ``account`` (the Stripe account id to put on every record).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .bank_csv import clean_text, decode_text, is_blank, parse_amount, parse_date, read_rows
from .base import ParsedFile, ParseError, Record, decimal_text, make_record

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_KNOWN_OBJECTS = ("balance_transaction", "payout")
_CSV_REQUIRED = ("balance_transaction_id", "currency", "gross")


def currency_exponent(currency: str) -> int:
    """Decimal places of Stripe's minor unit for an ISO currency code."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def minor_to_decimal(amount: Any, currency: str, file: str, row: int, what: str) -> str:
    """Integer minor units -> decimal text (``-400`` usd -> ``-4.00``)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ParseError(file, row, f"{what} {amount!r} is not an integer amount in minor units")
    return decimal_text(Decimal(amount).scaleb(-currency_exponent(currency)), file, row)


def parse_stripe_balance_transactions(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse Stripe balance transactions / payouts (API JSON) or a Stripe balance report (CSV)."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    if data.lstrip()[:1] in (b"{", b"["):
        return ParsedFile(records=_parse_json(data, filename, options))
    return ParsedFile(records=_parse_csv(data, filename, options))


def _objects(document: Any, file: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        kind = document.get("object")
        if kind == "list":
            items = document.get("data")
            if not isinstance(items, list):
                raise ParseError(file, None, "list object without a 'data' array")
            return items
        if kind in _KNOWN_OBJECTS:
            return [document]
        if kind is None and _infer_object(document):
            return [document]
        keys = ", ".join(sorted(map(str, document))[:8])
        raise ParseError(
            file, None, f"not a Stripe list, balance_transaction or payout (object={kind!r}; keys: {keys})"
        )
    raise ParseError(file, None, f"expected a JSON object or array, not {type(document).__name__}")


def _infer_object(item: dict[str, Any]) -> str | None:
    """Exports that drop ``object``: recognise the id prefix."""
    ident = str(item.get("id", ""))
    return "balance_transaction" if ident.startswith("txn_") else "payout" if ident.startswith("po_") else None


def _parse_json(data: bytes, file: str, options: Mapping[str, Any]) -> list[Record]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(file, None, f"JSON is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            file, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} (truncated?)"
        ) from None
    records = []
    for row, item in enumerate(_objects(document, file), start=1):
        if not isinstance(item, dict):
            raise ParseError(file, row, f"expected an object, got {type(item).__name__}")
        kind = item.get("object") or _infer_object(item)
        if kind == "balance_transaction":
            records.append(_balance_transaction(item, row, file, options))
        elif kind == "payout":
            records.append(_payout(item, row, file, options))
        else:
            raise ParseError(file, row, f"unsupported Stripe object {kind!r} (expected balance_transaction or payout)")
    return records


def _required(item: Mapping[str, Any], key: str, file: str, row: int) -> Any:
    if item.get(key) is None:
        raise ParseError(file, row, f"{key!r} is missing")
    return item[key]


def _currency(item: Mapping[str, Any], file: str, row: int) -> str:
    currency = _required(item, "currency", file, row)
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ParseError(file, row, f"currency {currency!r} is not an ISO 4217 code")
    return currency.upper()


def _utc_day(value: Any, file: str, row: int, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(file, row, f"{what} {value!r} is not a unix timestamp")
    try:
        return datetime.fromtimestamp(value, tz=UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        raise ParseError(file, row, f"{what} {value!r} is not a valid unix timestamp") from None


def _text(value: Any) -> str | None:
    return None if value is None else clean_text(str(value))


def _fee_details(details: Any, currency: str, file: str, row: int) -> str | None:
    if not details:
        return None
    if not isinstance(details, list):
        raise ParseError(file, row, "fee_details is not a list")
    parts = []
    for detail in details:
        if not isinstance(detail, dict):
            raise ParseError(file, row, "fee_details entry is not an object")
        fee_currency = str(detail.get("currency") or currency)
        amount = minor_to_decimal(detail.get("amount"), fee_currency, file, row, "fee_details amount")
        parts.append(f"{detail.get('type') or 'fee'}:{amount} {fee_currency.upper()}")
    return "; ".join(parts)


def _balance_transaction(item: Mapping[str, Any], row: int, file: str, options: Mapping[str, Any]) -> Record:
    currency = _currency(item, file, row)
    amount = minor_to_decimal(_required(item, "amount", file, row), currency, file, row, "amount")
    fee = item.get("fee")
    net = item.get("net")
    source = item.get("source")
    if isinstance(source, dict):  # expanded source object
        source = source.get("id")
    return make_record(
        row,
        account=options.get("account"),
        booked_date=_utc_day(_required(item, "created", file, row), file, row, "created"),
        value_date=_utc_day(item.get("available_on"), file, row, "available_on"),
        amount=amount,
        currency=currency,
        description=_text(item.get("description")),
        reference=_text(source),
        transaction_type=_text(item.get("type")),
        external_id=_text(_required(item, "id", file, row)),
        extra={
            "fee": minor_to_decimal(fee, currency, file, row, "fee") if fee is not None else None,
            "net": minor_to_decimal(net, currency, file, row, "net") if net is not None else None,
            "fee_details": _fee_details(item.get("fee_details"), currency, file, row),
            "reporting_category": _text(item.get("reporting_category")),
            "status": _text(item.get("status")),
            "source": _text(source),
            "exchange_rate": _text(item.get("exchange_rate")),
            "balance_type": _text(item.get("balance_type")),
        },
    )


def _payout(item: Mapping[str, Any], row: int, file: str, options: Mapping[str, Any]) -> Record:
    currency = _currency(item, file, row)
    raw_amount = _required(item, "amount", file, row)
    if isinstance(raw_amount, bool) or not isinstance(raw_amount, int):
        raise ParseError(file, row, f"amount {raw_amount!r} is not an integer amount in minor units")
    payout_id = _text(_required(item, "id", file, row))
    balance_transaction = item.get("balance_transaction")
    if isinstance(balance_transaction, dict):
        balance_transaction = balance_transaction.get("id")
    return make_record(
        row,
        account=options.get("account"),
        booked_date=_utc_day(_required(item, "created", file, row), file, row, "created"),
        value_date=_utc_day(item.get("arrival_date"), file, row, "arrival_date"),
        amount=minor_to_decimal(-raw_amount, currency, file, row, "amount"),
        currency=currency,
        description=_text(item.get("description")) or _text(item.get("statement_descriptor")),
        reference=payout_id,
        transaction_type="payout",
        external_id=payout_id,
        extra={
            "payout_amount": minor_to_decimal(raw_amount, currency, file, row, "amount"),
            "balance_transaction": _text(balance_transaction),
            "status": _text(item.get("status")),
            "method": _text(item.get("method")),
            "automatic": _text(json.dumps(item["automatic"])) if "automatic" in item else None,
            "destination": _text(item.get("destination") if not isinstance(item.get("destination"), dict) else None),
            "failure_code": _text(item.get("failure_code")),
        },
    )


def _parse_csv(data: bytes, file: str, options: Mapping[str, Any]) -> list[Record]:
    rows = [(line, cells) for line, cells in read_rows(decode_text(data, file), ",", file) if not is_blank(cells)]
    if not rows:
        raise ParseError(file, None, "empty file")
    header_line, header = rows[0]
    names = [cell.strip().lower() for cell in header]
    created_column = next((c for c in ("created", "created_utc") if c in names), None)
    missing = [c for c in _CSV_REQUIRED if c not in names] + ([] if created_column else ["created"])
    if missing:
        raise ParseError(file, header_line, f"missing required column(s) {missing}: not a Stripe balance report CSV")
    records = []
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise ParseError(file, line, f"row has {len(cells)} fields, header has {len(header)} (truncated row?)")
        row = {name: cell.strip() for name, cell in zip(names, cells, strict=True)}

        def money(column: str, row: dict[str, str] = row, line: int = line) -> str | None:
            value = row.get(column)
            return decimal_text(parse_amount(value, file, line, column), file, line) if value else None

        def day(column: str, required: bool = False, row: dict[str, str] = row, line: int = line) -> str | None:
            value = row.get(column)
            if not value:
                if required:
                    raise ParseError(file, line, f"column {column!r}: date is empty")
                return None
            parsed = parse_date(value, "%Y-%m-%d")
            if parsed is None:
                raise ParseError(file, line, f"column {column!r}: {value!r} is not a valid date")
            return parsed.isoformat()

        currency = row["currency"].upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ParseError(file, line, f"currency {row['currency']!r} is not an ISO 4217 code")
        gross = money("gross")
        if gross is None:
            raise ParseError(file, line, "column 'gross': amount is empty")
        available_column = "available_on" if "available_on" in names else "available_on_utc"
        records.append(
            make_record(
                line,
                account=options.get("account") or row.get("gateway_account") or None,
                booked_date=day(created_column, required=True),
                value_date=day(available_column),
                amount=gross,
                currency=currency,
                description=clean_text(row.get("description")),
                counterparty=clean_text(row.get("customer_name")),
                reference=row.get("source_id") or row.get("charge_id") or None,
                transaction_type=row.get("reporting_category") or None,
                external_id=row["balance_transaction_id"] or None,
                extra={
                    "fee": money("fee"),
                    "net": money("net"),
                    "payout_id": row.get("automatic_payout_id") or None,
                    "payment_intent_id": row.get("payment_intent_id") or None,
                    "charge_id": row.get("charge_id") or None,
                    "trace_id_status": row.get("trace_id_status") or None,
                    "payment_method_type": row.get("payment_method_type") or None,
                },
            )
        )
    return records
