"""SWIFT MT940 (and MT942 interim) bank statements -> canonical records.

The ``mt940`` library (mt-940 on PyPI) merges every statement of a file into one collection, cannot tell us the
line a transaction starts on, fails on several real layouts (ASN/SNS ``NOVB``+IBAN lines, Zenith ``:28C: /1``),
merges consecutive ``:61:`` lines that carry no type code into one transaction, appends a statement-level ``:86:``
(after ``:62F:``/``:64:``) to the last transaction, and by default keeps ``RC`` (reversal of a credit) positive.
So the file *structure* is read here and the library is used for what it does well, field by field:

* the text is decoded as UTF-8, else cp1252, else latin-1 (``options["encoding"]`` overrides);
* SWIFT block wrappers (``{1:..}{2:..}{3:..}{4:`` ... ``-}{5:..}``), ``-`` separators, DOS ``^Z`` and free text
  before the first tag (Danske preamble, ``ABNANL2A/940`` headers, ``:940:``) are dropped; a wrapped message
  without its ``-}`` trailer means a truncated file and raises;
* tags are split by line; a line that does not start a known tag continues the previous one (``:86:`` text,
  the ``:61:`` supplementary-details line). A ``:20:`` starts a new statement;
* each ``:61:`` is matched with the library's ``Statement`` pattern, falling back to its ``StatementASNB``
  pattern (ASN/SNS put a 34-character IBAN where the 16-character customer reference goes);
* ``?``-structured German ``:86:`` text is split with the library's ``transaction_details_post_processor``.

Sign: the mark is ``C``/``D``/``RC``/``RD`` followed by an optional funds-code letter (the 3rd letter of the
currency: ``DR``/``CR`` in EUR files are debit/credit with funds code ``R``, ``DK`` is debit in DKK). ``C`` and
``RD`` (reversal of a debit) are money in (+); ``D`` and ``RC`` (reversal of a credit) are money out (-).

Mapping: ``booked_date`` is the entry date (``MMDD``, year taken from the value date, corrected across a year
end) or else the value date; ``value_date`` the ``:61:`` value date; ``transaction_type`` the SWIFT type code
(``NTRF``, ``NMSC``, ``N426``...); ``reference`` the customer reference (``NONREF`` -> None), or else the
end-to-end reference from ``:86:``; ``external_id`` the bank reference after ``//``; ``description`` the ``:86:``
text on one line (structured ``/TAG/`` and ``?NN`` text is joined without spaces: its line breaks are positional
wrapping, often mid-word), or the supplementary details when there is no ``:86:``; ``counterparty`` from
``?32``/``?33``, ``/NAME/``, ``/CNTP/`` or the de Volksbank ``<IBAN> <name>`` first line, else None. The statement
currency (opening balance, else closing, else ``:34F:``) is the record currency.

Statements: one per ``:20:`` block with account ``:25:``, opening ``:60F:``/``:60M:`` and closing
``:62F:``/``:62M:``. MT942 blocks have no balances. A closing balance may be absent (seen in real German files),
an opening balance may not (unless the block is an MT942). ``statement_id`` is ``account:statement no.:date``
(``#n`` appended on a repeat). ``row`` is the line on which the ``:61:`` starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from mt940 import models as mt940_models
from mt940 import processors as mt940_processors
from mt940 import tags as mt940_tags
from mt940.options import Options as Mt940Options

from .base import ParsedFile, ParseError, Record, decimal_text, decode_unicode, make_record

_KNOWN_TAGS = frozenset(
    {"13", "13D", "20", "21", "25", "28", "28C", "34F", "60", "60F", "60M", "61", "62", "62F", "62M", "64", "65"}
    | {"86", "90C", "90D", "NS"}
)
_TAG_LINE = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):(?P<value>.*)$")
_BLOCK_HEADER = re.compile(r"^\s*(?:\{[1-3]:(?:[^{}]|\{[^{}]*\})*\}\s*)+")
_TRAILER = re.compile(r"^-\}(?:\{5:(?:[^{}]|\{[^{}]*\})*\})?|^\{5:(?:[^{}]|\{[^{}]*\})*\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BALANCE = re.compile(r"^(?P<mark>[DC])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>[0-9,.]+)$")
_FLOOR_LIMIT = re.compile(r"^(?P<currency>[A-Z]{3})")
_QUESTION_STRUCTURED = re.compile(r"^\d{3}\?\d{2}")
_SLASH_STRUCTURED = re.compile(r"^/[A-Z]{2,4}/")
_SLASH_FIELD = re.compile(r"/(?P<key>[A-Z]{2,4})/(?P<value>.*?)(?=/[A-Z]{2,4}/|/?$)")
_TYPE_CODE = re.compile(r"^[SNF][A-Z0-9 ]{3}$")
_IBAN_LIKE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$|^\d{6,}$")
_SLASH_EXTRA = (("REMI", "remittance"), ("CNTP_ACCOUNT", "counterparty_account"), ("IBAN", "counterparty_account"))
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED", "EREF", "KREF+"}
_OPTIONS = Mt940Options.all()
_STATEMENT_TAG = mt940_tags.Statement()
_ASN_STATEMENT_TAG = mt940_tags.StatementASNB()
_DETAILS_TAG = mt940_tags.TransactionDetails()


@dataclass
class _Tag:
    tag: str
    line: int
    lines: list[str]

    @property
    def value(self) -> str:
        """The tag text with its continuation lines (trailing whitespace and blank lines removed)."""
        return "\n".join(line.rstrip() for line in self.lines if line.strip()).strip()


@dataclass
class _Block:
    """One statement: the tags from a ``:20:`` up to the next ``:20:``."""

    line: int
    tags: list[_Tag] = field(default_factory=list)


def _decode(data: bytes, file: str, options: Mapping[str, Any]) -> str:
    """UTF-8, else the 8-bit code page whose decoding yields the most letters (cp1252 wins ties).

    Banks still send DOS code pages: the UniCredit HU sample is cp852 ('átutalás' is A0 74 75 74 61 6C A0 73),
    which decodes without error as latin-1 into symbols and control characters.
    """
    if options.get("encoding"):
        try:
            return data.decode(options["encoding"])
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(file, None, f"cannot decode the file as {options['encoding']}: {exc}") from None
    unicode_text = decode_unicode(data, file)  # UTF-16/32, with or without a BOM
    if unicode_text is not None:
        return unicode_text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = (-1, data.decode("latin-1"))  # latin-1 decodes any byte: the last resort
    for codec in ("cp1252", "cp852"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        letters = sum(1 for char in text if ord(char) > 127 and char.isalpha())
        if letters > best[0]:
            best = (letters, text)
    return best[1]


def _tokenize(text: str, file: str, parsed: ParsedFile) -> list[_Block]:
    """Split the text into statement blocks of tags, remembering each tag's line number."""
    blocks: list[_Block] = []
    current: _Tag | None = None
    open_message: int | None = None  # line of a SWIFT {4: block still waiting for its -} trailer
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = _CONTROL.sub("", raw).replace("\ufeff", "")
        # SWIFT envelope pieces may share a line with each other ('-}{5:..}{1:..}{2:..}{4:') or with a tag
        while True:
            head = line.lstrip()
            trailer = _TRAILER.match(head)
            header = _BLOCK_HEADER.match(head)
            if trailer:
                open_message, current = None, None
                line = head[trailer.end() :]
            elif header:
                line = head[header.end() :]
            elif head.startswith("{4:"):
                if open_message is not None:
                    raise ParseError(file, open_message, "SWIFT message is not terminated by '-}' (truncated?)")
                open_message, current = number, None
                line = head[3:]
            else:
                break
            if not line.strip():
                break
        stripped = line.strip()
        if not stripped and line != raw:
            continue  # the line held only envelope pieces
        if stripped == "-":
            current = None
            continue
        match = _TAG_LINE.match(line)
        if match and match.group("tag") in _KNOWN_TAGS:
            tag = match.group("tag")
            current = _Tag(tag, number, [match.group("value")])
            if tag == "20" or not blocks:
                blocks.append(_Block(number))
            blocks[-1].tags.append(current)
        elif current is not None:
            current.lines.append(line)
        elif stripped:  # text outside any tag (preamble, bank headers between messages) carries no data
            parsed.warn(number, "text outside any tag ignored (bank preamble or header line)")
    if open_message is not None:
        raise ParseError(file, open_message, "SWIFT message is not terminated by '-}' (truncated?)")
    return blocks


