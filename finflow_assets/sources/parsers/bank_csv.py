"""Configurable reader for bank / wallet CSV exports (also reused, with explicit ``columns``, for payroll and ERP CSVs).

Every bank invents its own CSV, so the reader is driven by options and otherwise auto-detects, *per file*:

``encoding``      default: UTF-8 (BOM stripped), else cp1252, else latin-1
``delimiter``     default: sniffed among ``,`` ``;`` tab ``|``
``skip_rows``     physical lines before the header (default: the header row is found by its column names among
                  the first 60 rows, so metadata/preamble lines need no option)
``has_header``    default true; without a header ``columns`` must give 0-based indexes
``columns``       canonical field -> header name or 0-based index (``None`` = the file has no such column).
                  Fields: date, value_date, description, counterparty, reference, amount, debit, credit, balance,
                  currency, account, type, external_id, and ``sign`` (a debit/credit indicator column such as
                  ING's "Af Bij" or Knab's "CreditDebet"). Fields not given are matched by common header names.
``date_format``   strptime format or list of formats. One format is chosen per column for the whole file: the one
                  under which every row parses. dd/mm vs mm/dd that the data cannot decide is an error unless
                  configured (a guess would silently swap day and month).
``decimal``       "." or ","; default: decided per file from all amount cells (``1.234,56`` vs ``1,234.56``)
``thousands``     thousands separator; default: the other of "." / "," plus space and apostrophe
``negate``        flip every sign (credit-card exports that show purchases as positive)
``currency``      default currency when the file has no currency column
``account``       default account when the file has no account column
``skip_footer``   true: skip summary/footer rows (date cell empty or not date-shaped), e.g. Venmo/Fidelity
                  disclaimers; an int N: drop the last N non-blank rows; false: no row is ever skipped. Not set:
                  summary rows before the first and after the last dated row are skipped with a warning when the
                  meaning is clear: no amount at all (disclaimers, "Date downloaded", a user-name line) or a
                  balance/total label in the date cell ("Balance at start of period"). Any other row without a
                  date, and every such row between dated rows, is a ParseError (it could be a lost transaction).
``debit_values`` / ``credit_values``  override the words a ``sign`` column uses.

Rows are checked against the header width (a short row is a truncation error). A header without rows is an empty
export and gives no records. Unknown option names are a ParseError (a typo must not silently change parsing).
Amounts accept a leading/trailing sign, ``(1,234.56)``, ``123.45-``, ``CR``/``DR`` suffixes, currency symbols and
codes, and thousands separators. A debit column is money out whatever sign the bank wrote in it.
``extra["raw"]`` keeps the row as received (header -> cell; duplicate headers get ``.1``, ``.2``; without a header
the keys are the 0-based column indexes).

The helpers (:func:`decode_text`, :func:`read_rows`, :func:`parse_amount`, :func:`detect_decimal`,
:func:`choose_date_format`, :func:`parse_date`) are shared with the PayPal and Adyen parsers.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import ParsedFile, ParseError, Record, decimal_text, decode_unicode, make_record

DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y%m%d",
    "%d.%m.%y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%m-%y",
)

OPTION_KEYS = frozenset(
    {
        "encoding",
        "delimiter",
        "skip_rows",
        "has_header",
        "columns",
        "date_format",
        "decimal",
        "thousands",
        "negate",
        "currency",
        "account",
        "skip_footer",
        "debit_values",
        "credit_values",
    }
)

FIELDS = (
    "date",
    "value_date",
    "description",
    "counterparty",
    "reference",
    "amount",
    "debit",
    "credit",
    "balance",
    "currency",
    "account",
    "type",
    "external_id",
    "sign",
)

# Header names per field, most specific first; matched case-insensitively after normalising spaces/underscores,
# and also with a trailing "(...)" removed ("Bedrag (EUR)", "Amount ($)").
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": (
        "booking date",
        "buchungstag",
        "buchungsdatum",
        "buchung",
        "boekdatum",
        "boekingsdatum",
        "posting date",
        "posted date",
        "date",
        "datum",
        "transaction date",
        "transactiedatum",
        "trans date",
        "run date",
        "datetime",
        "fecha",
        "date operation",
        "date opération",
        "data",
    ),
    "value_date": (
        "value date",
        "valutadatum",
        "valuta date",
        "valutadate",
        "wertstellung",
        "wertstellungsdatum",
        "rentedatum",
        "settlement date",
        "fecha valor",
        "date valeur",
    ),
    "description": (
        "description",
        "transaction description",
        "verwendungszweck",
        "omschrijving",
        "mededelingen",
        "memo",
        "details",
        "narrative",
        "particulars",
        "label",
        "libellé",
        "libelle",
        "remarque",
        "concepto",
        "note",
        "naam / omschrijving",
    ),
    "counterparty": (
        "counterparty",
        "payee",
        "name",
        "beneficiary",
        "auftraggeber/empfänger",
        "beguenstigter/zahlungspflichtiger",
        "begünstigter/zahlungspflichtiger",
        "tegenrekeninghouder",
        "naam tegenpartij",
        "naam / omschrijving",
        "partner name",
        "merchantname",
        "merchant name",
        "merchant",
        "naam",
        "nom",
    ),
    "reference": (
        "reference",
        "referentie",
        "ref",
        "ref #",
        "ref.",
        "check or slip #",
        "checknumber",
        "check number",
        "kundenreferenz (end-to-end)",
        "betalingskenmerk",
        "operation number",
        "referencia",
    ),
    "amount": (
        "amount",
        "transaction amount",
        "amount (total)",
        "betrag",
        "bedrag",
        "montant",
        "importe",
        "umsatz",
    ),
    "debit": ("debit", "debit amount", "withdrawal", "withdrawals", "paid out", "money out", "soll", "débit", "debe"),
    "credit": ("credit", "credit amount", "deposit", "deposits", "paid in", "money in", "haben", "crédit", "haber"),
    "balance": (
        "balance",
        "running balance",
        "runningbalance",
        "current balance",
        "balance after",
        "saldo",
        "solde",
        "kontostand",
    ),
    "currency": ("currency", "currency code", "ccy", "währung", "waehrung", "valutacode", "munt", "devise", "divisa"),
    "account": ("account", "account number", "rekening", "rekeningnummer", "auftragskonto", "iban", "cardid"),
    "type": (
        "type",
        "transaction type",
        "buchungstext",
        "mutatiesoort",
        "code",
        "betaalwijze",
        "transaktionstyp",
    ),
    "external_id": ("id", "transaction id", "transactionid", "fitid"),
    "sign": (
        "af bij",
        "af/bij",
        "creditdebet",
        "credit/debet",
        "debet/credit",
        "d/c",
        "c/d",
        "dc",
        "debit/credit",
        "credit/debit",
        "dr/cr",
        "cr/dr",
        "soll/haben",
        "s/h",
    ),
}

DEBIT_WORDS = frozenset({"d", "dr", "debit", "debet", "af", "s", "soll", "-", "db", "out", "withdrawal"})
CREDIT_WORDS = frozenset({"c", "cr", "credit", "bij", "h", "haben", "+", "in", "deposit"})

_DELIMITERS = (",", ";", "\t", "|")
_CURRENCY_SYMBOLS = "$€£¥₹₩₪₽₺"
_MINUS = "-\u2212\u2013"
_TIME_SUFFIX = re.compile(
    r"^(?P<date>\S+?)(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?"
    r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5}))?)$"
)
_DATE_SHAPE = re.compile(r"^\s*(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{8})")
_ISO_CODE = re.compile(r"^[A-Z]{3}$")
_PLAIN_NUMBER = {".": re.compile(r"-?\d+(?:\.\d+)?"), ",": re.compile(r"-?\d+(?:,\d+)?")}
_HEADER_CURRENCY = re.compile(r"\(([A-Z]{3})\)\s*$")


# --------------------------------------------------------------------------------------------------- helpers


def decode_text(data: bytes, file: str, encoding: str | None = None) -> str:
    """Bytes to text: the configured codec, else UTF-16/32 when the bytes are (BOM or not), else UTF-8 (BOM
    stripped), else cp1252, else latin-1 (never fails)."""
    if not encoding:
        text = decode_unicode(data, file)
        if text is not None:
            return text
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(file, None, f"cannot decode as {encoding}: {exc}") from None
    for codec in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """The delimiter that gives the most rows with one consistent number (>1) of fields in the first lines."""
    sample = "".join(itertools.islice(io.StringIO(text), 60))
    best, best_score = ",", -1
    for delimiter in _DELIMITERS:
        counts: dict[int, int] = {}
        try:
            for cells in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if len(cells) > 1:
                    counts[len(cells)] = counts.get(len(cells), 0) + 1
        except csv.Error:
            continue
        score = max(counts.values(), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_rows(text: str, delimiter: str, file: str) -> list[tuple[int, list[str]]]:
    """CSV records with the 1-based physical line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    previous_line = 0
    try:
        for cells in reader:
            rows.append((previous_line + 1, cells))
            previous_line = reader.line_num
    except csv.Error as exc:
        raise ParseError(file, previous_line + 1, f"malformed CSV ({exc}); the file may be truncated") from None
    return rows


