"""Render ISO 20022 camt.053.001.02 bank-to-customer statements (one ``Stmt`` per account in one message).

Entries carry ``Amt``/``CdtDbtInd``/``Sts``/``BookgDt``/``ValDt``/``AcctSvcrRef``/``BkTxCd`` and one ``TxDtls`` with
the end-to-end id, the other party and the unstructured remittance text; balances are ``OPBD`` and ``CLBD``.
The parser's ``row`` is the 1-based index of the ``Ntry`` in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from .model import Line, money_abs
from .statement import AccountDay

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
_FAMILY = {
    "transfer": ("PMNT", "ICDT", "BOOK"),
    "wire": ("PMNT", "ICDT", "XBCT"),
    "interest": ("ACMT", "MDOP", "INTR"),
    "fee": ("ACMT", "MDOP", "CHRG"),
    "loan": ("LDAS", "CSLN", "PPAY"),
    "tax": ("PMNT", "ICDT", "DMCT"),
}


def _balance(code: str, cents: int, currency: str, day: str) -> str:
    indicator = "DBIT" if cents < 0 else "CRDT"
    return (
        f"      <Bal>\n        <Tp>\n          <CdOrPrtry>\n            <Cd>{code}</Cd>\n          </CdOrPrtry>\n"
        f'        </Tp>\n        <Amt Ccy="{currency}">{money_abs(cents)}</Amt>\n'
        f"        <CdtDbtInd>{indicator}</CdtDbtInd>\n"
        f"        <Dt>\n          <Dt>{day}</Dt>\n        </Dt>\n      </Bal>"
    )


def _entry(line: Line, currency: str) -> str:
    day = line.booked.isoformat()
    value = day
    credit = line.cents > 0
    domain, family, sub = _FAMILY.get(line.code, ("PMNT", "RCDT" if credit else "ICDT", "DMCT"))
    if credit and family == "ICDT":
        family = "RCDT"
    role = "Dbtr" if credit else "Cdtr"
    parties = (
        f"            <RltdPties>\n              <{role}>\n                <Nm>{escape(line.counterparty)}</Nm>\n"
        f"              </{role}>\n            </RltdPties>\n"
        if line.counterparty
        else ""
    )
    return (
        "      <Ntry>\n"
        f'        <Amt Ccy="{currency}">{money_abs(line.cents)}</Amt>\n'
        f"        <CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>\n"
        "        <RvslInd>false</RvslInd>\n"
        "        <Sts>BOOK</Sts>\n"
        f"        <BookgDt>\n          <Dt>{day}</Dt>\n        </BookgDt>\n"
        f"        <ValDt>\n          <Dt>{value}</Dt>\n        </ValDt>\n"
        f"        <AcctSvcrRef>{escape(line.bank_ref)}</AcctSvcrRef>\n"
        "        <BkTxCd>\n          <Domn>\n"
        f"            <Cd>{domain}</Cd>\n            <Fmly>\n              <Cd>{family}</Cd>\n"
        f"              <SubFmlyCd>{sub}</SubFmlyCd>\n            </Fmly>\n          </Domn>\n        </BkTxCd>\n"
        "        <NtryDtls>\n          <TxDtls>\n            <Refs>\n"
        f"              <AcctSvcrRef>{escape(line.bank_ref)}</AcctSvcrRef>\n"
        f"              <EndToEndId>{escape(line.reference or 'NOTPROVIDED')}</EndToEndId>\n"
        "            </Refs>\n"
        "            <AmtDtls>\n              <TxAmt>\n"
        f'                <Amt Ccy="{currency}">{money_abs(line.cents)}</Amt>\n'
        "              </TxAmt>\n            </AmtDtls>\n"
        f"{parties}"
        f"            <RmtInf>\n              <Ustrd>{escape(line.description)}</Ustrd>\n            </RmtInf>\n"
        "          </TxDtls>\n        </NtryDtls>\n"
        "      </Ntry>"
    )


def render_camt053(statements: Sequence[AccountDay], *, created: datetime, message_id: str) -> tuple[bytes, list[int]]:
    """One camt.053 document; returns the bytes and each line's row (its ``Ntry`` index in the document)."""
    stamp = f"{created:%Y-%m-%dT%H:%M:%S}+00:00"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "  <BkToCstmrStmt>",
        f"    <GrpHdr>\n      <MsgId>{message_id}</MsgId>\n      <CreDtTm>{stamp}</CreDtTm>\n"
        "      <MsgPgntn>\n        <PgNb>1</PgNb>\n        <LastPgInd>true</LastPgInd>\n"
        "      </MsgPgntn>\n    </GrpHdr>",
    ]
    rows: list[int] = []
    entry = 0
    for statement in statements:
        day = statement.day.isoformat()
        out.append(
            "    <Stmt>\n"
            f"      <Id>{statement.account}-{statement.day:%Y%m%d}-{statement.sequence:04d}</Id>\n"
            f"      <ElctrncSeqNb>{statement.sequence}</ElctrncSeqNb>\n"
            f"      <CreDtTm>{stamp}</CreDtTm>\n"
            f"      <FrToDt>\n        <FrDtTm>{day}T00:00:00+00:00</FrDtTm>\n"
            f"        <ToDtTm>{day}T23:59:59+00:00</ToDtTm>\n      </FrToDt>\n"
            f"      <Acct>\n        <Id>\n          <Othr>\n            <Id>{statement.account}</Id>\n"
            f"          </Othr>\n        </Id>\n        <Ccy>{statement.currency}</Ccy>\n"
            f"        <Nm>{escape(statement.name)}</Nm>\n"
            f"        <Svcr>\n          <FinInstnId>\n            <BIC>{statement.bank_id}</BIC>\n"
            "          </FinInstnId>\n        </Svcr>\n      </Acct>"
        )
        out.append(_balance("OPBD", statement.opening, statement.currency, day))
        out.append(_balance("CLBD", statement.closing, statement.currency, day))
        for line in statement.lines:
            entry += 1
            rows.append(entry)
            out.append(_entry(line, statement.currency))
        out.append("    </Stmt>")
    out += ["  </BkToCstmrStmt>", "</Document>", ""]
    return "\n".join(out).encode("utf-8"), rows
