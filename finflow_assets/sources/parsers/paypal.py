"""PayPal transactions -> canonical records, from three kinds of input (chosen by sniffing, not by file name):

* Transaction Search API JSON (``GET /v1/reporting/transactions``): ``transaction_details[]`` with
  ``transaction_info`` / ``payer_info``. ``row`` is the 1-based index in ``transaction_details``; ``account`` is
  ``account_number``; pagination fields (page, total_pages, links) are left to the caller that fetches pages.
* Activity / statement CSV downloads (English or localized headers, e.g. Spanish ``Fecha``/``Bruto``): the gross
  amount is the record amount, signed as in the file; fee and net go to ``extra``. Dates are day-first or
  month-first depending on the account's locale, so the format is chosen per file as in the bank CSV reader
  (option ``date_format`` when the file cannot tell); the decimal separator is detected per file.
* Settlement (STL) and transaction detail (TRR) reports: record-type rows (RH/FH/SH/CH/SB/SF/SC/RF/RC/FF); only
  ``SB`` rows are transactions, described by the preceding ``CH`` header row. Amounts are unsigned whole numbers
  of hundredths (PayPal's report convention for every currency, JPY included: ``15000`` = 150.00) with a
  ``CR``/``DR`` flag for the sign. An SAR (subscription agreement report) has no money movements and is
  rejected with a ParseError.

Every amount keeps PayPal's sign: + money into the PayPal balance, - money out. ``transaction_type`` is the event
code (``T0006``...) for API/STL/TRR and the ``Type`` text for activity downloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .bank_csv import (
    choose_date_format,
    clean_text,
    date_formats_option,
    decode_text,
    detect_decimal,
    fit_width,
    is_blank,
    normalize_header,
    parse_amount,
    parse_date,
    read_rows,
    sniff_delimiter,
    unique_headers,
)
from .base import ParsedFile, ParseError, Record, decimal_text, make_record

REPORT_RECORD_TYPES = frozenset({"RH", "FH", "SH", "CH", "SB", "SF", "SC", "RF", "RC", "FF", "RT", "FT"})
_REPORT_REQUIRED = (
    "Transaction ID",
    "Transaction Event Code",
    "Transaction Initiation Date",
    "Transaction Debit or Credit",
    "Gross Transaction Amount",
    "Gross Transaction Currency",
)

# activity / statement CSV: field -> header names (normalized), English first, then localized exports
ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "fecha", "datum", "data", "date de la transaction"),
    "time": ("time", "hora", "uhrzeit", "heure", "tijd", "ora"),
    "timezone": ("timezone", "time zone", "zona horaria", "zeitzone", "fuseau horaire", "tijdzone"),
    "name": ("name", "nombre", "nom", "naam", "nome"),
    "type": ("type", "description", "descripción", "typ", "beschreibung", "tipo", "omschrijving"),
    "status": ("status", "estado", "statut", "stato"),
    "currency": ("currency", "divisa", "moneda", "währung", "devise", "valuta"),
    "gross": ("gross", "bruto", "brutto", "brut", "lordo", "amount", "importe"),
    "fee": ("fee", "comisión", "gebühr", "frais", "commissione", "kosten", "tarifa"),
    "net": ("net", "neto", "netto", "netto"),
    "balance": ("balance", "saldo", "guthaben", "solde"),
    "transaction_id": (
        "transaction id",
        "id. de transacción",
        "transaktionscode",
        "numéro de transaction",
        "transactiereferentie",
    ),
    "reference_txn_id": (
        "reference txn id",
        "id. de referencia de trans.",
        "zugehöriger transaktionscode",
        "numéro de la transaction de référence",
    ),
    "invoice": ("invoice number", "invoice id", "id. de factura", "rechnungsnummer", "numéro de facture"),
    "receipt_id": ("receipt id", "id. de recibo", "empfangsnummer"),
    "subject": ("subject", "asunto", "betreff", "objet"),
    "item_title": ("item title", "título del objeto", "artikelbezeichnung", "titre de l'objet"),
    "note": ("note", "nota", "hinweis", "remarque"),
    "from_email": ("from email address", "correo electrónico del remitente", "absender e-mail-adresse"),
    "to_email": ("to email address", "correo electrónico del destinatario", "empfänger e-mail-adresse"),
}
_AMOUNT_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def parse_paypal_transactions(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse PayPal Transaction Search JSON, an activity/statement CSV, or an STL/TRR report CSV."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    if data.lstrip()[:1] in (b"{", b"["):
        return ParsedFile(records=_parse_api_json(data, filename, options))
    text = decode_text(data, filename, options.get("encoding"))
    rows = [(line, cells) for line, cells in read_rows(text, ",", filename) if not is_blank(cells)]
    if not rows:
        raise ParseError(filename, None, "empty file")
    if rows[0][1][0].strip().upper() in REPORT_RECORD_TYPES:
        return ParsedFile(records=_parse_report(rows, filename, options))
    delimiter = options.get("delimiter") or sniff_delimiter(text)
    if delimiter != ",":
        rows = [(line, cells) for line, cells in read_rows(text, delimiter, filename) if not is_blank(cells)]
    return ParsedFile(records=_parse_activity(rows, filename, options))


# ----------------------------------------------------------------------------------------- Transaction Search API


def _money(value: Any, file: str, row: int, what: str) -> tuple[str | None, str | None]:
    """A PayPal money object ``{"currency_code": "USD", "value": "-1.00"}`` -> (decimal text, currency)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ParseError(file, row, f"{what} is not a money object")
    amount = value.get("value")
    if not isinstance(amount, str | int) or isinstance(amount, bool) or not _AMOUNT_TEXT.fullmatch(str(amount)):
        raise ParseError(file, row, f"{what} value {amount!r} is not a number")
    currency = value.get("currency_code")
    if currency is not None and (not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency)):
        raise ParseError(file, row, f"{what} currency {currency!r} is not an ISO 4217 code")
    return decimal_text(str(amount), file, row), currency.upper() if currency else None


