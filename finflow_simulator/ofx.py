"""Render OFX 1.0.2 (SGML) statement downloads, the way US banks' "Web Connect / QFX" exports look.

SGML leaf elements have no end tag, aggregates do; the header declares ``CHARSET:1252`` and the file is cp1252
(payee names with accents arrive as single bytes). One ``<STMTTRN>`` per line block, so the parser's ``row`` is
the line of the ``<STMTTRN>`` tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .model import money
from .statement import AccountDay

HEADER = (
    "OFXHEADER:100",
    "DATA:OFXSGML",
    "VERSION:102",
    "SECURITY:NONE",
    "ENCODING:USASCII",
    "CHARSET:1252",
    "COMPRESSION:NONE",
    "OLDFILEUID:NONE",
    "NEWFILEUID:NONE",
    "",
)
_TRNTYPE = {
    "ach": "DIRECTDEBIT",
    "payroll": "DIRECTDEBIT",
    "fee": "FEE",
    "transfer": "XFER",
    "interest": "INT",
    "wire": "DEBIT",
    "check": "CHECK",
    "deposit": "DEP",
    "tax": "PAYMENT",
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ofx_time(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}.000[-5:EST]"


def render_ofx(
    statements: Sequence[AccountDay], *, server_time: datetime, org: str = "B1", fid: str = "10898"
) -> tuple[bytes, list[int]]:
    """One OFX file holding each account's statement; returns the bytes and each line's row, in input order."""
    out: list[str] = list(HEADER)
    out += [
        "<OFX>",
        "<SIGNONMSGSRSV1>",
        "<SONRS>",
        "<STATUS>",
        "<CODE>0",
        "<SEVERITY>INFO",
        "</STATUS>",
        f"<DTSERVER>{_ofx_time(server_time)}",
        "<LANGUAGE>ENG",
        "<FI>",
        f"<ORG>{org}",
        f"<FID>{fid}",
        "</FI>",
        f"<INTU.BID>{fid}",
        "</SONRS>",
        "</SIGNONMSGSRSV1>",
        "<BANKMSGSRSV1>",
    ]
    rows: list[int] = []
    for number, statement in enumerate(statements, start=1):
        day = f"{statement.day:%Y%m%d}"
        out += [
            "<STMTTRNRS>",
            f"<TRNUID>{number}",
            "<STATUS>",
            "<CODE>0",
            "<SEVERITY>INFO",
            "</STATUS>",
            "<STMTRS>",
            f"<CURDEF>{statement.currency}",
            "<BANKACCTFROM>",
            f"<BANKID>{statement.bank_id}",
            f"<ACCTID>{statement.account}",
            "<ACCTTYPE>CHECKING",
            "</BANKACCTFROM>",
            "<BANKTRANLIST>",
            f"<DTSTART>{day}",
            f"<DTEND>{day}",
        ]
        for line in statement.lines:
            rows.append(len(out) + 1)
            trntype = _TRNTYPE.get(line.code) or ("CREDIT" if line.cents > 0 else "DEBIT")
            if trntype == "DIRECTDEBIT" and line.cents > 0:
                trntype = "DIRECTDEP"
            out += [
                "<STMTTRN>",
                f"<TRNTYPE>{trntype}",
                f"<DTPOSTED>{day}120000.000[-5:EST]",
                f"<TRNAMT>{money(line.cents)}",
                f"<FITID>{line.bank_ref}",
            ]
            if line.code == "check" and line.reference:
                out.append(f"<CHECKNUM>{line.reference}")
            elif line.reference:
                out.append(f"<REFNUM>{_escape(line.reference)}")
            out.append(f"<NAME>{_escape((line.counterparty or line.description)[:32])}")
            out.append(f"<MEMO>{_escape(line.description)}")
            out.append("</STMTTRN>")
        out += [
            "</BANKTRANLIST>",
            "<LEDGERBAL>",
            f"<BALAMT>{money(statement.closing)}",
            f"<DTASOF>{day}235959.000[-5:EST]",
            "</LEDGERBAL>",
            "<AVAILBAL>",
            f"<BALAMT>{money(statement.closing)}",
            f"<DTASOF>{day}235959.000[-5:EST]",
            "</AVAILBAL>",
            "</STMTRS>",
            "</STMTTRNRS>",
        ]
    out += ["</BANKMSGSRSV1>", "</OFX>", ""]
    return "\r\n".join(out).encode("cp1252", errors="replace"), rows
