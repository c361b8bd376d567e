"""BAI2 cash-management (balance and transaction) reports -> canonical records.

The ``bai2`` library (0.15) reads only 1 of the 5 moov-io samples without errors (see docs/formats.md): it cannot
take an ``03`` summary split across ``88`` continuations, several records on one physical line, records without
the ``/`` terminator, newline-delimited ``88`` text, or a ``/`` inside a reference. So the records are read here;
the library's type-code table (``bai2.constants.TypeCodes``) is used for the direction of codes outside the
100-699 ranges and for the code descriptions.

Reading rules:

* a logical record starts with its two-digit code (``01 02 03 16 49 88 98 99``) and ends at the next one;
  several records may share a line (``.../ 16,...``); a line that starts with no record code continues the
  previous record (a wrapped text), and an ``88`` continues the previous record's fields (``03`` summaries,
  ``16`` text). A trailing ``/`` ends a record; a ``/`` inside a ``16`` reference or text is data;
* structure is enforced: ``01`` > ``02`` > ``03`` > ``16``, each closed by ``49``/``98``/``99``; a file that
  ends before its ``99`` trailer is truncated and raises. The ``49`` record count is only checked with
  ``options["verify_trailer_counts"]``: Goldman-style files (moov samples 4 and 5) carry counts that match no
  counting of their records (``99`` says 18 records in a 116-line file). The ``49`` control total (the sum of
  the account's ``03`` and ``16`` amounts) is checked unless ``options["verify_control_totals"]`` is False: a
  mismatch means a lost or garbled amount and raises;
* amounts are whole minor units without a decimal point (2 decimals, 0 for JPY/KRW..., 3 for BHD/KWD...); detail
  amounts are unsigned and signed by the type code: 100-399 credits (+), 400-699 debits (-); other codes by the
  library table, or ``options["type_code_signs"]`` (``{"920": "+"}``); a code with no known direction raises;
* ``funds type`` ``V`` carries a value date/time, ``S`` three availability amounts, ``D`` a counted list, all
  consumed before the bank/customer references.

Mapping: ``account`` and ``currency`` from the ``03`` (currency falling back to the ``02`` group, then
``options["currency"]``, else None), ``booked_date`` the group as-of date (``02``), ``value_date`` the ``V``
value date, ``transaction_type`` the BAI type code, ``reference`` the customer reference (else the bank
reference), ``external_id`` the bank reference, ``description`` the text including ``88`` continuations.
Statements: one per ``03`` account with opening ledger ``010`` and closing ledger ``015`` when present.

``row`` is the line on which the ``16`` record starts. In files that put several ``16`` records on one line
(moov sample 3) line numbers do not identify records, so ``row`` is then the 1-based index of the ``16`` record
in the file for every record of that file (as the OFX parser does for one-line files); errors inside a ``16``
record use the same numbering, structural errors the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from bai2.constants import TypeCodes, TypeCodeTransaction

from .base import ParsedFile, ParseError, Record, decimal_text, decode_unicode, make_record

_CODES = {"01", "02", "03", "16", "49", "88", "98", "99"}
_RECORD_START = re.compile(r"^(\d{2}),")
_SPLIT = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")
_FIELD_BREAK = "\x00"  # an 88 continuation: a field boundary, a space in text
_WRAP = "\x01"  # a physical line wrap: no field boundary, a space in text
_ZERO_DECIMALS = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF"}
_ZERO_DECIMALS |= {"XOF", "XPF"}
_THREE_DECIMALS = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_AMOUNT = re.compile(r"^[+-]?\d+$")


@dataclass
class _Record:
    code: str
    line: int
    text: str  # body after 'NN,' with continuation markers
    physical: int = 1  # physical records (the record plus its 88s) for the 49 record count

    def fields(self) -> list[str]:
        return self.text.replace(_WRAP, "").replace(_FIELD_BREAK, ",").split(",")


@dataclass
class _Account:
    record: _Record
    account: str
    currency: str | None
    summaries: dict[str, Decimal | None]
    details: list[_Record] = field(default_factory=list)
    physical: int = 0
    control: int = 0  # sum of the amounts as written (minor units), for the 49 control total


def _decode(data: bytes, file: str, options: Mapping[str, Any]) -> str:
    """UTF-8, else cp1252, else latin-1 (which reads any byte); ``options["encoding"]`` overrides."""
    if options.get("encoding"):
        try:
            return data.decode(options["encoding"])
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(file, None, f"cannot decode the file as {options['encoding']}: {exc}") from None
    unicode_text = decode_unicode(data, file)  # UTF-16/32, with or without a BOM
    if unicode_text is not None:
        return unicode_text
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _strip_terminator(text: str) -> str:
    text = text.rstrip()
    return text[:-1].rstrip() if text.endswith("/") else text


def _records(text: str, file: str, parsed: ParsedFile) -> list[_Record]:
    records: list[_Record] = []
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not raw.strip():
            continue
        pieces = _SPLIT.split(raw.strip())
        if len(pieces) > 1:
            parsed.warn(number, "several records on one physical line, read as separate records")
        for piece in pieces:
            body = _strip_terminator(piece.strip())
            match = _RECORD_START.match(body)
            if match and match.group(1) in _CODES:
                code, rest = match.group(1), body[match.end() :]
                if code != "88":
                    records.append(_Record(code, number, rest))
                    continue
                if not records:
                    raise ParseError(file, number, "88 continuation record before any record")
                records[-1].text += _FIELD_BREAK + rest
                records[-1].physical += 1
            elif records and records[-1].code in {"16", "03"}:
                parsed.warn(number, "line continues the previous record without an 88 code, read as wrapped text")
                records[-1].text += _WRAP + body  # a wrapped line of the previous record
            else:
                raise ParseError(file, number, f"{body[:30]!r} is not a BAI2 record (expected 01/02/03/16/49/88/98/99)")
    return records


def _date(text: str, file: str, row: int, what: str) -> str:
    text = text.strip()
    if not re.fullmatch(r"\d{6}", text):
        raise ParseError(file, row, f"{what} {text!r} is not YYMMDD")
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:])).isoformat()
    except ValueError:
        raise ParseError(file, row, f"{what} {text!r} is not a valid date") from None


def _minor_units(text: str, currency: str | None, file: str, row: int, what: str) -> Decimal:
    text = text.strip()
    if not _AMOUNT.match(text):
        raise ParseError(file, row, f"{what} amount {text!r} is not a whole number of minor units")
    places = 0 if currency in _ZERO_DECIMALS else 3 if currency in _THREE_DECIMALS else 2
    return Decimal(text).scaleb(-places) + 0  # '+ 0' turns '-000' into 0.00, not -0.00


def _funds_fields(funds_type: str, fields: list[str], index: int, file: str, row: int) -> tuple[int, dict[str, str]]:
    """Skip the availability fields that follow a funds type; return the next index and what they said."""
    kind = funds_type.strip().upper()
    if kind in {"", "Z", "0", "1", "2"}:
        return index, {}
    if kind == "V":
        if index + 2 > len(fields):
            raise ParseError(file, row, "funds type V without value date and time")
        return index + 2, {"value_date": fields[index], "value_time": fields[index + 1]}
    if kind == "S":
        if index + 3 > len(fields):
            raise ParseError(file, row, "funds type S without its three availability amounts")
        return index + 3, {"availability": "/".join(fields[index : index + 3])}
    if kind == "D":
        count_text = fields[index].strip() if index < len(fields) else ""
        if not count_text.isdigit():
            raise ParseError(file, row, f"funds type D distribution count {count_text!r} is not a number")
        end = index + 1 + 2 * int(count_text)
        if end > len(fields):
            raise ParseError(file, row, f"funds type D announces {count_text} distributions but has fewer")
        return end, {"availability": "/".join(fields[index + 1 : end])}
    raise ParseError(file, row, f"funds type {funds_type!r} is not one of Z 0 1 2 V S D")


def _summaries(
    fields: list[str], ends: set[int], currency: str | None, file: str, row: int, parsed: ParsedFile
) -> tuple[dict[str, Decimal | None], int]:
    """Type code -> signed amount of the 03 record's status/summary items (the first of each code wins), and the
    sum of every amount as written (minor units) for the ``49`` control total.

    ``ends`` holds the field indices where a physical record (the 03 or an 88) ends. Silicon Valley Bank writes
    one empty field too many before each record's ``/`` (``015,35217175,,,/``): at the start of an item, empty
    fields up to a record end that cannot be an item (fewer than four) are skipped with a warning.
    """
    result: dict[str, Decimal | None] = {}
    control = 0
    index = 0
    while index < len(fields):
        code = fields[index].strip()
        if not code and all(not value.strip() for value in fields[index:]):
            break
        end = min((e for e in ends if e > index), default=len(fields))
        if not code and end - index < 4 and all(not value.strip() for value in fields[index:end]):
            parsed.warn(row, "03 record: extra empty field before the record end ignored (Silicon Valley Bank style)")
            index = end
            continue
        if index + 4 > len(fields):
            fields = fields + [""] * (index + 4 - len(fields))  # trailing empty count/funds type omitted
        amount_text, funds_type = fields[index + 1].strip(), fields[index + 3]
        index, _ = _funds_fields(funds_type, fields, index + 4, file, row)
        if not code:
            continue  # an empty summary slot (Goldman Sachs files start with ',,,,')
        if not re.fullmatch(r"\d{3}", code):
            raise ParseError(file, row, f"03 summary type code {code!r} is not three digits")
        amount = _minor_units(amount_text, currency, file, row, f"03 summary {code}") if amount_text else None
        control += int(amount_text) if amount_text else 0
        result.setdefault(code, amount)
    return result, control


def _sign(code: str, options: Mapping[str, Any], file: str, row: int) -> int:
    overrides = options.get("type_code_signs") or {}
    if code in overrides:
        return -1 if str(overrides[code]).strip() in {"-", "debit", "D"} else 1
    number = int(code)
    if 100 <= number <= 399:
        return 1
    if 400 <= number <= 699:
        return -1
    known = TypeCodes.get(code)
    if known is not None and known.transaction is TypeCodeTransaction.credit:
        return 1
    if known is not None and known.transaction is TypeCodeTransaction.debit:
        return -1
    raise ParseError(file, row, f"type code {code} has no known credit/debit direction (set type_code_signs)")


def _take_field(text: str, position: int) -> tuple[str, int]:
    """The field starting at ``position`` (ended by ',' or an 88 boundary) and the position after it."""
    ends = [index for index in (text.find(",", position), text.find(_FIELD_BREAK, position)) if index >= 0]
    end = min(ends) if ends else len(text)
    return text[position:end].replace(_WRAP, ""), (end + 1 if ends else len(text))


def _detail(
    record: _Record,
    row: int,
    account: _Account,
    statement: Mapping[str, Any],
    booked: str,
    options: Mapping[str, Any],
    file: str,
) -> Record:
    text, position = record.text, 0
    code, position = _take_field(text, position)
    amount_text, position = _take_field(text, position)
    funds_type, position = _take_field(text, position)
    code = code.strip()
    if not re.fullmatch(r"\d{3}", code):
        raise ParseError(file, row, f"16 type code {code!r} is not three digits")
    if funds_type.strip().upper() in {"V", "S", "D"}:
        count = {"V": 2, "S": 3}.get(funds_type.strip().upper())
        extras: list[str] = []
        if count is None:
            first, position = _take_field(text, position)
            extras.append(first)
            count = 2 * int(first) if first.strip().isdigit() else 0
        for _ in range(count):
            value, position = _take_field(text, position)
            extras.append(value)
        _, availability = _funds_fields(funds_type, extras, 0, file, row)
    else:
        _, availability = _funds_fields(funds_type, [], 0, file, row)
    bank_reference, position = _take_field(text, position)
    customer_reference, position = _take_field(text, position)
    description = " ".join(text[position:].replace(_FIELD_BREAK, " ").replace(_WRAP, " ").split()) or None
    if amount_text.strip().startswith("-"):
        raise ParseError(file, row, f"16 amount {amount_text!r} is signed; detail amounts are unsigned")
    amount = _minor_units(amount_text, account.currency, file, row, "16")
    if _sign(code, options, file, row) < 0:
        amount = -amount  # unary minus keeps a zero amount '0.00'; '* -1' would give '-0.00'
    value_date = _date(availability["value_date"], file, row, "value date") if availability.get("value_date") else None
    bank_reference = bank_reference.strip() or None
    customer_reference = customer_reference.strip() or None
    known = TypeCodes.get(code)
    extra = {
        "funds_type": funds_type.strip() or None,
        "availability": availability.get("availability"),
        "value_time": availability.get("value_time") or None,
        "bank_reference": bank_reference,
        "customer_reference": customer_reference,
        "type_description": known.description if known is not None else None,
    }
    return make_record(
        row,
        account=account.account,
        booked_date=booked,
        value_date=value_date,
        amount=decimal_text(amount, file, row),
        currency=account.currency,
        description=description,
        counterparty=None,
        reference=customer_reference or bank_reference,
        transaction_type=code,
        external_id=bank_reference,
        statement_id=statement["statement_id"],
        extra={key: value for key, value in extra.items() if value is not None},
    )


def _check_control_total(
    account: _Account, written: str, file: str, row: int, options: Mapping[str, Any], parsed: ParsedFile
) -> None:
    """The 49 control total is the sum of every amount in the account's 03 and 16 records: a difference means a
    lost or garbled amount, so it raises (money is at stake). An empty total is accepted with a warning.
    ``options["verify_control_totals"] = False`` is for a bank whose trailers follow no counting (Goldman Sachs
    style, moov samples 4 and 5: ``49,-1260161341762,26`` after amounts summing to 7999960)."""
    if not options.get("verify_control_totals", True):
        parsed.warn(row, "49 control totals not checked (verify_control_totals is off for this source)")
        return
    total = account.control
    for detail in account.details:
        _, position = _take_field(detail.text, 0)
        amount_text, _ = _take_field(detail.text, position)
        if _AMOUNT.match(amount_text.strip()):
            total += int(amount_text)
    if not written:
        parsed.warn(row, "49 account trailer has no control total; amounts not cross-checked")
        return
    if not _AMOUNT.match(written):
        raise ParseError(file, row, f"49 control total {written!r} is not a whole number of minor units")
    if int(written) != total:
        raise ParseError(
            file,
            row,
            f"49 control total {written} for account {account.account} does not match the sum of its amounts "
            f"{total} (an amount is missing or garbled)",
        )


def parse_bai2(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse a BAI2 file; structure, amounts and dates are checked and any problem raises ParseError."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    result = ParsedFile()
    records = _records(_decode(data, filename, options), filename, result)
    if not records or records[0].code != "01":
        raise ParseError(filename, records[0].line if records else None, "file does not start with a 01 file header")

    detail_lines = [record.line for record in records if record.code == "16"]
    by_index = len(set(detail_lines)) != len(detail_lines)
    detail_index = 0

    seen_ids: dict[str, int] = {}
    group: dict[str, Any] | None = None
    account: _Account | None = None
    closed = False
    for record in records:
        fields = record.fields()
        if closed:
            raise ParseError(filename, record.line, f"record {record.code} after the 99 file trailer")
        if record.code == "01":
            if record is not records[0]:
                raise ParseError(filename, record.line, "second 01 file header")
        elif record.code == "02":
            if group is not None:
                raise ParseError(filename, record.line, "02 group header before the previous group's 98 trailer")
            if len(fields) < 4:
                raise ParseError(filename, record.line, "02 group header has no as-of date")
            currency = fields[5].strip().upper() if len(fields) > 5 and fields[5].strip() else None
            group = {
                "as_of": _date(fields[3], filename, record.line, "02 as-of date"),
                "currency": currency or options.get("currency"),
            }
        elif record.code == "03":
            if group is None:
                raise ParseError(filename, record.line, "03 account record outside a group (no 02 header)")
            if account is not None:
                raise ParseError(filename, record.line, "03 account record before the previous account's 49")
            number = fields[0].strip()
            if not number:
                raise ParseError(filename, record.line, "03 account record has no account number")
            currency = (fields[1].strip().upper() if len(fields) > 1 else "") or group["currency"]
            ends, total = set(), -2  # field indices (after account and currency) where a physical record ends
            for piece in record.text.replace(_WRAP, "").split(_FIELD_BREAK):
                total += len(piece.split(","))
                ends.add(total)
            summaries, control = _summaries(fields[2:], ends, currency, filename, record.line, result)
            account = _Account(record, number, currency, summaries, physical=record.physical, control=control)
        elif record.code == "16":
            if account is None or group is None:
                raise ParseError(filename, record.line, "16 transaction detail outside an account (no 03 record)")
            account.details.append(record)
            account.physical += record.physical
        elif record.code == "49":
            if account is None or group is None:
                raise ParseError(filename, record.line, "49 account trailer without an open 03 account")
            account.physical += record.physical
            count_text = fields[1].strip() if len(fields) > 1 else ""
            if options.get("verify_trailer_counts") and count_text.isdigit() and int(count_text) != account.physical:
                raise ParseError(
                    filename,
                    record.line,
                    f"49 trailer counts {count_text} records for account {account.account}, "
                    f"{account.physical} were read (records missing?)",
                )
            opening, closing = account.summaries.get("010"), account.summaries.get("015")
            base_id = f"{account.account}:{group['as_of']}"
            seen_ids[base_id] = seen_ids.get(base_id, 0) + 1
            statement = {
                "statement_id": base_id if seen_ids[base_id] == 1 else f"{base_id}#{seen_ids[base_id]}",
                "account": account.account,
                "currency": account.currency,
                "opening_balance": format(opening, "f") if opening is not None else None,
                "closing_balance": format(closing, "f") if closing is not None else None,
                "opening_date": group["as_of"] if opening is not None else None,
                "closing_date": group["as_of"] if closing is not None else None,
            }
            result.statements.append(statement)
            for detail in account.details:
                detail_index += 1
                row = detail_index if by_index else detail.line
                result.records.append(_detail(detail, row, account, statement, group["as_of"], options, filename))
            # after the details, so that an unreadable amount is reported on its own row
            _check_control_total(account, fields[0].strip() if fields else "", filename, record.line, options, result)
            account = None
        elif record.code == "98":
            if group is None:
                raise ParseError(filename, record.line, "98 group trailer without an open 02 group")
            if account is not None:
                raise ParseError(filename, record.line, f"98 group trailer before account {account.account}'s 49")
            group = None
        elif record.code == "99":
            if group is not None or account is not None:
                raise ParseError(filename, record.line, "99 file trailer before the open group/account was closed")
            closed = True
    if not closed:
        last = records[-1].line
        raise ParseError(filename, last, "file ends without its 99 file trailer (truncated?)")
    return result
