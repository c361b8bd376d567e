"""OFX / QFX (1.x SGML and 2.x XML) bank and credit-card statements -> canonical records.

ofxtools' validating ``convert()`` rejects about half of real-world files (missing or commented headers,
``<?OFX`` without ``<?xml``, 10-digit BANKID, LANGUAGE 'FRE', elements out of order, missing LEDGERBAL; see
docs/formats.md), and it converts dates to UTC, which moves a ``20130824 [-8:PST]`` evening posting to the next day.
So the file is read tolerantly and the fields are taken from the element tree directly:

* the header (anything before ``<OFX>``) is only used to pick the text encoding;
* comments and processing instructions are blanked (keeping line numbers), ``<TAG/>`` becomes an empty element;
* the body is tokenised with ofxtools' own ``TreeBuilder`` regex. SGML leaf elements need no end tag; a text-less
  tag is an aggregate if ofxtools' models know it as one (or it is closed later), otherwise an empty element
  (``<BALAMT>`` with no value). An end tag repeated for an already closed aggregate (Ally) is ignored; any text
  the tokenizer cannot place, or a file ending inside an aggregate (truncated), is a ParseError, never skipped;
* dates are the calendar day as written in the file (the bank's local day), not shifted to UTC.

Mapping: TRNAMT (already + in / - out; a decimal comma is accepted) -> amount, FITID -> external_id, TRNTYPE ->
transaction_type, NAME or PAYEE/NAME -> counterparty, MEMO (else NAME) -> description, CHECKNUM or REFNUM ->
reference, DTPOSTED -> booked_date, DTAVAIL -> value_date, CURRENCY/CURSYM (else CURDEF) -> currency,
BANKACCTFROM / CCACCTFROM / INVACCTFROM ACCTID -> account. Every STMTRS / CCSTMTRS / INVSTMTRS is a statement:
LEDGERBAL (INVBAL/AVAILCASH for investment accounts) is the closing balance; an empty or missing LEDGERBAL gives
closing_balance None rather than rejecting the transactions. Investment statements are read for their cash
lines (INVBANKTRAN); security trades (BUYMF, INCOME, TRANSFER...) are outside the canonical record and raise.

``statement_id`` is ``ACCTID:DTSTART:closing date`` (the file name when the statement names no account); there
are no options.

``row`` is the line on which the ``<STMTTRN>`` starts. When two transactions start on the same line (single-line
files) line numbers do not identify records, so ``row`` is then the 1-based index of the STMTTRN in the file for
every record of that file (errors use the same numbering).
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import ofxtools.models as ofx_models
from ofxtools.models.base import Aggregate
from ofxtools.Parser import TreeBuilder

from .base import ParsedFile, ParseError, Record, decimal_text, make_record

_STATEMENT_TAGS = {"STMTRS": "bank", "CCSTMTRS": "creditcard", "INVSTMTRS": "investment"}
_ACCOUNT_TAGS = ("BANKACCTFROM", "CCACCTFROM", "INVACCTFROM")
_INVTRANLIST_PLAIN = {"DTSTART", "DTEND", "INVBANKTRAN"}
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": "\xa0"}
_ENTITY = re.compile(r"&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "UTF-8": "utf-8", "USASCII": "ascii"}
_AMOUNT = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")


def _ofxtools_vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """(aggregate tags, element tags) known to ofxtools' OFX models, to tell an empty element from an aggregate."""
    aggregates = {
        name
        for name in dir(ofx_models)
        if isinstance(getattr(ofx_models, name), type) and issubclass(getattr(ofx_models, name), Aggregate)
    }
    elements = {key.upper() for name in aggregates for key in getattr(getattr(ofx_models, name), "elements", {})}
    return frozenset(aggregates), frozenset(elements - aggregates)


_AGGREGATES, _ELEMENTS = _ofxtools_vocabulary()