def is_blank(cells: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def normalize_header(name: str) -> str:
    """Header comparison key: lower case, underscores as spaces, whitespace collapsed, stray quotes removed."""
    name = name.replace("\ufeff", "").strip().strip("'\"").replace("_", " ")
    return " ".join(name.lower().split())


def _strip_unit(name: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", name)


def detect_decimal(values: Iterable[str]) -> str | None:
    """The decimal separator of one file's amount cells: "." when nothing decides, None when the cells contradict."""
    comma = dot = False
    for value in values:
        body = re.sub(r"[^\d.,]", "", value)
        if "," in body and "." in body:
            if body.rfind(",") > body.rfind("."):
                comma = True
            else:
                dot = True
        elif "," in body:
            if body.count(",") > 1:
                dot = True  # 1,234,567 -> comma groups thousands
            elif not re.search(r",\d{3}$", body):
                comma = True  # 12,5 / 12,50 / 0,3333
        elif "." in body:
            if body.count(".") > 1:
                comma = True  # 1.234.567 -> dot groups thousands
            elif not re.search(r"\.\d{3}$", body):
                dot = True
    if comma and dot:
        return None
    return "," if comma else "."


def parse_amount(
    text: str,
    file: str,
    row: int | None,
    column: str,
    decimal: str = ".",
    thousands: str | None = None,
) -> Decimal:
    """Signed amount from bank-style text: signs, parentheses, CR/DR, symbols, ISO codes, thousands separators."""
    original = text
    s = text.replace("\xa0", " ").replace("\u202f", " ").strip()
    if decimal in _PLAIN_NUMBER and _PLAIN_NUMBER[decimal].fullmatch(s):  # fast path: "-1234.56"
        number = Decimal(s.replace(",", "."))
        return number if number else abs(number)

    def bad(why: str) -> ParseError:
        return ParseError(file, row, f"column {column!r}: amount {original!r} {why}")

    if not s:
        raise bad("is empty")
    negatives = 0
    marks = 0
    match = re.fullmatch(r"(?i)(?P<body>.*?)\s*(?P<mark>cr|dr)\.?", s) or re.fullmatch(
        r"(?i)(?P<mark>cr|dr)\.?\s*(?P<body>.*)", s
    )
    if match:
        marks += 1
        negatives += match.group("mark").lower() == "dr"
        s = match.group("body").strip()
    if s.startswith("(") and s.endswith(")"):
        marks += 1
        negatives += 1
        s = s[1:-1].strip()
    while s:
        if s[0] in _MINUS or s[0] == "+":
            marks += 1
            negatives += s[0] != "+"
            s = s[1:].lstrip()
        elif s[-1] in _MINUS or s[-1] == "+":
            marks += 1
            negatives += s[-1] != "+"
            s = s[:-1].rstrip()
        elif s[0] in _CURRENCY_SYMBOLS:
            s = s[1:].lstrip()
        elif s[-1] in _CURRENCY_SYMBOLS:
            s = s[:-1].rstrip()
        elif re.match(r"^[A-Z]{3}\s*[\d.,(+-]", s):
            s = s[3:].lstrip()
        elif re.search(r"[\d.,)]\s*[A-Z]{3}$", s):
            s = s[:-3].rstrip()
        else:
            break
    if marks > 1:
        raise bad("has more than one sign")
    if not re.fullmatch(r"\d[\d.,' ]*|[.,]\d+", s):
        raise bad("is not a number")
    separators = {thousands} if thousands else ({",", " ", "'"} if decimal == "." else {".", " ", "'"})
    separators.discard(decimal)
    if s.count(decimal) > 1:
        raise bad(f"has more than one decimal separator {decimal!r}")
    integer, _, fraction = s.partition(decimal)
    if any(sep in fraction for sep in separators) or not re.fullmatch(r"\d*", fraction):
        raise bad("has a malformed fraction")
    groups = re.split("|".join(re.escape(sep) for sep in sorted(separators)), integer) if separators else [integer]
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:])):
        raise bad("has misplaced thousands separators")
    digits = "".join(groups)
    if not re.fullmatch(r"\d*", digits) or not (digits or fraction):
        raise bad("is not a number")
    try:
        number = Decimal(f"{digits or '0'}.{fraction or '0'}") if fraction else Decimal(digits)
    except InvalidOperation:
        raise bad("is not a number") from None
    return -number if negatives % 2 and number else number


