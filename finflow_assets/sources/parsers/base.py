"""The contract every source-format parser fulfils.

A parser turns the bytes of one delivered file (or one API page) into canonical records. It decodes the
*format* (encodings, sign conventions, date styles, statement structure) but does not categorize, dedupe or
validate business rules: that is dbt's job. A file is landed atomically, so any row a parser cannot read
raises :class:`ParseError` naming the file, the row and the problem, and the whole file is quarantined.

Canonical record (a plain ``dict``; every value is a ``str`` or ``None`` unless noted):

==================  ================================================================================
``row``             ``int``: 1-based line (or element/object index) in the file where the record starts
``account``         account identifier as the file gives it (IBAN, account number, merchant account)
``booked_date``     ``YYYY-MM-DD``
``value_date``      ``YYYY-MM-DD`` or None
``amount``          signed decimal text, ``+`` money in / ``-`` money out, e.g. ``"-1234.56"``
``currency``        ISO 4217 code or None when the file does not say
``description``     free text as given (memo, :86:, remittance info), whitespace collapsed
``counterparty``    payee / payer name or None
``reference``       invoice no., payout id, end-to-end id, check number … or None
``transaction_type`` the source's own type code (``charge``, ``payout``, ``NTRF``, BAI2 ``165``, ``DEBIT``…)
``external_id``     the source's own unique id for the transaction (FITID, Stripe ``txn_…``) or None
``balance_after``   running balance after this transaction if the file gives one, else None
``statement_id``    id of the statement the record belongs to, or None
``extra``           ``dict[str, str | None]``: other source-specific fields worth keeping (fee, net, payout id…)
==================  ================================================================================

Statement summary (``ParsedFile.statements``), for balance-continuity rules: ``statement_id``, ``account``,
``currency``, ``opening_balance``, ``closing_balance``, ``opening_date``, ``closing_date`` (same text conventions).

Lenient where the meaning is clear, strict where money is at stake: a known deviation of real banks from the
format's spec that leaves every amount, sign and date unambiguous (a missing closing balance, a summary footer,
an extra empty field) is read and described in ``ParsedFile.warnings`` for the load journal; anything that could
change money (an unreadable amount, a truncated file, a count or control total that does not add up) raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Record = dict[str, Any]

RECORD_FIELDS = (
    "row",
    "account",
    "booked_date",
    "value_date",
    "amount",
    "currency",
    "description",
    "counterparty",
    "reference",
    "transaction_type",
    "external_id",
    "balance_after",
    "statement_id",
    "extra",
)


class ParseError(ValueError):
    """A file (or API page) that cannot be read, with where and why."""

    def __init__(self, file: str, row: int | None, problem: str) -> None:
        self.file = file
        self.row = row
        self.problem = problem
        where = f"row {row}" if row is not None else "file"
        super().__init__(f"{file}: {where}: {problem}")


@dataclass
class ParsedFile:
    """What a parser returns: the transactions, for statement formats the statement balances, and warnings about
    harmless deviations it read past (journaled with the delivery)."""

    records: list[Record] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    # accepted deviations from the format's spec, one line each ("row 3: ..."), for the load journal
    warnings: list[str] = field(default_factory=list)

    # problem -> (index in warnings, first line, times seen); repeats of one problem share one line
    _kinds: dict[str, tuple[int, str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def warn(self, row: int | None, problem: str) -> None:
        """Record an accepted deviation; a repeat of the same problem only counts, so a file gives one line each."""
        if problem in self._kinds:
            index, first, seen = self._kinds[problem]
            self._kinds[problem] = (index, first, seen + 1)
            self.warnings[index] = f"{first} (and {seen} more)"
            return
        first = f"row {row}: {problem}" if row is not None else problem
        self._kinds[problem] = (len(self.warnings), first, 1)
        self.warnings.append(first)


# A parser: (file bytes, file name for messages, per-source options) -> ParsedFile
Parser = Callable[[bytes, str, Mapping[str, Any]], ParsedFile]


def make_record(row: int, **values: Any) -> Record:
    """A canonical record with every field present (missing ones None, ``extra`` a dict)."""
    unknown = set(values) - set(RECORD_FIELDS)
    if unknown:
        raise TypeError(f"unknown record fields: {sorted(unknown)}")
    record: Record = {name: None for name in RECORD_FIELDS}
    record["extra"] = {}
    record.update(values)
    record["row"] = row
    return record


def decimal_text(value: Decimal | str | int | float, file: str, row: int | None) -> str:
    """Normalize an amount to plain decimal text, raising ParseError for anything that is not a finite number."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ParseError(file, row, f"amount {value!r} is not a number") from None
    if not number.is_finite():
        raise ParseError(file, row, f"amount {value!r} is not a finite number")
    return format(number, "f")


# Longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def sniff_unicode(data: bytes) -> str | None:
    """The codec of text in UTF-16 or UTF-32 (by its byte-order mark, or without one by where mostly-ASCII text puts
    its zero bytes) or UTF-8 with a BOM; None for anything else (UTF-8 or an 8-bit code page)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    sample = data[:4096]
    size = len(sample) - len(sample) % 4
    if size < 4:
        return None
    sample = sample[:size]
    columns = [sample[i::4].count(0) / (size // 4) for i in range(4)]
    if columns[1] > 0.9 and columns[2] > 0.9 and columns[3] > 0.9 and columns[0] < 0.1:
        return "utf-32-le"
    if columns[0] > 0.9 and columns[1] > 0.9 and columns[2] > 0.9 and columns[3] < 0.1:
        return "utf-32-be"
    even = (columns[0] + columns[2]) / 2
    odd = (columns[1] + columns[3]) / 2
    if odd > 0.6 and even < 0.1:
        return "utf-16-le"
    if even > 0.6 and odd < 0.1:
        return "utf-16-be"
    return None


def decode_unicode(data: bytes, file: str) -> str | None:
    """The text of a UTF-16/32 (or UTF-8 with BOM) file, its BOM dropped; None when the bytes are not one of those.
    Raises ParseError naming the encoding when the bytes look like it but do not decode."""
    codec = sniff_unicode(data)
    if codec is None:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ParseError(file, None, f"unreadable {codec.upper()} text (byte {exc.start}): {exc.reason}") from None
    return text.removeprefix("\ufeff")
