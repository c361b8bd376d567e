"""The simulator's data model: true transactions, the rows that render them, and fast text helpers.

Money is held in integer minor units (cents) everywhere: no Decimal on the hot path, no float rounding.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass
from datetime import date

from .catalog import CITIES, COMPANIES, VENDORS

ALNUM = string.ascii_uppercase + string.digits
ALNUM_MIXED = string.ascii_letters + string.digits


@dataclass(slots=True)
class Txn:
    """One real money movement (ground truth). ``cents`` is signed as the primary source books it (+ in, - out)."""

    txn_id: str
    day: date
    cents: int
    currency: str
    counterparty: str
    description: str
    category: str
    anomaly: str = ""
    group_id: str = ""  # payout / batch / payroll run / invoice the transaction belongs to
    # where the primary rendering landed (set when rendered)
    source: str = ""
    file: str = ""
    row: int = 0
    object_id: str = ""


@dataclass(slots=True)
class Line:
    """One row of one source's view of a transaction (a statement line, a ledger line, a report row).

    ``description`` is the text exactly as the project's parser reports it for this row.
    """

    txn: Txn
    cents: int
    booked: date
    description: str
    counterparty: str = ""
    reference: str = ""  # customer reference / end-to-end id / check number
    bank_ref: str = ""  # the bank's own unique reference (FITID, AcctSvcrRef, bank reference)
    code: str = ""  # kind of movement: ach, wire, card, check, fee, interest, transfer, sepa, dd, deposit
    role: str = "primary"  # primary | echo
    match_type: str = ""  # for an echo: the reconciliation match with the transaction's primary row
    doc_ref: str = ""  # document reference the ledger keeps (invoice, payout id...)
    account: str = ""  # the account the line belongs to (multi-account files)
    # where this row landed (set when rendered)
    source: str = ""
    file: str = ""
    row: int = 0
    object_id: str = ""
    link: Line | None = None  # a ledger line's bank line


def money(cents: int) -> str:
    """Signed plain decimal text: -123456 -> '-1234.56'.

    Float formatting is exact here: for |cents| < 2**50 the float nearest to cents/100 is within far less than
    half a cent of it, so rounding to two places gives back the exact decimal (and it is 3x faster than divmod)."""
    return f"{cents / 100:.2f}"


def money_abs(cents: int) -> str:
    return f"{(-cents if cents < 0 else cents) / 100:.2f}"


def money_thousands(cents: int) -> str:
    """Unsigned with thousands separators: 123456789 -> '1,234,567.89'."""
    return f"{(-cents if cents < 0 else cents) / 100:,.2f}"


def money_comma(cents: int) -> str:
    """Unsigned with a decimal comma, as MT940 writes amounts: 123456 -> '1234,56'."""
    cents = -cents if cents < 0 else cents
    return f"{cents // 100},{cents % 100:02d}"


def log_uniform_cents(rng: random.Random, low: float, high: float) -> int:
    """Many small, few large, as real spend is."""
    value = low * (high / low) ** rng.random()
    return max(1, int(value * 100 + 0.5))


_B64_TO_ALNUM = bytes.maketrans(b"+/=", b"xyz")
_B64_TO_UPPER = bytes.maketrans(b"+/=", b"XYZ")


def code(rng: random.Random, k: int, alphabet: str = ALNUM) -> str:
    """``k`` random characters: upper-case letters and digits (``ALNUM``) or mixed-case (``ALNUM_MIXED``).

    Drawn from ``getrandbits`` through base64 (both C speed); deterministic for a seeded ``rng``."""
    size = (k * 3 + 3) // 4
    raw = base64.b64encode(rng.getrandbits(size * 8).to_bytes(size, "little"))  # = rng.randbytes(size)
    if alphabet is ALNUM_MIXED:
        return raw.translate(_B64_TO_ALNUM)[:k].decode()
    return raw.upper().translate(_B64_TO_UPPER)[:k].decode()


_DIGIT_BITS = {k: (10**k).bit_length() + 8 for k in range(1, 20)}


def digits(rng: random.Random, k: int) -> str:
    """``k`` random decimal digits."""
    return str(rng.getrandbits(_DIGIT_BITS[k]) % 10**k).zfill(k)


class Template:
    """A descriptor template compiled once: ``{n4}`` digits, ``{a6}`` letters+digits, ``{mmdd}``, ``{city}``,
    ``{company}``, ``{vendor}``; filled per use with no parsing."""

    __slots__ = ("parts",)

    def __init__(self, text: str) -> None:
        parts: list[tuple[str, int | str]] = []
        rest = text
        while "{" in rest:
            start = rest.index("{")
            end = rest.index("}", start)
            if start:
                parts.append(("lit", rest[:start]))
            key = rest[start + 1 : end]
            if key in ("mmdd", "city", "company", "vendor"):
                parts.append((key, 0))
            elif key[0] in "na" and key[1:].isdigit():
                parts.append((key[0], int(key[1:])))
            else:
                raise ValueError(f"unknown placeholder {{{key}}} in {text!r}")
            rest = rest[end + 1 :]
        if rest:
            parts.append(("lit", rest))
        self.parts = tuple(parts)

    def fill(self, rng: random.Random, day: date) -> str:
        out: list[str] = []
        for kind, value in self.parts:
            if kind == "lit":
                out.append(value)  # type: ignore[arg-type]
            elif kind == "n":
                out.append(digits(rng, value))  # type: ignore[arg-type]
            elif kind == "a":
                out.append(code(rng, value))  # type: ignore[arg-type]
            elif kind == "mmdd":
                out.append(f"{day.month:02d}{day.day:02d}")
            else:
                options = CITIES if kind == "city" else COMPANIES if kind == "company" else VENDORS
                out.append(options[int(rng.random() * len(options))])
        return "".join(out)


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces, as the parsers report descriptions."""
    return " ".join(text.split())


def pick(rng: random.Random, options):  # noqa: ANN001, ANN201 - any sequence
    """``rng.choice`` without its bounds bookkeeping (about 4x faster; fine for simulation)."""
    return options[int(rng.random() * len(options))]


def between(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint`` (both ends included) without its argument checks."""
    return low + int(rng.random() * (high - low + 1))