def _two_digit_year(text: str) -> int:
    return 2000 + int(text)


def _date(year: int, month: int, day: int, file: str, row: int, what: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError(file, row, f"{what} {year:04d}-{month:02d}-{day:02d} is not a valid date") from None


def _amount(text: str, file: str, row: int, what: str) -> Decimal:
    cleaned = text.strip().replace(",", ".")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", cleaned):
        raise ParseError(file, row, f"{what} amount {text!r} is not a number")
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        raise ParseError(file, row, f"{what} amount {text!r} is not a number") from None


def _balance(tag: _Tag, file: str) -> tuple[str, str, str]:
    """(signed amount text, YYYY-MM-DD, currency) of a :60x:/:62x: balance."""
    value = tag.value.replace(" ", "")
    match = _BALANCE.match(value)
    if not match:
        raise ParseError(file, tag.line, f":{tag.tag}: balance {tag.value!r} is not '[C|D]YYMMDDCCYamount'")
    raw = match.group("date")
    day = _date(_two_digit_year(raw[:2]), int(raw[2:4]), int(raw[4:]), file, tag.line, f":{tag.tag}: date")
    amount = _amount(match.group("amount"), file, tag.line, f":{tag.tag}:")
    if match.group("mark") == "D":
        amount = -amount
    return decimal_text(amount, file, tag.line), day.isoformat(), match.group("currency")


def _split_mark(status: str, funds_code: str | None) -> tuple[str, str | None]:
    """The D/C mark and the funds code, whichever pattern split them (``CD`` = credit, funds code D)."""
    combined = (status + (funds_code or "")).upper()
    mark = combined[:2] if combined[0] == "R" and len(combined) > 1 and combined[1] in "DC" else combined[:1]
    return mark, combined[len(mark) :] or None


def _match_statement_line(tag: _Tag, file: str, parsed: ParsedFile) -> tuple[dict[str, Any], bool]:
    """The library's :61: groups, trying the SWIFT pattern and then the ASN/SNS one.

    The patterns take one supplementary-details line; further lines are appended to it. A customer reference longer
    than SWIFT's 16 characters before ``//`` (seen in wolph/mt940#111) is read whole up to the ``//`` and the bank
    reference after it, with a warning: the pattern would cut it at 16 and lose the bank reference.
    """
    lines = tag.value.split("\n")
    for head in (2, 1):  # with the supplementary line, then (an overlong first line) without it
        value, more = "\n".join(lines[:head]), " ".join(lines[head:])
        for statement_tag, is_asn in ((_STATEMENT_TAG, False), (_ASN_STATEMENT_TAG, True)):
            match = statement_tag.re.match(value)
            if match:
                groups = match.groupdict()
                if more:
                    groups["extra_details"] = f"{groups.get('extra_details') or ''} {more}".strip()
                _overlong_reference(groups, lines[0], lines[1:], tag.line, parsed)
                return groups, is_asn
    raise ParseError(file, tag.line, f":61: statement line {lines[0]!r} cannot be read (date, mark, amount, type)")


def _overlong_reference(groups: dict[str, Any], first: str, rest: list[str], row: int, parsed: ParsedFile) -> None:
    reference = groups.get("customer_reference") or ""
    if groups.get("bank_reference") or "//" not in first or len(reference) < 16 or reference not in first:
        return
    head, bank = first[first.index(reference) :].split("//", 1)
    if "//" in reference or not bank.strip():
        return
    groups["customer_reference"], groups["bank_reference"] = head, bank
    groups["extra_details"] = " ".join(line for line in rest if line.strip()) or None
    parsed.warn(row, ":61: customer reference longer than 16 characters, read up to the '//' bank reference")


def _entry_date(value_day: date, month: str | None, day: str | None, file: str, row: int) -> date | None:
    """The MMDD entry (booking) date, in the year that puts it closest to the value date."""
    if not (month and day and month.isdigit() and day.isdigit()):
        return None
    candidates = []
    for year in (value_day.year - 1, value_day.year, value_day.year + 1):
        try:
            candidates.append(date(year, int(month), int(day)))
        except ValueError:
            continue
    if not candidates:
        raise ParseError(file, row, f":61: entry date {month}{day} (MMDD) is not a valid date")
    return min(candidates, key=lambda candidate: abs((candidate - value_day).days))


def _details_text(lines: list[str]) -> tuple[str, bool]:
    """The :86: text on one line, and whether it is structured (/TAG/ or ?NN subfields)."""
    kept = [line.rstrip() for line in lines if line.strip()]
    if not kept:
        return "", False
    structured = bool(_QUESTION_STRUCTURED.match(kept[0]) or _SLASH_STRUCTURED.match(kept[0].lstrip()))
    joined = "".join(kept) if structured else " ".join(line.strip() for line in kept)
    return " ".join(joined.split()), structured


def _question_fields(details: str) -> dict[str, Any]:
    """German ``?NN`` subfields via the library (purpose, applicant name/IBAN/BIC, EREF...)."""
    holder = mt940_models.Transactions(options=_OPTIONS)
    try:
        result = mt940_processors.transaction_details_post_processor(
            holder, _DETAILS_TAG, {"transaction_details": details}, {"transaction_details": details}
        )
    except Exception:  # the library's sub-field split is best effort; the raw text stays the description
        return {}
    return {key: value for key, value in result.items() if value and key != "transaction_details"}


def _slash_fields(details: str) -> dict[str, str]:
    """``/TAG/value`` fields (first occurrence wins); CNTP is account/BIC/name/city."""
    fields: dict[str, str] = {}
    for match in _SLASH_FIELD.finditer(details):
        fields.setdefault(match.group("key"), match.group("value").strip().rstrip("/"))  # ING ends fields with //
    cntp = re.search(r"/CNTP/([^/]*)/([^/]*)/([^/]*)/", details)
    if cntp:
        fields.setdefault("CNTP_ACCOUNT", cntp.group(1).strip())
        fields.setdefault("CNTP_BIC", cntp.group(2).strip())
        fields.setdefault("CNTP_NAME", cntp.group(3).strip())
    return fields


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _transaction(
    tag: _Tag,
    details: list[str],
    non_swift: list[str],
    statement: Mapping[str, Any],
    file: str,
    parsed: ParsedFile,
) -> Record:
    row = tag.line
    groups, is_asn_layout = _match_statement_line(tag, file, parsed)
    if is_asn_layout:
        parsed.warn(row, ":61: in the de Volksbank layout (counter IBAN where the 16-character reference goes)")
    value_day = _date(
        _two_digit_year(groups["year"]), int(groups["month"]), int(groups["day"]), file, row, ":61: value date"
    )
    booked = _entry_date(value_day, groups.get("entry_month"), groups.get("entry_day"), file, row) or value_day
    mark, funds_code = _split_mark(groups["status"], groups.get("funds_code"))
    amount = _amount(groups["amount"], file, row, ":61:")
    if mark in {"D", "RC"}:
        amount = -amount
    raw_type = groups.get("id") or ""
    if raw_type and not _TYPE_CODE.match(raw_type):  # the library pattern is case-insensitive: '25,5x0NTRF'
        first = tag.value.split("\n", 1)[0]
        raise ParseError(file, row, f":61: statement line {first!r}: {raw_type!r} is not a type code (S/N/F + 3)")
    type_code = raw_type.strip() or None
    customer_reference = (groups.get("customer_reference") or "").strip()
    if type_code == "NONR" and customer_reference.upper().startswith("EF"):  # 'NONREF' with no type code
        type_code, customer_reference = None, customer_reference[2:].strip()
    bank_reference = _clean(groups.get("bank_reference"))
    supplementary = _clean(groups.get("extra_details"))

    description, structured = _details_text(details)
    extra: dict[str, str | None] = {"mark": mark, "funds_code": funds_code}
    counterparty: str | None = None
    end_to_end: str | None = None
    if structured and _QUESTION_STRUCTURED.match(description):
        parsed = _question_fields("".join(line.strip("\r\n") for line in details if line.strip()))
        counterparty = _clean(parsed.get("applicant_name"))
        end_to_end = _clean(parsed.get("end_to_end_reference") or parsed.get("customer_reference"))
        extra.update({key: _clean(str(value)) for key, value in parsed.items() if key != "applicant_name"})
    elif structured:
        fields = _slash_fields(description)
        counterparty = _clean(fields.get("NAME") or fields.get("CNTP_NAME"))
        end_to_end = _clean(fields.get("EREF"))
        for key, name in _SLASH_EXTRA:
            if fields.get(key) and name not in extra:
                extra[name] = _clean(fields[key])
    elif supplementary and customer_reference and description.startswith(f"{customer_reference} {supplementary}"):
        # de Volksbank (ASN/SNS/RegioBank): :61: carries the counter account, the next line and :86: the name
        counterparty = supplementary
        extra["counterparty_account"] = customer_reference
        customer_reference = ""
    if is_asn_layout and _IBAN_LIKE.match(customer_reference):
        extra["counterparty_account"] = customer_reference
        customer_reference = ""
        counterparty = counterparty or supplementary

    reference = customer_reference if customer_reference.upper() not in _NO_REFERENCE else None
    if reference is None and end_to_end and end_to_end.upper() not in _NO_REFERENCE:
        reference = end_to_end
    if bank_reference and bank_reference.upper() in _NO_REFERENCE:
        bank_reference = None
    if supplementary:
        extra["supplementary_details"] = supplementary
    if non_swift:
        extra["non_swift"] = _clean(" ".join(non_swift))
    return make_record(
        row,
        account=statement["account"],
        booked_date=booked.isoformat(),
        value_date=value_day.isoformat(),
        amount=decimal_text(amount, file, row),
        currency=statement["currency"],
        description=description or supplementary,
        counterparty=counterparty,
        reference=reference,
        transaction_type=type_code,
        external_id=bank_reference,
        statement_id=statement["statement_id"],
        extra={key: value for key, value in extra.items() if value is not None},
    )


def _statement(
    block: _Block, file: str, seen_ids: dict[str, int], parsed: ParsedFile
) -> tuple[dict[str, Any], list[Record]]:
    first: dict[str, _Tag] = {}
    for tag in block.tags:
        first.setdefault(tag.tag, tag)
    account_tag = first.get("25")
    account = " ".join(account_tag.value.split()) if account_tag else ""
    if not account:
        raise ParseError(file, account_tag.line if account_tag else block.line, "statement has no account (:25:)")
    opening_tag = first.get("60F") or first.get("60M") or first.get("60")
    closing_tag = first.get("62F") or first.get("62M") or first.get("62")
    is_interim = any(tag in first for tag in ("13D", "13", "34F", "90C", "90D"))
    if opening_tag is None and not is_interim:
        raise ParseError(file, block.line, "statement has no opening balance (:60F:/:60M:)")
    if closing_tag is None and not is_interim:
        parsed.warn(block.line, "statement has no closing balance (:62F:/:62M:); its balance is not checked")
    opening = _balance(opening_tag, file) if opening_tag else None
    closing = _balance(closing_tag, file) if closing_tag else None
    currency = (opening or closing or (None, None, None))[2]
    if currency is None and "34F" in first:
        floor = _FLOOR_LIMIT.match(first["34F"].value)
        currency = floor.group("currency") if floor else None
    number_tag = first.get("28C") or first.get("28")
    number = " ".join(number_tag.value.split()) if number_tag else ""
    base_id = f"{account}:{number or '-'}:{(closing or opening or (None, '-'))[1]}"
    seen_ids[base_id] = seen_ids.get(base_id, 0) + 1
    statement = {
        "statement_id": base_id if seen_ids[base_id] == 1 else f"{base_id}#{seen_ids[base_id]}",
        "account": account,
        "currency": currency,
        "opening_balance": opening[0] if opening else None,
        "closing_balance": closing[0] if closing else None,
        "opening_date": opening[1] if opening else None,
        "closing_date": closing[1] if closing else None,
    }

    records: list[Record] = []
    index = 0
    while index < len(block.tags):
        tag = block.tags[index]
        index += 1
        if tag.tag != "61":
            continue
        details: list[str] = []
        non_swift: list[str] = []
        # :86: and :NS: right after the :61: describe it; after a balance tag they describe the statement
        while index < len(block.tags) and block.tags[index].tag in {"86", "NS"}:
            (details if block.tags[index].tag == "86" else non_swift).extend(block.tags[index].lines)
            index += 1
        records.append(_transaction(tag, details, non_swift, statement, file, parsed))
    return statement, records


def parse_mt940(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse an MT940/MT942 file; every unreadable statement line raises ParseError with its line number."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    text = _decode(data, filename, options)
    result = ParsedFile()
    blocks = _tokenize(text, filename, result)
    if not blocks:
        raise ParseError(filename, None, "no MT940 tags found (expected ':20:', ':25:', ':61:'...)")
    seen_ids: dict[str, int] = {}
    for block in blocks:
        statement, records = _statement(block, filename, seen_ids, result)
        result.statements.append(statement)
        result.records.extend(records)
    return result
