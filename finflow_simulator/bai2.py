"""Render BAI2 cash-management files for the receivables lockbox (one group, one ``03`` per account).

Records end with ``/``; ``03`` carries the opening (010) and closing (015) ledger and the total credits (100) and
debits (400) with item counts; ``16`` details are unsigned minor units signed by the type code (115 lockbox
deposit, 698 miscellaneous fee...); ``49``/``98``/``99`` carry the control totals and record counts the spec
asks for. One record per line, so the parser's ``row`` is the line of the ``16`` record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .statement import AccountDay

_TYPE_CODES = {"check": "115", "deposit": "301", "transfer_in": "275", "fee": "698", "transfer": "495"}


def _type_code(code: str, credit: bool) -> str:
    if code == "transfer":
        return "275" if credit else "495"
    default = "399" if credit else "699"
    found = _TYPE_CODES.get(code, default)
    # a credit code on a debit (or the other way round) would flip the parsed sign
    return found if (int(found) < 400) == credit else default


def render_bai2(
    statements: Sequence[AccountDay], *, created: datetime, sender: str, receiver: str, file_id: str
) -> tuple[bytes, list[int]]:
    """The BAI2 file bytes and each line's row (the physical line of its ``16`` record)."""
    day = statements[0].day if statements else created.date()
    out = [f"01,{sender},{receiver},{created:%y%m%d},{created:%H%M},{file_id},,,2/"]
    out.append(f"02,{receiver},{sender},1,{day:%y%m%d},2400,USD,2/")
    rows: list[int] = []
    group_total = 0
    group_records = 1  # the 02
    for statement in statements:
        credits = [line for line in statement.lines if line.cents > 0]
        debits = [line for line in statement.lines if line.cents < 0]
        credit_total, debit_total = statement.credits, statement.debits
        out.append(
            f"03,{statement.account},{statement.currency},010,{statement.opening},,,015,{statement.closing},,,"
            f"100,{credit_total},{len(credits)},,400,{debit_total},{len(debits)},/"
        )
        control = statement.opening + statement.closing + credit_total + debit_total
        for line in statement.lines:
            rows.append(len(out) + 1)
            amount = -line.cents if line.cents < 0 else line.cents
            control += amount
            code = _type_code(line.code, line.cents > 0)
            out.append(f"16,{code},{amount},0,{line.bank_ref},{line.reference},{line.description}/")
        records = len(statement.lines) + 2  # 03 + 16s + 49
        out.append(f"49,{control},{records}/")
        group_total += control
        group_records += records
    group_records += 1  # the 98
    out.append(f"98,{group_total},{len(statements)},{group_records}/")
    out.append(f"99,{group_total},1,{group_records + 2}/")
    return ("\n".join(out) + "\n").encode("ascii", errors="replace"), rows
