"""Render transactions as the operating bank's daily CSV export (Date, Description, Debit, Credit, Balance)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal

from .company import TrueTransaction

HEADER = ("Date", "Description", "Debit", "Credit", "Balance")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"  # thousands separators, as the bank's export has them


def render_bank_csv(transactions: Sequence[TrueTransaction], opening_balance: Decimal) -> tuple[bytes, Decimal]:
    """The file bytes and the closing balance; rows map 1:1 to ``transactions`` (row n+1 is transaction n)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    balance = opening_balance
    for txn in transactions:
        balance += txn.amount
        debit = _money(-txn.amount) if txn.amount < 0 else ""
        credit = _money(txn.amount) if txn.amount > 0 else ""
        writer.writerow((f"{txn.booked_date:%m/%d/%Y}", txn.description, debit, credit, _money(balance)))
    return buffer.getvalue().encode("utf-8"), balance
