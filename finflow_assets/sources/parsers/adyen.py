"""Adyen Settlement details report (and Payments accounting report) CSV -> canonical records.

Adyen's column sets are versioned and merchant-configurable (30 vs 49 columns in the fixtures, reordered columns),
so every column is found by its header name, never by position.

Settlement details: ``amount = Gross Credit (GC) - Gross Debit (GC)`` in ``Gross Currency``. Balance-account lines
that carry no gross amount (Fee, MerchantPayout, InvoiceDeduction, DepositCorrection...) are booked in the net
currency only, so for them ``amount = Net Credit (NC) - Net Debit (NC)`` in ``Net Currency`` (``extra["amount_basis"]``
says which). Commission, markup, scheme fees, interchange and the net amount go to ``extra``.
``reference`` = Merchant Reference; ``transaction_type`` = Type; ``external_id`` = Psp Reference, Type and
Modification Reference joined by ``:`` (whichever are present; a fee or payout line has no PSP reference, and one
payment can have several modifications of the same type); ``booked_date`` = Creation Date as written (in the
report's TimeZone).

Payments accounting report (has a ``Record Type`` column): ``amount = Payable (SC)`` in Settlement Currency when
present (signed by Adyen); records without a payable amount (Received, Authorised...) use ``Main Amount`` in
Main Currency, negated for refund / chargeback record types; ``booked_date`` = Booking Date.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .bank_csv import clean_text, decode_text, fit_width, is_blank, parse_amount, parse_date, read_rows, unique_headers
from .base import ParsedFile, ParseError, Record, decimal_text, make_record

SETTLEMENT_REQUIRED = (
    "Merchant Account",
    "Creation Date",
    "Type",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
)
ACCOUNTING_REQUIRED = ("Merchant Account", "Booking Date", "Record Type", "Main Currency", "Main Amount")
_SETTLEMENT_FEES = {
    "commission": "Commission (NC)",
    "markup": "Markup (NC)",
    "scheme_fees": "Scheme Fees (NC)",
    "interchange": "Interchange (NC)",
    "payment_fees": "Payment Fees (NC)",
    "dcc_markup": "DCC Markup (NC)",
    "gross_fees": "Gross Fees (NC)",
}
_ACCOUNTING_FEES = {
    "commission": "Commission (SC)",
    "markup": "Markup (SC)",
    "scheme_fees": "Scheme Fees (SC)",
    "interchange": "Interchange (SC)",
    "processing_fee": "Processing Fee (FC)",
}
_DEBIT_RECORD_TYPES = frozenset(
    {"Refunded", "RefundedExternally", "Chargeback", "ChargebackExternally", "SecondChargeback", "PaidOut"}
)


class _Row:
    """One data row addressed by header name, with typed accessors that raise ParseError naming row and column."""

    def __init__(self, file: str, line: int, values: Mapping[str, str]) -> None:
        self.file, self.line, self.values = file, line, values

    def text(self, column: str) -> str | None:
        return (self.values.get(column) or "").strip() or None

    def amount(self, column: str) -> Decimal | None:
        value = self.text(column)
        return parse_amount(value, self.file, self.line, column) if value is not None else None

    def money(self, column: str) -> str | None:
        value = self.amount(column)
        return decimal_text(value, self.file, self.line) if value is not None else None

    def day(self, column: str, required: bool = False) -> str | None:
        value = self.text(column)
        if value is None:
            if required:
                raise ParseError(self.file, self.line, f"column {column!r}: date is empty")
            return None
        parsed = parse_date(value, "%Y-%m-%d")
        if parsed is None:
            raise ParseError(self.file, self.line, f"column {column!r}: {value!r} is not a valid date")
        return parsed.isoformat()

    def currency(self, column: str) -> str | None:
        value = self.text(column)
        if value is not None and not (len(value) == 3 and value.isalpha()):
            raise ParseError(self.file, self.line, f"column {column!r}: {value!r} is not an ISO 4217 code")
        return value.upper() if value else None


def parse_adyen_settlement_csv(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse an Adyen Settlement details or Payments accounting report."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    rows = [
        (line, cells) for line, cells in read_rows(decode_text(data, filename), ",", filename) if not is_blank(cells)
    ]
    if not rows:
        raise ParseError(filename, None, "empty file")
    header_line, header_cells = rows[0]
    header = unique_headers(header_cells)
    accounting = "Record Type" in header
    required = ACCOUNTING_REQUIRED if accounting else SETTLEMENT_REQUIRED
    missing = [name for name in required if name not in header]
    if missing:
        kind = "Payments accounting" if accounting else "Settlement details"
        raise ParseError(filename, header_line, f"missing required column(s) {missing} for an Adyen {kind} report")
    build = _accounting_record if accounting else _settlement_record
    records = []
    for line, cells in rows[1:]:
        values = dict(zip(header, fit_width(line, cells, header, {}, filename), strict=False))
        records.append(build(_Row(filename, line, values)))
    return ParsedFile(records=records)


def _external_id(*parts: str | None) -> str | None:
    joined = ":".join(part for part in parts if part)
    return joined or None


def _fees(row: _Row, columns: Mapping[str, str]) -> dict[str, str | None]:
    return {key: row.money(column) for key, column in columns.items() if column in row.values}


def _net(debit: Decimal | None, credit: Decimal | None) -> Decimal | None:
    if debit is None and credit is None:
        return None
    return (credit or Decimal(0)) - (debit or Decimal(0))


def _settlement_record(row: _Row) -> Record:
    gross = _net(row.amount("Gross Debit (GC)"), row.amount("Gross Credit (GC)"))
    net = _net(row.amount("Net Debit (NC)"), row.amount("Net Credit (NC)"))
    if gross is not None:
        amount, currency, basis = gross, row.currency("Gross Currency"), "gross"
    elif net is not None:
        amount, currency, basis = net, row.currency("Net Currency"), "net"
    else:
        raise ParseError(row.file, row.line, "no gross or net debit/credit amount in this row")
    psp = row.text("Psp Reference")
    kind = row.text("Type")
    if kind is None:
        raise ParseError(row.file, row.line, "column 'Type' is empty")
    modification = row.text("Modification Reference")
    return make_record(
        row.line,
        account=row.text("Merchant Account"),
        booked_date=row.day("Creation Date", required=True),
        amount=decimal_text(amount, row.file, row.line),
        currency=currency,
        description=clean_text(modification) if psp is None else None,
        reference=row.text("Merchant Reference") or row.text("Modification Merchant Reference"),
        transaction_type=kind,
        external_id=_external_id(psp, kind, modification),
        extra={
            "amount_basis": basis,
            "net": decimal_text(net, row.file, row.line) if net is not None else None,
            "net_currency": row.currency("Net Currency"),
            "exchange_rate": row.text("Exchange Rate"),
            **_fees(row, _SETTLEMENT_FEES),
            "psp_reference": psp,
            "modification_reference": modification,
            "modification_merchant_reference": row.text("Modification Merchant Reference"),
            "payment_method": row.text("Payment Method"),
            "payment_method_variant": row.text("Payment Method Variant"),
            "batch_number": row.text("Batch Number"),
            "company_account": row.text("Company Account"),
            "timezone": row.text("TimeZone"),
            "booking_date": row.day("Booking Date"),
        },
    )


def _accounting_record(row: _Row) -> Record:
    kind = row.text("Record Type")
    if kind is None:
        raise ParseError(row.file, row.line, "column 'Record Type' is empty")
    payable = row.amount("Payable (SC)") if "Payable (SC)" in row.values else None
    if payable is not None:
        amount, currency, basis = payable, row.currency("Settlement Currency"), "payable"
    else:
        main = row.amount("Main Amount")
        if main is None:
            raise ParseError(row.file, row.line, "no Payable (SC) or Main Amount in this row")
        amount = -abs(main) if kind in _DEBIT_RECORD_TYPES and main else main
        currency, basis = row.currency("Main Currency"), "main_amount"
    psp = row.text("Psp Reference")
    return make_record(
        row.line,
        account=row.text("Merchant Account"),
        booked_date=row.day("Booking Date", required=True),
        amount=decimal_text(amount, row.file, row.line),
        currency=currency,
        reference=row.text("Merchant Reference"),
        transaction_type=kind,
        external_id=_external_id(psp, kind, row.text("Modification Psp Reference")),
        extra={
            "amount_basis": basis,
            "main_amount": row.money("Main Amount"),
            "main_currency": row.currency("Main Currency"),
            "payment_currency": row.currency("Payment Currency") if "Payment Currency" in row.values else None,
            "exchange_rate": row.text("Exchange Rate"),
            **_fees(row, _ACCOUNTING_FEES),
            "psp_reference": psp,
            "modification_psp_reference": row.text("Modification Psp Reference"),
            "payment_method": row.text("Payment Method"),
            "payment_method_variant": row.text("Payment Method Variant"),
            "company_account": row.text("Company Account"),
            "timezone": row.text("TimeZone"),
        },
    )