def _date_part(value: str) -> str:
    match = _TIME_SUFFIX.match(value)
    return match.group("date") if match else value


@functools.lru_cache(maxsize=8192)
def parse_date(value: str, fmt: str) -> date | None:
    """The calendar date of ``value`` under ``fmt`` (a trailing time of day is ignored), or None."""
    value = value.strip()
    for candidate in (value, _date_part(value)):
        try:
            return datetime.strptime(candidate, fmt).date()
        except ValueError:
            continue
    return None


def choose_date_format(
    values: Sequence[tuple[int, str]],
    formats: Sequence[str],
    file: str,
    column: str,
    configured: bool,
) -> str | None:
    """The format under which every (row, value) parses; an error if none does or (unconfigured) several disagree."""
    if not values:
        return None
    first_row: dict[str, int] = {}
    for row, value in values:
        first_row.setdefault(value, row)  # dates repeat: test each distinct value once
    values = [(row, value) for value, row in first_row.items()]
    parsed: dict[str, list[date | None]] = {fmt: [parse_date(value, fmt) for _, value in values] for fmt in formats}
    fitting = [fmt for fmt in formats if all(day is not None for day in parsed[fmt])]
    if not fitting:
        best = max(formats, key=lambda fmt: sum(day is not None for day in parsed[fmt]))
        index = next(i for i, day in enumerate(parsed[best]) if day is None)
        row, value = values[index]
        expected = best if configured or len(formats) == 1 else f"a date such as {best}"
        raise ParseError(file, row, f"column {column!r}: {value!r} is not a valid date (expected {expected})")
    chosen = fitting[0]
    if configured:
        return chosen
    for other in fitting[1:]:
        if parsed[other] != parsed[chosen]:
            index = next(i for i, (a, b) in enumerate(zip(parsed[chosen], parsed[other], strict=True)) if a != b)
            row, value = values[index]
            raise ParseError(
                file,
                row,
                f"column {column!r}: dates are ambiguous ({value!r} fits both {chosen} and {other}); "
                "set the date_format option",
            )
    return chosen