def _decode(data: bytes, file: str) -> str:
    """UTF-8 when the bytes are valid UTF-8 (some files declare 1252 but are UTF-8), else the declared charset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    head = data[:1024].decode("latin-1").upper()
    declared = re.search(r"CHARSET:\s*([\w-]+)", head) or re.search(r'ENCODING="([\w-]+)"', head)
    codec = _CHARSETS.get(declared.group(1), declared.group(1)) if declared else "cp1252"
    for candidate in (codec, "cp1252", "latin-1"):
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    raise ParseError(file, None, "cannot decode the file")  # pragma: no cover - latin-1 decodes anything


def _blank(match: re.Match[str]) -> str:
    """Replace markup by spaces but keep its newlines so line numbers stay right."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _preclean(body: str) -> str:
    body = re.sub(r"<!--.*?-->", _blank, body, flags=re.S)
    body = re.sub(r"<\?.*?\?>", _blank, body, flags=re.S)
    return re.sub(r"<([A-Z0-9./_]+)\s*/>", r"<\1></\1>", body)


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
        return _ENTITIES.get(name.lower(), match.group(0))

    return _ENTITY.sub(replace, text)


class _LineTreeBuilder(TreeBuilder):
    """ofxtools' regex tokenizer with line numbers on every element and SGML-tolerant closing."""

    def __init__(self, file: str, line_of: Any, closed_later: set[str], parsed: ParsedFile) -> None:
        super().__init__()
        self._parsed = parsed
        self._file = file
        self._line_of = line_of
        self._closed_later = closed_later
        self._open: list[tuple[str, int]] = []
        self._seen: set[str] = set()

    def feed(self, data: str) -> None:  # type: ignore[override]
        position = 0
        for match in self.regex.finditer(data):
            gap = data[position : match.start()]
            if gap.strip():
                line = self._line_of(position + len(gap) - len(gap.lstrip()))
                raise ParseError(self._file, line, f"unreadable OFX text {gap.strip()[:60]!r}")
            position = match.end()
            line = self._line_of(match.start())
            groups = match.groupdict()
            tag = groups["tag"].strip()
            tail = (groups["tail"] or "").strip()
            if tail:
                raise ParseError(self._file, line, f"unexpected text {tail[:60]!r} after <{tag}>")
            text = groups["cdata"] if groups["cdata"] is not None else (groups["text"] or "").strip() or None
            if tag.startswith("/"):
                self._close(tag[1:], line, text)
            else:
                self._open_tag(tag, text, groups["closetag"] is not None, line)
        rest = data[position:]
        if rest.strip():
            line = self._line_of(position + len(rest) - len(rest.lstrip()))
            raise ParseError(self._file, line, f"unreadable OFX text {rest.strip()[:60]!r}")

    def _open_tag(self, tag: str, text: str | None, closed: bool, line: int) -> None:
        self.start(tag, {"line": str(line)})
        if text is not None:
            self.data(_unescape(text))
            self.end(tag)
        elif closed or tag in _ELEMENTS or (tag not in _AGGREGATES and tag not in self._closed_later):
            self.end(tag)  # empty element, e.g. <BALAMT> with no value
        else:
            self._open.append((tag, line))
            self._seen.add(tag)

    def _close(self, tag: str, line: int, text: str | None) -> None:
        if text:
            raise ParseError(self._file, line, f"unexpected text {text[:60]!r} after </{tag}>")
        if tag not in (name for name, _ in self._open):
            if tag in self._seen:  # a repeated end tag (Ally closes BANKTRANLIST twice); nothing is lost
                self._parsed.warn(line, f"repeated end tag </{tag}> ignored")
                return
            raise ParseError(self._file, line, f"end tag </{tag}> without a matching start tag")
        while self._open[-1][0] != tag:
            self.end(self._open.pop()[0])  # an SGML aggregate left open inside; close it with its parent
        self.end(self._open.pop()[0])

    def finish(self) -> ET.Element:
        if self._open:
            tag, line = self._open[-1]
            raise ParseError(self._file, line, f"file ends inside <{tag}> (truncated?)")
        return self.close()