def _iso_day(value: Any, file: str, row: int, what: str, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ParseError(file, row, f"{what} is missing")
        return None
    try:
        return datetime.strptime(str(value)[:10], "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise ParseError(file, row, f"{what} {value!r} is not a valid date") from None


def _parse_api_json(data: bytes, file: str, options: Mapping[str, Any]) -> list[Record]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(file, None, f"JSON is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            file, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} (truncated?)"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("transaction_details"), list):
        raise ParseError(file, None, "not a PayPal Transaction Search response (no 'transaction_details' array)")
    account = options.get("account") or document.get("account_number")
    records = []
    for row, detail in enumerate(document["transaction_details"], start=1):
        info = detail.get("transaction_info") if isinstance(detail, dict) else None
        if not isinstance(info, dict):
            raise ParseError(file, row, "transaction_details entry has no 'transaction_info' object")
        payer = detail.get("payer_info") or {}
        if not isinstance(payer, dict):
            raise ParseError(file, row, "payer_info is not an object")
        amount, currency = _money(info.get("transaction_amount"), file, row, "transaction_amount")
        if amount is None:
            raise ParseError(file, row, "transaction_amount is missing")
        fee, _ = _money(info.get("fee_amount"), file, row, "fee_amount")
        balance, _ = _money(info.get("ending_balance"), file, row, "ending_balance")
        name = payer.get("payer_name") or {}
        full_name = (
            name.get("alternate_full_name")
            or " ".join(part for part in (name.get("given_name"), name.get("surname")) if part)
            if isinstance(name, dict)
            else None
        )
        net = decimal_text(Decimal(amount) + Decimal(fee), file, row) if fee is not None else None
        records.append(
            make_record(
                row,
                account=account,
                booked_date=_iso_day(
                    info.get("transaction_initiation_date"), file, row, "transaction_initiation_date", True
                ),
                amount=amount,
                currency=currency,
                description=clean_text(info.get("transaction_subject") or info.get("transaction_note")),
                counterparty=clean_text(full_name or payer.get("email_address")),
                reference=clean_text(info.get("invoice_id") or info.get("paypal_reference_id")),
                transaction_type=clean_text(info.get("transaction_event_code")),
                external_id=clean_text(info.get("transaction_id")),
                balance_after=balance,
                extra={
                    "fee": fee,
                    "net": net,
                    "status": clean_text(info.get("transaction_status")),
                    "updated_date": _iso_day(
                        info.get("transaction_updated_date"), file, row, "transaction_updated_date"
                    ),
                    "paypal_reference_id": clean_text(info.get("paypal_reference_id")),
                    "custom_field": clean_text(info.get("custom_field")),
                    "payer_email": clean_text(payer.get("email_address")),
                },
            )
        )
    return records


# ----------------------------------------------------------------------------------------- STL / TRR reports


def _report_amount(value: str, file: str, line: int, column: str) -> Decimal:
    if not re.fullmatch(r"\d+", value):
        raise ParseError(file, line, f"column {column!r}: amount {value!r} is not a whole number of hundredths")
    return Decimal(value).scaleb(-2)


def _sign(flag: str, file: str, line: int, column: str) -> int:
    if flag.upper() == "CR":
        return 1
    if flag.upper() == "DR":
        return -1
    raise ParseError(file, line, f"column {column!r}: {flag!r} is neither CR nor DR")


def _report_day(value: str, file: str, line: int, column: str) -> str | None:
    if not value:
        return None
    parsed = parse_date(value, "%Y/%m/%d")
    if parsed is None:
        raise ParseError(file, line, f"column {column!r}: {value!r} is not a valid date")
    return parsed.isoformat()


def _parse_report(rows: Sequence[tuple[int, list[str]]], file: str, options: Mapping[str, Any]) -> list[Record]:
    header: list[str] | None = None
    account = options.get("account")
    records = []
    for line, cells in rows:
        code = cells[0].strip().upper()
        if code not in REPORT_RECORD_TYPES:
            raise ParseError(file, line, f"unknown PayPal report record type {cells[0][:20]!r}")
        if code in ("RH", "SH") and not options.get("account"):
            account = next(
                (c.strip() for c in reversed(cells[1:]) if re.fullmatch(r"[A-Z0-9]{10,16}", c.strip())), account
            )
        if code == "CH":
            header = [cell.strip() for cell in cells[1:]]
            if "Subscription ID" in header and "Gross Transaction Amount" not in header:
                raise ParseError(file, line, "PayPal subscription agreement report (SAR): no money movements to load")
            missing = [name for name in _REPORT_REQUIRED if name not in header]
            if missing:
                raise ParseError(file, line, f"missing required column(s) {missing} in the CH header row")
        elif code == "SB":
            if header is None:
                raise ParseError(file, line, "SB data row before any CH header row")
            values = fit_width(line, [c for c in cells[1:]], header, {}, file)
            records.append(_report_record(line, dict(zip(unique_headers(header), values, strict=False)), account, file))
    return records


def _report_record(line: int, row: dict[str, str], account: str | None, file: str) -> Record:
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    gross = _report_amount(get("Gross Transaction Amount"), file, line, "Gross Transaction Amount")
    if gross:
        gross *= _sign(get("Transaction Debit or Credit"), file, line, "Transaction Debit or Credit")
    else:
        _sign(get("Transaction Debit or Credit"), file, line, "Transaction Debit or Credit")
    currency = get("Gross Transaction Currency").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ParseError(file, line, f"currency {currency!r} is not an ISO 4217 code")
    fee: Decimal | None = None
    if get("Fee Amount"):
        fee = _report_amount(get("Fee Amount"), file, line, "Fee Amount")
        sign = _sign(get("Fee Debit or Credit") or "DR", file, line, "Fee Debit or Credit")
        fee = fee * sign if fee else fee
    fee_currency = get("Fee Currency").upper() or currency
    booked = _report_day(get("Transaction Initiation Date"), file, line, "Transaction Initiation Date")
    if booked is None:
        raise ParseError(file, line, "column 'Transaction Initiation Date': date is empty")
    name = get("Consumer Business Name") or " ".join(p for p in (get("First Name"), get("Last Name")) if p)
    return make_record(
        line,
        account=account,
        booked_date=booked,
        amount=decimal_text(gross, file, line),
        currency=currency,
        description=clean_text(get("Transaction Subject") or get("Item Name") or get("Transaction Note")),
        counterparty=clean_text(name),
        reference=get("Invoice ID") or get("PayPal Reference ID") or None,
        transaction_type=get("Transaction Event Code") or None,
        external_id=get("Transaction ID") or None,
        extra={
            "fee": decimal_text(fee, file, line) if fee is not None else None,
            "fee_currency": fee_currency if fee is not None else None,
            "net": decimal_text(gross + fee, file, line) if fee is not None and fee_currency == currency else None,
            "completion_date": _report_day(
                get("Transaction Completion Date"), file, line, "Transaction Completion Date"
            ),
            "paypal_reference_id": get("PayPal Reference ID") or None,
            "paypal_reference_id_type": get("PayPal Reference ID Type") or None,
            "status": get("Transactional Status") or None,
            "custom_field": get("Custom Field") or None,
            "payer_email": get("Payer's Account ID") or None,
            "payment_source": get("Payment Source") or None,
        },
    )


# ----------------------------------------------------------------------------------------- activity / statement CSV


def _activity_columns(header: Sequence[str]) -> dict[str, int]:
    keys = [normalize_header(name) for name in header]
    found: dict[str, int] = {}
    for field_name, aliases in ACTIVITY_ALIASES.items():
        for alias in aliases:
            index = next((i for i, key in enumerate(keys) if key == alias and i not in found.values()), None)
            if index is not None:
                found[field_name] = index
                break
    return found


def _parse_activity(rows: Sequence[tuple[int, list[str]]], file: str, options: Mapping[str, Any]) -> list[Record]:
    header_line, header_cells = rows[0]
    header = [cell.strip() for cell in header_cells]
    columns = _activity_columns(header)
    missing = [name for name in ("date", "gross") if name not in columns]
    if missing:
        raise ParseError(
            file,
            header_line,
            f"missing required column(s) {missing}: not a PayPal activity/statement CSV (header {header[:6]})",
        )
    data_rows = [(line, fit_width(line, cells, header, columns, file)) for line, cells in rows[1:]]

    def values(field_name: str) -> list[tuple[int, str]]:
        if field_name not in columns:
            return []
        return [
            (line, cells[columns[field_name]].strip())
            for line, cells in data_rows
            if cells[columns[field_name]].strip()
        ]

    formats, configured = date_formats_option(options, file)
    date_format = choose_date_format(values("date"), formats, file, header[columns["date"]], configured)
    decimal = options.get("decimal") or detect_decimal(
        v for f in ("gross", "fee", "net", "balance") for _, v in values(f)
    )
    if decimal is None:
        raise ParseError(file, None, "amounts mix '.' and ',' as decimal separator; set the decimal option")
    raw_names = unique_headers(header)
    records = []
    for line, cells in data_rows:

        def cell(field_name: str, cells: list[str] = cells) -> str | None:
            return cells[columns[field_name]].strip() or None if field_name in columns else None

        def money(field_name: str, line: int = line) -> str | None:
            value = cell(field_name)
            if value is None:
                return None
            number = parse_amount(value, file, line, header[columns[field_name]], decimal)
            return decimal_text(number, file, line)

        day_text = cell("date")
        day = parse_date(day_text, date_format) if day_text and date_format else None
        if day is None:
            raise ParseError(file, line, f"column {header[columns['date']]!r}: date is empty")
        gross = money("gross")
        if gross is None:
            raise ParseError(file, line, f"column {header[columns['gross']]!r}: amount is empty")
        currency = (cell("currency") or options.get("currency") or "").upper() or None
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
            raise ParseError(file, line, f"currency {currency!r} is not an ISO 4217 code")
        records.append(
            make_record(
                line,
                account=options.get("account"),
                booked_date=day.isoformat(),
                amount=gross,
                currency=currency,
                description=clean_text(cell("subject") or cell("item_title") or cell("note") or cell("type")),
                counterparty=clean_text(cell("name")),
                reference=cell("invoice") or cell("reference_txn_id"),
                transaction_type=clean_text(cell("type")),
                external_id=cell("transaction_id"),
                balance_after=money("balance"),
                extra={
                    "fee": money("fee"),
                    "net": money("net"),
                    "status": cell("status"),
                    "time": cell("time"),
                    "timezone": cell("timezone"),
                    "reference_txn_id": cell("reference_txn_id"),
                    "receipt_id": cell("receipt_id"),
                    "from_email": cell("from_email"),
                    "to_email": cell("to_email"),
                    "raw": {name: cells[i] if i < len(cells) else "" for i, name in enumerate(raw_names)},
                },
            )
        )
    return records