def date_formats_option(options: Mapping[str, Any], file: str) -> tuple[tuple[str, ...], bool]:
    """(formats to try, whether the user configured them)."""
    configured = options.get("date_format")
    if configured is None:
        return DEFAULT_DATE_FORMATS, False
    if isinstance(configured, str):
        return (configured,), True
    if isinstance(configured, Sequence) and configured and all(isinstance(f, str) for f in configured):
        return tuple(configured), True
    raise ParseError(file, None, f"option date_format must be a format or a list of formats, not {configured!r}")


def clean_text(value: str | None) -> str | None:
    """Whitespace collapsed; empty -> None."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def unique_headers(header: Sequence[str]) -> list[str]:
    """Header names made unique for ``extra['raw']`` (second "Währung" -> "Währung.1")."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        name = name.strip()
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}.{count}")
    return names


def match_columns(header: Sequence[str], fields: Iterable[str], taken: set[int] | None = None) -> dict[str, int]:
    """Auto-detect: field -> column index by :data:`HEADER_ALIASES` (alias priority first, then column order)."""
    keys = [normalize_header(name) for name in header]
    bare = [_strip_unit(key) for key in keys]
    used = set(taken or ())
    found: dict[str, int] = {}
    for field_name in fields:
        for alias in HEADER_ALIASES[field_name]:
            index = next(
                (i for i, key in enumerate(keys) if i not in used and alias in (key, bare[i])),
                None,
            )
            if index is not None:
                found[field_name] = index
                used.add(index)
                break
    return found