def _parse_tree(text: str, file: str, parsed: ParsedFile) -> ET.Element:
    start = re.search(r"<OFX>", text, flags=re.I)
    if start is None:
        raise ParseError(file, None, "no <OFX> element: not an OFX file (or truncated before the body)")
    header = re.sub(r"<!--.*?-->", "", text[: start.start()], flags=re.S)  # ofxstatement comments its header out
    if not re.search(r"OFXHEADER\s*[:=]", header, flags=re.I):
        parsed.warn(None, "no OFX header (OFXHEADER:100 or <?OFX ...?>) before <OFX>; read as OFX")
    body = _preclean(text[start.start() :])
    newlines = [i for i, char in enumerate(body) if char == "\n"]
    first_line = text.count("\n", 0, start.start()) + 1

    def line_of(offset: int) -> int:
        return first_line + bisect.bisect_left(newlines, offset)

    closed_later = set(re.findall(r"</([A-Z0-9./_]+)>", body))
    builder = _LineTreeBuilder(file, line_of, closed_later, parsed)
    try:
        builder.feed(body)
        root = builder.finish()
    except ParseError:
        raise
    except Exception as exc:  # ofxtools / ElementTree structural errors
        raise ParseError(file, None, f"malformed OFX: {exc}") from None
    if root.tag != "OFX":
        raise ParseError(file, int(root.get("line", "0")) or None, f"root element is <{root.tag}>, not <OFX>")
    return root


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _day(value: str | None, file: str, row: int | None, what: str, required: bool = False) -> str | None:
    """``YYYYMMDD[HHMMSS[.XXX]][[tz]]`` -> ``YYYY-MM-DD`` (the day as written)."""
    if value is None:
        if required:
            raise ParseError(file, row, f"{what} is missing")
        return None
    match = re.match(r"(\d{4})(\d{2})(\d{2})", value)
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        raise ParseError(file, row, f"{what} {value!r} is not a valid OFX date") from None


def _amount(value: str | None, file: str, row: int | None, what: str) -> str:
    if value is None:
        raise ParseError(file, row, f"{what} is missing")
    compact = value.replace(" ", "")
    if not _AMOUNT.fullmatch(compact):
        raise ParseError(file, row, f"{what} {value!r} is not a number")
    try:
        number = Decimal(compact.replace(",", "."))
        return decimal_text(number if number else abs(number), file, row)
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise ParseError(file, row, f"{what} {value!r} is not a number") from None


