"""Render SWIFT MT940 customer statements, one message per account, as a German bank delivers them over SFTP.

Each message sits in a SWIFT envelope (``{1:..}{2:..}{4:`` ... ``-}``); statement lines are
``:61:YYMMDDMMDD[C|D]amount NTRFcustomer-ref//bank-ref`` and the ``:86:`` details use the ``/EREF/ /NAME/ /REMI/``
structure, wrapped at 65 characters (never after a space, so the parser's re-joined text equals the original).
The file is latin-1 (umlauts in names), with CRLF line ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .model import Line, money_comma
from .statement import AccountDay

WIDTH = 65


def details(*, eref: str = "", name: str = "", remittance: str = "", direction_in: bool) -> str:
    """The structured ``:86:`` text for a SEPA line (what the parser reports as the description)."""
    parts = []
    if eref:
        parts.append(f"/EREF/{eref}")
    if name:
        parts.append(f"/{'ORDP' if direction_in else 'BENM'}//NAME/{name}")
    if remittance:
        parts.append(f"/REMI/{remittance}")
    return " ".join("".join(parts).split())


def _wrap(text: str) -> list[str]:
    """65-character lines; a chunk never ends with a space (the parser strips line ends before re-joining)."""
    chunks: list[str] = []
    while len(text) > WIDTH:
        cut = WIDTH
        while cut > 1 and text[cut - 1] == " ":
            cut -= 1
        chunks.append(text[:cut])
        text = text[cut:]
    chunks.append(text)
    return chunks


def _balance(tag: str, cents: int, day_text: str, currency: str) -> str:
    return f":{tag}:{'D' if cents < 0 else 'C'}{day_text}{currency}{money_comma(cents)}"


def _statement_line(line: Line) -> str:
    day = line.booked
    mark = "D" if line.cents < 0 else "C"
    kind = {"dd": "NDDT", "fee": "NCHG", "transfer": "NTRF", "interest": "NINT"}.get(line.code, "NTRF")
    customer = (line.reference or "NONREF")[:16]
    return f":61:{day:%y%m%d}{day:%m%d}{mark}{money_comma(line.cents)}{kind}{customer}//{line.bank_ref[:16]}"


def render_mt940(
    statements: Sequence[AccountDay], *, created: datetime, bic: str = "COBADEFFXXX"
) -> tuple[bytes, list[int]]:
    """One file with a message per account; returns the bytes and each line's row (the ``:61:`` line)."""
    out: list[str] = []
    rows: list[int] = []
    for statement in statements:
        day_text = f"{statement.day:%y%m%d}"
        reference = f"STM{statement.day:%y%m%d}{statement.sequence:05d}"[:16]  # :20: is at most 16 characters
        out.append(
            f"{{1:F01{bic[:8]}AXXX0000000000}}{{2:O940{created:%H%M%y%m%d}{bic[:8]}AXXX0000000000{day_text}{created:%H%M}N}}{{4:"
        )
        out += [
            f":20:{reference}",
            f":25:{statement.account}",
            f":28C:{statement.sequence:05d}/001",
            _balance("60F", statement.opening, day_text, statement.currency),
        ]
        for line in statement.lines:
            rows.append(len(out) + 1)
            out.append(_statement_line(line))
            wrapped = _wrap(line.description)
            out.append(f":86:{wrapped[0]}")
            out += wrapped[1:]
        out.append(_balance("62F", statement.closing, day_text, statement.currency))
        out.append(_balance("64", statement.closing, day_text, statement.currency))
        out.append("-}")
    out.append("")
    return "\r\n".join(out).encode("latin-1", errors="replace"), rows