# --------------------------------------------------------------------------------------------------- parser


def _option(options: Mapping[str, Any], key: str, kind: type, file: str) -> Any:
    """An option of the expected type (``bool`` counts as ``int`` for skip_footer), else ParseError."""
    value = options.get(key)
    if value is not None and not isinstance(value, kind):
        raise ParseError(file, None, f"option {key} must be {kind.__name__}, not {value!r}")
    return value


def _words(options: Mapping[str, Any], key: str, default: frozenset[str], file: str) -> frozenset[str]:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, str) or not all(isinstance(word, str) for word in value):
        raise ParseError(file, None, f"option {key} must be a list of words, not {value!r}")
    return frozenset(word.lower() for word in value)


class _Config:
    """Validated options."""

    def __init__(self, options: Mapping[str, Any], file: str) -> None:
        unknown = set(options) - OPTION_KEYS
        if unknown:
            raise ParseError(file, None, f"unknown option(s) {sorted(unknown)}; known: {sorted(OPTION_KEYS)}")
        self.file = file
        self.encoding: str | None = _option(options, "encoding", str, file)
        self.delimiter: str | None = _option(options, "delimiter", str, file)
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ParseError(file, None, f"option delimiter must be one character, not {self.delimiter!r}")
        skip_rows = _option(options, "skip_rows", int, file)
        if skip_rows is not None and skip_rows < 0:
            raise ParseError(file, None, "option skip_rows must not be negative")
        self.skip_rows = skip_rows or 0
        self.skip_rows_given = skip_rows is not None
        self.has_header = bool(options.get("has_header", True))
        self.date_formats, self.date_configured = date_formats_option(options, file)
        self.decimal: str | None = options.get("decimal")
        if self.decimal not in (None, ".", ","):
            raise ParseError(file, None, f"option decimal must be '.' or ',', not {self.decimal!r}")
        self.thousands: str | None = _option(options, "thousands", str, file)
        self.negate = bool(options.get("negate", False))
        self.currency: str | None = _option(options, "currency", str, file)
        self.account: str | None = _option(options, "account", str, file)
        skip_footer = _option(options, "skip_footer", int, file)
        self.skip_footer: bool | int = skip_footer or False
        self.auto_summary = skip_footer is None  # not configured: summary rows at either end are recognised
        self.debit_words = _words(options, "debit_values", DEBIT_WORDS, file)
        self.credit_words = _words(options, "credit_values", CREDIT_WORDS, file)
        columns = options.get("columns") or {}
        if not isinstance(columns, Mapping):
            raise ParseError(file, None, "option columns must map field names to header names or indexes")
        unknown_fields = set(columns) - set(FIELDS)
        if unknown_fields:
            raise ParseError(file, None, f"option columns: unknown field(s) {sorted(unknown_fields)}")
        self.columns: dict[str, str | int | None] = dict(columns)


