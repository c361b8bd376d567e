"""ISO 20022 camt.053 statements (and camt.052 reports / camt.054 notifications) -> canonical records.

All three messages share the ``Ntry`` structure, so one reader handles ``Stmt``, ``Rpt`` and ``Ntfctn`` of any
schema version: elements are matched on their local name, the namespace (``camt.053.001.02`` ... ``.10``) is
ignored. pycamt (see docs/formats.md) rejects camt.054 and drops non-IBAN accounts, so the stdlib parser is used.

Safety: a document that declares a DOCTYPE (the only way to define entities) is rejected before parsing, so
entity expansion and external entities cannot happen; expat does not fetch anything by itself.

Mapping, one record per ``Ntry`` (a batch entry with several ``TxDtls`` stays one record carrying the entry
amount, as it is booked on the account; ``extra["tx_count"]`` says how many transactions it bundles):

* ``amount`` = ``Amt`` signed by the entry's ``CdtDbtInd`` (``CRDT`` +, ``DBIT`` -). ``RvslInd`` does *not* flip
  the sign: ISO 20022 defines ``CdtDbtInd`` of a reversal entry as the direction of the reversal booking itself
  ("CRDT + reversal: the original operation was a debit"). The newinnovations example B statement (5 reversals)
  only balances that way. The flag is kept as ``extra["reversal"]``;
* ``booked_date`` = ``BookgDt`` (``Dt`` or the date of ``DtTm``), else ``ValDt``, else the statement's date
  (``FrToDt/ToDtTm``, closing balance date, ``CreDtTm``) for files that omit both (Lithuanian samples);
  ``extra["booked_date_source"]`` says which. ``value_date`` = ``ValDt``;
* ``description`` = ``RmtInf/Ustrd`` joined (all ``TxDtls``), else ``AddtlTxInf``, else ``AddtlNtryInf``;
* ``counterparty`` = the other party's ``Nm`` in ``RltdPties``: the creditor for money out, the debtor for money
  in (the other way round for a reversal, whose parties are the original payment's); None when the
  transactions of a batch name different parties;
* ``reference`` = ``EndToEndId`` (not ``NOTPROVIDED``), else the batch ``PmtInfId``, else ``AcctSvcrRef``;
* ``external_id`` = the entry's ``AcctSvcrRef`` (the bank's unique reference), else ``NtryRef``;
* ``transaction_type`` = ``BkTxCd`` domain/family/sub-family (``PMNT/RCDT/ESCT``), else its proprietary code.

Statements: ``Id`` (``#n`` appended on a repeat), account ``IBAN`` or ``Othr/Id``, opening balance ``OPBD`` (else
``PRCD``), closing ``CLBD``, signed by their ``CdtDbtInd`` (a balance without one is a credit).

``row`` is the 1-based index of the ``Ntry`` element in the document (XML has no useful line per record);
errors inside an entry name that index, XML syntax errors the entry being read (``None`` outside an entry).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import ParsedFile, ParseError, Record, decimal_text, make_record, sniff_unicode

_CONTAINERS = {"Stmt", "Rpt", "Ntfctn"}  # statement (053), report (052), notification (054)
_MESSAGES = {"BkToCstmrStmt", "BkToCstmrAcctRpt", "BkToCstmrDbtCdtNtfctn"}
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_NOT_PROVIDED = {"", "NOTPROVIDED", "NONREF"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element | None, name: str) -> Iterator[ET.Element]:
    if element is None:
        return iter(())
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element | None, path: str) -> ET.Element | None:
    """The first element along a '/'-separated path of local names, or None."""
    current = element
    for name in path.split("/"):
        current = next(_children(current, name), None)
        if current is None:
            return None
    return current


def _text(element: ET.Element | None, path: str) -> str | None:
    found = _child(element, path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _descendants(element: ET.Element | None, name: str) -> list[ET.Element]:
    if element is None:
        return []
    return [node for node in element.iter() if _local(node.tag) == name]


def _parse_xml(data: bytes, file: str) -> ET.Element:
    """Parse with expat after refusing DTDs; syntax errors name the entry being read (None outside entries)."""
    codec = sniff_unicode(data)  # UTF-16/32 with or without a BOM: read the prolog in its own code units
    probe = data.decode(codec, errors="replace") if codec else data.decode("latin-1")
    if not probe.lstrip("\ufeff\xef\xbb\xbf \t\r\n").startswith("<"):
        raise ParseError(file, None, "not an XML document")
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", probe, re.IGNORECASE):
        raise ParseError(file, None, "XML declares a DOCTYPE/ENTITY, which is refused (entity expansion attack)")
    entries = 0
    open_entry: int | None = None
    root: ET.Element | None = None
    try:
        for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):
            if root is None:
                root = element
            if _local(element.tag) == "Ntry":
                if event == "start":
                    entries += 1
                open_entry = entries if event == "start" else None
    except ET.ParseError as exc:
        line, column = exc.position
        raise ParseError(
            file, open_entry, f"XML is not well-formed at line {line}, column {column} (truncated?): {exc.msg}"
        ) from None
    except (LookupError, ValueError) as exc:  # e.g. an unknown encoding in the XML declaration
        raise ParseError(file, open_entry, f"XML cannot be read: {exc}") from None
    if root is None:  # pragma: no cover - expat reports an empty document as a syntax error
        raise ParseError(file, None, "empty XML document")
    return root


def _day(text: str | None, file: str, row: int | None, what: str) -> str | None:
    if text is None:
        return None
    match = _DATE.match(text)
    if not match:
        raise ParseError(file, row, f"{what} {text!r} is not an ISO date")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        raise ParseError(file, row, f"{what} {text!r} is not a valid date") from None


def _date_choice(element: ET.Element | None, file: str, row: int | None, what: str) -> str | None:
    """A DateAndDateTimeChoice (``Dt`` or ``DtTm``) as YYYY-MM-DD."""
    if element is None:
        return None
    text = _text(element, "Dt") or _text(element, "DtTm")
    if text is None:
        raise ParseError(file, row, f"{what} has neither Dt nor DtTm")
    return _day(text, file, row, what)


def _signed_amount(element: ET.Element, file: str, row: int | None, what: str, *, indicator_required: bool) -> str:
    amount_text = _text(element, "Amt")
    if amount_text is None:
        raise ParseError(file, row, f"{what} has no Amt")
    if not _AMOUNT.match(amount_text):
        raise ParseError(file, row, f"{what} amount {amount_text!r} is not a non-negative decimal")
    try:
        amount = Decimal(amount_text)
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        raise ParseError(file, row, f"{what} amount {amount_text!r} is not a number") from None
    indicator = _text(element, "CdtDbtInd")
    if indicator is None and not indicator_required:
        indicator = "CRDT"
    if indicator not in ("CRDT", "DBIT"):
        raise ParseError(file, row, f"{what} CdtDbtInd {indicator!r} is not CRDT or DBIT")
    return decimal_text(-amount if indicator == "DBIT" else amount, file, row)


def _account(container: ET.Element, file: str, row: int | None) -> str:
    account = _text(container, "Acct/Id/IBAN") or _text(container, "Acct/Id/Othr/Id")
    if not account:
        raise ParseError(file, row, f"{_local(container.tag)} has no Acct/Id (IBAN or Othr/Id)")
    return account


def _balances(container: ET.Element, file: str) -> dict[str, tuple[str, str | None, str | None]]:
    """Balance type code -> (signed amount, date, currency); the first of each type wins."""
    result: dict[str, tuple[str, str | None, str | None]] = {}
    for balance in _children(container, "Bal"):
        code = _text(balance, "Tp/CdOrPrtry/Cd") or _text(balance, "Tp/CdOrPrtry/Prtry") or "?"
        amount = _signed_amount(balance, file, None, f"balance {code}", indicator_required=False)
        day = _date_choice(_child(balance, "Dt"), file, None, f"balance {code} date")
        currency = (_child(balance, "Amt").get("Ccy") or "").upper() or None  # type: ignore[union-attr]
        result.setdefault(code, (amount, day, currency))
    return result


def _party_name(transaction: ET.Element, role: str) -> str | None:
    """``Nm`` of RltdPties/<role> (``Dbtr/Nm`` in v2, ``Dbtr/Pty/Nm`` from v8), falling back to the ultimate party."""
    parties = _child(transaction, "RltdPties")
    for name in (role, f"Ultmt{role}"):
        party = _child(parties, name)
        names = _descendants(party, "Nm")
        if names and names[0].text and names[0].text.strip():
            return " ".join(names[0].text.split())
    return None


def _party_account(transaction: ET.Element, role: str) -> str | None:
    parties = _child(transaction, "RltdPties")
    return _text(parties, f"{role}Acct/Id/IBAN") or _text(parties, f"{role}Acct/Id/Othr/Id")


def _unique(values: list[str | None]) -> str | None:
    """The one value all transactions of an entry agree on, else None."""
    present = {value for value in values if value}
    return present.pop() if len(present) == 1 and all(values) else None


def _reference(value: str | None) -> str | None:
    """A reference, or None for the placeholders banks put in mandatory reference fields."""
    return value if value and value.upper() not in _NOT_PROVIDED else None


def _transaction_type(entry: ET.Element) -> tuple[str | None, str | None]:
    code = _child(entry, "BkTxCd")
    domain = _text(code, "Domn/Cd")
    family = _text(code, "Domn/Fmly/Cd")
    sub_family = _text(code, "Domn/Fmly/SubFmlyCd")
    proprietary = _text(code, "Prtry/Cd")
    structured = "/".join(part for part in (domain, family, sub_family) if part) or None
    return structured or proprietary, proprietary


def _entry(
    entry: ET.Element,
    row: int,
    statement: Mapping[str, Any],
    fallback_date: tuple[str | None, str],
    file: str,
    parsed: ParsedFile,
) -> Record:
    amount = _signed_amount(entry, file, row, "Ntry", indicator_required=True)
    currency = (_child(entry, "Amt").get("Ccy") or "").upper() or statement["currency"]  # type: ignore[union-attr]
    direction_in = not amount.startswith("-")
    reversal = (_text(entry, "RvslInd") or "").lower() in ("true", "1")
    booked = _date_choice(_child(entry, "BookgDt"), file, row, "BookgDt")
    value_day = _date_choice(_child(entry, "ValDt"), file, row, "ValDt")
    source = "BookgDt" if booked else "ValDt" if value_day else fallback_date[1]
    booked = booked or value_day or fallback_date[0]
    if booked is None:
        raise ParseError(file, row, "Ntry has no BookgDt/ValDt and the statement has no date to fall back on")
    if source != "BookgDt":
        parsed.warn(row, f"Ntry has no BookgDt; booked on the {source}")

    transactions = _descendants(_child(entry, "NtryDtls"), "TxDtls")
    # money in: the payer (Dbtr) is the other party; money out: the payee (Cdtr); a reversal swaps them
    role = "Dbtr" if direction_in != reversal else "Cdtr"
    counterparty = _unique([_party_name(tx, role) for tx in transactions]) if transactions else None
    counter_account = _unique([_party_account(tx, role) for tx in transactions]) if transactions else None
    unstructured = [
        " ".join(node.text.split())
        for tx in transactions
        for node in _descendants(_child(tx, "RmtInf"), "Ustrd")
        if node.text and node.text.strip() and node.text.strip().upper() not in _NOT_PROVIDED
    ]
    additional_tx = [text for tx in transactions if (text := _text(tx, "AddtlTxInf"))]
    description = " ".join(dict.fromkeys(unstructured)) or " ".join(additional_tx) or _text(entry, "AddtlNtryInf")

    end_to_end = [_text(tx, "Refs/EndToEndId") for tx in transactions]
    end_to_end_id = _unique([_reference(ref) for ref in end_to_end])
    batch = _child(entry, "NtryDtls/Btch")
    servicer_ref = _reference(_text(entry, "AcctSvcrRef"))
    entry_ref = _reference(_text(entry, "NtryRef"))
    reference = end_to_end_id or _reference(_text(batch, "PmtInfId")) or servicer_ref
    transaction_type, proprietary = _transaction_type(entry)
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
    extra: dict[str, str | None] = {
        "status": status,
        "reversal": "true" if reversal else None,
        "booked_date_source": source if source != "BookgDt" else None,
        "entry_ref": entry_ref,
        "account_servicer_ref": servicer_ref,
        "bank_tx_code_proprietary": proprietary,
        "counterparty_account": counter_account,
        "tx_count": str(len(transactions)) if len(transactions) > 1 else _text(batch, "NbOfTxs"),
        "mandate_id": _unique([_text(tx, "Refs/MndtId") for tx in transactions]) if transactions else None,
        "uetr": _unique([_text(tx, "Refs/UETR") for tx in transactions]) if transactions else None,
        "additional_entry_info": _text(entry, "AddtlNtryInf"),
    }
    return make_record(
        row,
        account=statement["account"],
        booked_date=booked,
        value_date=value_day,
        amount=amount,
        currency=currency,
        description=description,
        counterparty=counterparty,
        reference=reference,
        transaction_type=transaction_type,
        external_id=servicer_ref or entry_ref,
        statement_id=statement["statement_id"],
        extra={key: value for key, value in extra.items() if value is not None},
    )


def parse_camt053(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse a camt.052/053/054 document; malformed entries raise ParseError naming the entry index."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    root = _parse_xml(data, filename)
    if _local(root.tag) != "Document" or not any(_local(child.tag) in _MESSAGES for child in root):
        raise ParseError(filename, None, f"<{_local(root.tag)}> is not a camt.052/053/054 Document")
    entry_rows = {id(node): index for index, node in enumerate(_descendants(root, "Ntry"), start=1)}

    result = ParsedFile()
    seen_ids: dict[str, int] = {}
    for message in root:
        if _local(message.tag) not in _MESSAGES:
            continue
        header_date = _day(_text(message, "GrpHdr/CreDtTm"), filename, None, "GrpHdr/CreDtTm")
        for container in message:
            if _local(container.tag) not in _CONTAINERS:
                continue
            entries = list(_children(container, "Ntry"))
            first_row = entry_rows[id(entries[0])] if entries else None
            account = _account(container, filename, first_row)
            balances = _balances(container, filename)
            opening = balances.get("OPBD") or balances.get("PRCD")
            closing = balances.get("CLBD")
            entry_currencies = [amount.get("Ccy") for e in entries if (amount := _child(e, "Amt")) is not None]
            currency = (
                (_text(container, "Acct/Ccy") or "").upper()
                or (opening or closing or (None, None, None))[2]
                or next((code.upper() for code in entry_currencies if code), None)
            )
            base_id = _text(container, "Id") or f"{account}:{(closing or opening or (None, '-'))[1]}"
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
            result.statements.append(statement)
            if _local(container.tag) == "Stmt" and (opening is None or closing is None):
                missing = " and ".join(name for name, b in (("opening", opening), ("closing", closing)) if b is None)
                result.warn(first_row, f"statement {base_id} has no {missing} balance; its balance is not checked")
            to_date = _day(_text(container, "FrToDt/ToDtTm"), filename, None, "FrToDt/ToDtTm")
            created = _day(_text(container, "CreDtTm"), filename, None, "CreDtTm")
            fallback = next(
                (
                    (day, source)
                    for day, source in (
                        (to_date, "statement period end"),
                        (closing[1] if closing else None, "closing balance date"),
                        (created, "statement creation date"),
                        (header_date, "message creation date"),
                    )
                    if day
                ),
                (None, "none"),
            )
            for entry in entries:
                result.records.append(_entry(entry, entry_rows[id(entry)], statement, fallback, filename, result))
    return result
