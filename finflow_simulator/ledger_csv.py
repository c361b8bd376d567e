"""Render the payroll run register and the ERP general-ledger export (CSV, columns as the registry maps them).

* Payroll: ``run_id,line_id,pay_date,employee_id,employee_name,description,net_pay,currency``; net pay positive
  with thousands separators (the parser negates: net pay leaves the payroll account); UTF-8 with a BOM, as the
  payroll provider's Excel-friendly export has it.
* ERP GL: ``line_id,journal_id,posting_date,account_code,account_name,category,description,counterparty,amount,
  currency,document_ref``; amount signed from the cash side (+ in, - out), plain decimals; UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .model import money_thousands

PAYROLL_HEADER = (
    "run_id",
    "line_id",
    "pay_date",
    "employee_id",
    "employee_name",
    "description",
    "net_pay",
    "currency",
)
GL_HEADER = (
    "line_id",
    "journal_id",
    "posting_date",
    "account_code",
    "account_name",
    "category",
    "description",
    "counterparty",
    "amount",
    "currency",
    "document_ref",
)


def render_payroll(lines: Iterable[tuple], *, quote_all: bool = False) -> tuple[bytes, list[int]]:
    """``lines``: (run_id, line_id, pay_date, employee_id, employee_name, description, net_cents, currency)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(PAYROLL_HEADER)
    rows = []
    for number, (run_id, line_id, pay_date, employee_id, name, description, cents, currency) in enumerate(
        lines, start=2
    ):
        rows.append(number)
        writer.writerow(
            (run_id, line_id, pay_date.isoformat(), employee_id, name, description, money_thousands(cents), currency)
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), rows


def render_gl(lines: Iterable[tuple], *, quote_all: bool = False) -> tuple[bytes, list[int]]:
    """``lines``: the GL_HEADER fields as text (dates ISO, amounts signed decimals); row n+2 is line n."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(GL_HEADER)
    lines = list(lines)
    writer.writerows(lines)
    return buffer.getvalue().encode("utf-8"), list(range(2, len(lines) + 2))


def gl_text(lines: list[str]) -> bytes:
    """The GL export from rows already written as CSV text (each ending in a newline): the fast path."""
    return (",".join(GL_HEADER) + "\n" + "".join(lines)).encode("utf-8")