def parse_ofx(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse an OFX/QFX file (any number of bank / credit-card statements) into records and statements."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    result = ParsedFile()
    root = _parse_tree(_decode(data, filename), filename, result)
    transactions = list(root.iter("STMTTRN"))
    lines = [int(t.get("line", "0")) for t in transactions]
    by_index = len(set(lines)) != len(lines)
    row_of = {id(t): (i + 1 if by_index else lines[i]) for i, t in enumerate(transactions)}

    seen_ids: dict[str, int] = {}
    statements = [e for e in root.iter() if e.tag in _STATEMENT_TAGS]
    if not statements:
        raise ParseError(filename, None, "no bank, credit-card or investment statement (STMTRS/CCSTMTRS) in file")
    for statement in statements:
        result.statements.append(_statement(statement, filename, seen_ids, result))
        summary = result.statements[-1]
        if statement.tag == "INVSTMTRS":
            _reject_security_transactions(statement, filename)
        for transaction in statement.iter("STMTTRN"):
            result.records.append(_record(transaction, row_of[id(transaction)], summary, filename))
    if len(result.records) != len(transactions):
        stray = next(t for t in transactions if not any(t is r for s in statements for r in s.iter("STMTTRN")))
        raise ParseError(filename, row_of[id(stray)], "STMTTRN outside any statement")
    return result


def _statement(statement: ET.Element, file: str, seen_ids: dict[str, int], parsed: ParsedFile) -> dict[str, Any]:
    line = int(statement.get("line", "0")) or None
    account = next(
        (_text(statement, f"{tag}/ACCTID") for tag in _ACCOUNT_TAGS if statement.find(tag) is not None), None
    )
    currency = _text(statement, "CURDEF")
    # ".//": an unclosed SGML BANKTRANLIST (Nubank) swallows LEDGERBAL, which is still this statement's balance
    tranlist = statement.find(".//BANKTRANLIST")
    if tranlist is None:
        tranlist = statement.find(".//INVTRANLIST")
    opening_date = _day(_text(tranlist, "DTSTART"), file, line, "DTSTART")
    end_date = _day(_text(tranlist, "DTEND"), file, line, "DTEND")
    if statement.tag == "INVSTMTRS":
        balance_text, balance_date = _text(statement, ".//INVBAL/AVAILCASH"), _text(statement, "DTASOF")
    else:
        balance_text, balance_date = _text(statement, ".//LEDGERBAL/BALAMT"), _text(statement, ".//LEDGERBAL/DTASOF")
    closing = _amount(balance_text, file, line, "LEDGERBAL/BALAMT") if balance_text is not None else None
    if closing is None:
        parsed.warn(line, "statement has no (or an empty) LEDGERBAL; its closing balance is unknown")
    closing_date = _day(balance_date, file, line, "LEDGERBAL/DTASOF") or end_date
    base_id = f"{account}:{opening_date or ''}:{closing_date or ''}" if account else file
    seen_ids[base_id] = seen_ids.get(base_id, 0) + 1
    statement_id = base_id if seen_ids[base_id] == 1 else f"{base_id}#{seen_ids[base_id]}"
    return {
        "statement_id": statement_id,
        "account": account,
        "currency": currency.upper() if currency else None,
        "opening_balance": None,
        "closing_balance": closing,
        "opening_date": opening_date,
        "closing_date": closing_date,
    }


def _reject_security_transactions(statement: ET.Element, file: str) -> None:
    tranlist = statement.find(".//INVTRANLIST")
    for child in tranlist if tranlist is not None else []:
        if child.tag not in _INVTRANLIST_PLAIN:
            raise ParseError(
                file,
                int(child.get("line", "0")) or None,
                f"investment transaction <{child.tag}> is not a bank/credit-card transaction (unsupported)",
            )


def _record(transaction: ET.Element, row: int, statement: Mapping[str, Any], file: str) -> Record:
    if transaction.text and transaction.text.strip():
        raise ParseError(file, row, f"STMTTRN holds text {transaction.text.strip()[:40]!r} instead of elements")
    name = _text(transaction, "NAME") or _text(transaction, "PAYEE/NAME")
    memo = _text(transaction, "MEMO")
    currency = _text(transaction, "CURRENCY/CURSYM") or statement["currency"]
    extra = {
        key: _text(transaction, path)
        for key, path in (
            ("user_date", "DTUSER"),
            ("sic", "SIC"),
            ("payee_id", "PAYEEID"),
            ("server_id", "SRVRTID"),
            ("correct_fitid", "CORRECTFITID"),
            ("correct_action", "CORRECTACTION"),
            ("currency_rate", "CURRENCY/CURRATE"),
            ("original_currency", "ORIGCURRENCY/CURSYM"),
            ("original_currency_rate", "ORIGCURRENCY/CURRATE"),
        )
        if _text(transaction, path) is not None
    }
    if extra.get("user_date"):
        extra["user_date"] = _day(extra["user_date"], file, row, "DTUSER")
    return make_record(
        row,
        account=statement["account"],
        booked_date=_day(_text(transaction, "DTPOSTED"), file, row, "DTPOSTED", required=True),
        value_date=_day(_text(transaction, "DTAVAIL"), file, row, "DTAVAIL"),
        amount=_amount(_text(transaction, "TRNAMT"), file, row, "TRNAMT"),
        currency=currency.upper() if currency else None,
        description=memo or name,
        counterparty=name,
        reference=_text(transaction, "CHECKNUM") or _text(transaction, "REFNUM"),
        transaction_type=_text(transaction, "TRNTYPE"),
        external_id=_text(transaction, "FITID"),
        statement_id=statement["statement_id"],
        extra=extra,
    )
