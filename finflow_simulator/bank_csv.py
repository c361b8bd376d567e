"""Render the operating bank's daily CSV export (Date, Description, Debit, Credit, Balance).

Quirks as the bank's export has them: CRLF line ends, ``MM/DD/YYYY`` dates, thousands separators, a negative
balance in parentheses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .model import Line, money_thousands

HEADER = ("Date", "Description", "Debit", "Credit", "Balance")


def _balance(cents: int) -> str:
    return f"({money_thousands(cents)})" if cents < 0 else money_thousands(cents)


def render_bank_csv(lines: Sequence[Line], opening: int, *, quote_all: bool = False) -> tuple[bytes, list[int], int]:
    """The file bytes, the row (physical line) of each line as the parser reports it, and the closing balance."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    balance = opening
    rows = []
    row = 1
    for line in lines:
        balance += line.cents
        cents = line.cents
        debit = money_thousands(cents) if cents < 0 else ""
        credit = money_thousands(cents) if cents >= 0 else ""
        day = line.booked
        writer.writerow(
            (f"{day.month:02d}/{day.day:02d}/{day.year}", line.description, debit, credit, _balance(balance))
        )
        row += 1
        rows.append(row)
    return buffer.getvalue().encode("utf-8"), rows, balance