def _find_header(rows: list[tuple[int, list[str]]], config: _Config) -> int:
    """Index in ``rows`` of the header row: the one with every configured header name, else the one with the most
    of them (so the missing name is reported against it), else the first that names a date and an amount, else
    (columns given by index) the first non-blank row."""
    named = [normalize_header(v) for v in config.columns.values() if isinstance(v, str)]
    best_named: tuple[int, int] | None = None  # (names present, position)
    by_alias: int | None = None
    for position, (_, cells) in enumerate(rows[:60]):
        if is_blank(cells):
            continue
        if named:
            keys = {normalize_header(cell) for cell in cells}
            present = sum(name in keys for name in named)
            if present == len(named):
                return position
            if present and (best_named is None or present > best_named[0]):
                best_named = (present, position)
        found = match_columns(cells, ("date", "amount", "debit", "credit"))
        if by_alias is None and "date" in found and {"amount", "debit", "credit"} & set(found):
            by_alias = position
            if not named:
                return position
    if best_named is not None:
        return best_named[1]
    if by_alias is not None:
        return by_alias
    first = next((i for i, (_, cells) in enumerate(rows) if not is_blank(cells)), None)
    if first is not None and any(isinstance(v, int) and not isinstance(v, bool) for v in config.columns.values()):
        return first  # columns given by index
    raise ParseError(
        config.file,
        None,
        "no header row found with a date and an amount (or debit/credit) column; set skip_rows/columns",
    )


def _resolve_columns(header: list[str] | None, width: int, config: _Config, header_row: int | None) -> dict[str, int]:
    """field -> column index, from explicit options then header-name auto-detection."""
    resolved: dict[str, int] = {}
    keys = [normalize_header(cell) for cell in header] if header is not None else []
    for field_name, spec in config.columns.items():
        if spec is None:
            continue
        if isinstance(spec, bool) or not isinstance(spec, int | str):
            raise ParseError(config.file, None, f"option columns.{field_name} must be a header name or an index")
        if isinstance(spec, int):
            if not 0 <= spec < width:
                raise ParseError(config.file, header_row, f"column index {spec} for {field_name} is out of range")
            resolved[field_name] = spec
        else:
            if header is None:
                raise ParseError(
                    config.file, None, f"columns.{field_name}={spec!r}: a file without header needs indexes"
                )
            key = normalize_header(spec)
            if key not in keys:
                raise ParseError(config.file, header_row, f"missing required column {spec!r} (for {field_name})")
            resolved[field_name] = keys.index(key)
    if header is not None:
        auto = [f for f in FIELDS if f not in config.columns]
        resolved.update(match_columns(header, auto, taken=set(resolved.values())))
    if "date" not in resolved:
        raise ParseError(config.file, header_row, "missing required column: date (set columns.date)")
    if not {"amount", "debit", "credit"} & set(resolved):
        raise ParseError(config.file, header_row, "missing required column: amount, or debit and credit")
    return resolved


def _is_summary_row(cells: list[str], columns: Mapping[str, int]) -> bool:
    """A footer/summary line: its date cell is empty or not shaped like a date."""
    index = columns["date"]
    cell = cells[index] if index < len(cells) else ""
    return not _DATE_SHAPE.match(cell)


_SUMMARY_LABEL = re.compile(
    r"\b(balance|total|totals|saldo|solde|summe|opening|closing|beginning|ending|anfangssaldo|endsaldo)\b", re.I
)


def _drop_summary_rows(
    data_rows: list[tuple[int, list[str]]], columns: Mapping[str, int], parsed: ParsedFile
) -> list[tuple[int, list[str]]]:
    """Skip the summary rows at the start and end of the data (see ``skip_footer``), with one warning per block."""

    def clear(cells: list[str]) -> bool:
        if not _is_summary_row(cells, columns):
            return False
        money = [
            cells[columns[f]].strip() for f in ("amount", "debit", "credit") if f in columns and columns[f] < len(cells)
        ]
        label = cells[columns["date"]] if columns["date"] < len(cells) else ""
        return not any(money) or bool(_SUMMARY_LABEL.search(label))

    start = 0
    while start < len(data_rows) and clear(data_rows[start][1]):
        start += 1
    end = len(data_rows)
    while end > start and clear(data_rows[end - 1][1]):
        end -= 1
    for block in (data_rows[:start], data_rows[end:]):
        if block:
            line, cells = block[0]
            first = " ".join(cell.strip() for cell in cells if cell.strip())[:50]
            parsed.warn(line, f"{len(block)} summary/footer row(s) without a date skipped (first: {first!r})")
    return data_rows[start:end]


def parse_bank_csv(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse one bank CSV export into canonical records; see the module docstring for the options."""
    config = _Config(options, filename)
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    text = decode_text(data, filename, config.encoding)
    delimiter = config.delimiter or sniff_delimiter(text)
    rows = [(line, cells) for line, cells in read_rows(text, delimiter, filename) if line > config.skip_rows]

    header: list[str] | None = None
    header_row: int | None = None
    if config.has_header:
        if config.skip_rows_given:
            position = next((i for i, (_, cells) in enumerate(rows) if not is_blank(cells)), None)
            if position is None:
                raise ParseError(filename, None, f"no header row after skip_rows={config.skip_rows}")
        else:
            position = _find_header(rows, config)
        header_row, header = rows[position][0], [cell.strip() for cell in rows[position][1]]
        rows = rows[position + 1 :]
    data_rows = [(line, cells) for line, cells in rows if not is_blank(cells)]
    width = len(header) if header is not None else max((len(cells) for _, cells in data_rows), default=0)
    columns = _resolve_columns(header, width, config, header_row)

    parsed = ParsedFile()
    if config.auto_summary:
        data_rows = _drop_summary_rows(data_rows, columns, parsed)
    elif config.skip_footer is True:
        data_rows = [(line, cells) for line, cells in data_rows if not _is_summary_row(cells, columns)]
    elif config.skip_footer and not isinstance(config.skip_footer, bool):
        data_rows = data_rows[: max(0, len(data_rows) - int(config.skip_footer))]

    data_rows = [(line, fit_width(line, cells, header, columns, filename)) for line, cells in data_rows]
    raw_names = unique_headers(header) if header is not None else None
    parsed.records = _build_records(data_rows, columns, header, raw_names, config)
    return parsed


def fit_width(
    line: int, cells: list[str], header: list[str] | None, columns: Mapping[str, int], file: str
) -> list[str]:
    """Pad a short row when only unnamed trailing columns are missing; otherwise a short/long row is an error."""
    if header is None:
        needed = max(columns.values()) + 1
        if len(cells) < needed:
            raise ParseError(file, line, f"row has {len(cells)} fields, expected at least {needed} (truncated row?)")
        return cells
    if len(cells) < len(header):
        if any(name for name in header[len(cells) :]):
            raise ParseError(file, line, f"row has {len(cells)} fields, header has {len(header)} (truncated row?)")
        return cells + [""] * (len(header) - len(cells))
    if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
        raise ParseError(file, line, f"row has {len(cells)} fields, header has only {len(header)}")
    return cells


def _build_records(
    data_rows: list[tuple[int, list[str]]],
    columns: Mapping[str, int],
    header: list[str] | None,
    raw_names: list[str] | None,
    config: _Config,
) -> list[Record]:
    file = config.file

    def name_of(field_name: str) -> str:
        index = columns[field_name]
        return header[index] if header is not None else str(index)

    def values_of(field_name: str) -> list[tuple[int, str]]:
        if field_name not in columns:
            return []
        index = columns[field_name]
        return [(line, cells[index].strip()) for line, cells in data_rows if cells[index].strip()]

    date_formats = {
        f: choose_date_format(values_of(f), config.date_formats, file, name_of(f), config.date_configured)
        for f in ("date", "value_date")
        if f in columns
    }
    decimal = config.decimal
    if decimal is None:
        amount_cells = [v for f in ("amount", "debit", "credit", "balance") for _, v in values_of(f)]
        decimal = detect_decimal(amount_cells)
        if decimal is None:
            raise ParseError(file, None, "amounts mix '.' and ',' as decimal separator; set the decimal option")
    default_currency = config.currency
    if default_currency is None and header is not None and "currency" not in columns:
        for f in ("amount", "debit", "credit"):
            match = _HEADER_CURRENCY.search(header[columns[f]]) if f in columns else None
            if match:
                default_currency = match.group(1)
                break

    records: list[Record] = []
    for line, cells in data_rows:

        def cell(field_name: str, cells: list[str] = cells) -> str | None:
            return cells[columns[field_name]].strip() or None if field_name in columns else None

        def amount(field_name: str, line: int = line) -> Decimal | None:
            value = cell(field_name)
            if value is None:
                return None
            return parse_amount(value, file, line, name_of(field_name), decimal, config.thousands)

        booked_text = cell("date")
        if booked_text is None:
            raise ParseError(file, line, f"column {name_of('date')!r}: date is empty")
        booked = parse_date(booked_text, date_formats["date"] or config.date_formats[0])
        if booked is None:  # pragma: no cover - choose_date_format checked every value
            raise ParseError(file, line, f"column {name_of('date')!r}: {booked_text!r} is not a valid date")
        value_text = cell("value_date")
        value_day = parse_date(value_text, date_formats["value_date"] or "") if value_text else None

        signed = _signed_amount(line, amount, cell, name_of, config)
        if config.negate:
            signed = -signed
        if not signed:
            signed = abs(signed)  # no "-0.00"
        balance = amount("balance")
        currency = cell("currency") or default_currency
        if currency is not None:
            currency = currency.upper()
            if not _ISO_CODE.match(currency):
                raise ParseError(file, line, f"currency {currency!r} is not an ISO 4217 code")
        if raw_names is not None:
            raw = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(raw_names)}
        else:
            raw = {str(i): value for i, value in enumerate(cells)}
        records.append(
            make_record(
                line,
                account=cell("account") or config.account,
                booked_date=booked.isoformat(),
                value_date=value_day.isoformat() if value_day else None,
                amount=decimal_text(signed, file, line),
                currency=currency,
                description=clean_text(cell("description")),
                counterparty=clean_text(cell("counterparty")),
                reference=clean_text(cell("reference")),
                transaction_type=clean_text(cell("type")),
                external_id=cell("external_id"),
                balance_after=decimal_text(balance, file, line) if balance is not None else None,
                extra={"raw": raw},
            )
        )
    return records


def _signed_amount(line: int, amount: Any, cell: Any, name_of: Any, config: _Config) -> Decimal:
    """One signed amount from an amount column (optionally with a D/C column) or from debit/credit columns."""
    file = config.file
    value: Decimal | None = amount("amount")
    if value is None:
        debit, credit = amount("debit"), amount("credit")
        if debit is not None and credit is not None and debit != 0 and credit != 0:
            raise ParseError(file, line, f"both debit {debit} and credit {credit} are filled")
        if debit is not None and debit != 0:
            value = -abs(debit)
        elif credit is not None:
            value = abs(credit)
        elif debit is not None:
            value = abs(debit)
        else:
            raise ParseError(file, line, "no amount in this row (amount, debit and credit are all empty)")
    sign_text = cell("sign")
    if sign_text is not None:
        word = sign_text.lower()
        if word in config.debit_words:
            value = -abs(value)
        elif word in config.credit_words:
            value = abs(value)
        else:
            raise ParseError(file, line, f"column {name_of('sign')!r}: {sign_text!r} is neither debit nor credit")
    return value
