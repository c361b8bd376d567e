"""camt.052/053/054 parser against every shared camt fixture, plus malformed and hostile input.

Entry and statement counts and currencies come from PROVENANCE.md (``Ntry``, ``Stmt/Rpt/Ntfctn``, ccy). PROVENANCE.md
gives no credit/debit split for camt, so the split below was counted from each file's ``Ntry/CdtDbtInd`` elements.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParsedFile, ParseError
from finflow_assets.sources.parsers.camt053 import parse_camt053
from tests.conftest import check_fixture_listing, fixture_bytes, fixture_files

# file -> (statements/reports/notifications, entries, CRDT entries, DBIT entries, currencies named in the file)
EXPECTED: dict[str, tuple[int, int, int, int, set[str]]] = {
    "camt052_lt_2024-03-14__subite.xml": (1, 0, 0, 0, {"EUR"}),
    "camt052_sparkasse_de__ofxstatement-iso20022.xml": (1, 5, 1, 4, {"EUR"}),
    "camt052_v2__genkgo.xml": (1, 1, 0, 1, {"SEK"}),
    "camt052_v6_amt_zero__genkgo.xml": (1, 1, 0, 1, {"CHF", "SEK", "USD"}),
    "camt053_be_month_large__subite.xml": (1, 268, 4, 264, {"EUR"}),
    "camt053_dnb_lt__ofxstatement-iso20022.xml": (1, 4, 0, 4, {"EUR"}),
    "camt053_dt_and_dttm__genkgo.xml": (1, 0, 0, 0, {"RON"}),
    "camt053_gcamp6__ofxstatement-iso20022.xml": (1, 5, 5, 0, {"XXX"}),
    "camt053_lt_2024-03-14__subite.xml": (2, 14, 4, 10, {"EUR"}),
    "camt053_nl__oca.xml": (1, 3, 1, 2, {"EUR"}),  # SOURCES: 3 Ntry / 4 TxDtls -> one record per Ntry
    "camt053_nl_example_a__newinnovations.xml": (2, 11, 4, 7, {"EUR"}),
    "camt053_nl_example_b__newinnovations.xml": (1, 19, 13, 6, {"EUR", "USD"}),
    "camt053_other_account_statement__subite.xml": (1, 3, 1, 2, {"EUR"}),
    "camt053_v2_all_balance_types__genkgo.xml": (1, 1, 1, 0, {"EUR"}),
    "camt053_v2_five_decimals__genkgo.xml": (1, 1, 1, 0, {"EUR"}),
    "camt053_v2_minimal__genkgo.xml": (1, 1, 1, 0, {"CHF", "EUR", "JPY", "SEK"}),
    "camt053_v2_multi_statement__genkgo.xml": (2, 2, 1, 1, {"EUR"}),
    "camt053_v3__genkgo.xml": (1, 1, 1, 0, {"CHF", "EUR", "JPY", "SEK"}),
    "camt053_v4__genkgo.xml": (1, 1, 1, 0, {"CHF", "EUR", "JPY", "SEK"}),
    "camt053_v4_raiffeisen_ch__ofxstatement-iso20022.xml": (1, 16, 1, 15, {"CHF"}),
    "camt053_v8__genkgo.xml": (1, 1, 1, 0, {"CHF", "EUR", "JPY", "SEK"}),
    "camt053_v8_redacted__ofxstatement-iso20022.xml": (1, 1, 1, 0, {"CHF"}),
    "camt054_lt_2024-03-18__subite.xml": (1, 1, 0, 1, {"EUR"}),  # one batch entry of 41 TxDtls
    "camt054_v2__genkgo.xml": (1, 1, 0, 1, {"SEK"}),
    "camt054_v8_uetr__genkgo.xml": (1, 1, 0, 1, {"SEK"}),
}

# Statements where opening + sum(entries) == closing. The genkgo samples and the OCA/gcamp6 files carry
# balances that do not add up (e.g. genkgo 'minimal': 18.15 + 8.85 != -27.00) and are left out.
BALANCED = [
    "camt052_sparkasse_de__ofxstatement-iso20022.xml",  # opening from PRCD
    "camt053_be_month_large__subite.xml",
    "camt053_dnb_lt__ofxstatement-iso20022.xml",
    "camt053_lt_2024-03-14__subite.xml",  # balances without CdtDbtInd
    "camt053_nl_example_a__newinnovations.xml",
    "camt053_nl_example_b__newinnovations.xml",  # 5 reversals: only balances if RvslInd keeps CdtDbtInd's sign
    "camt053_other_account_statement__subite.xml",
    "camt053_v2_multi_statement__genkgo.xml",
    "camt053_v4_raiffeisen_ch__ofxstatement-iso20022.xml",
    "camt053_v8_redacted__ofxstatement-iso20022.xml",
]


def _read(shared_fixtures: Path, name: str) -> bytes:
    return fixture_bytes(shared_fixtures, "camt", name)


def _parse(shared_fixtures: Path, name: str) -> ParsedFile:
    return parse_camt053(_read(shared_fixtures, name), name, {})


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "camt", set(EXPECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_counts_and_signs(shared_fixtures: Path, name: str) -> None:
    statements, entries, credits, debits, currencies = EXPECTED[name]
    parsed = _parse(shared_fixtures, name)
    assert len(parsed.statements) == statements
    assert len(parsed.records) == entries
    assert sum(not r["amount"].startswith("-") for r in parsed.records) == credits
    assert sum(r["amount"].startswith("-") for r in parsed.records) == debits
    assert {r["currency"] for r in parsed.records} <= currencies
    assert [r["row"] for r in parsed.records] == list(range(1, entries + 1))
    statement_ids = {s["statement_id"] for s in parsed.statements}
    assert len(statement_ids) == statements
    for record in parsed.records:
        assert tuple(record) == RECORD_FIELDS
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["booked_date"])
        assert re.fullmatch(r"-?\d+(\.\d+)?", record["amount"])
        assert record["statement_id"] in statement_ids
        assert record["account"]


@pytest.mark.parametrize("name", BALANCED)
def test_balances_continue(shared_fixtures: Path, name: str) -> None:
    parsed = _parse(shared_fixtures, name)
    for statement in parsed.statements:
        total = sum(Decimal(r["amount"]) for r in parsed.records if r["statement_id"] == statement["statement_id"])
        assert Decimal(statement["opening_balance"]) + total == Decimal(statement["closing_balance"]), statement


def test_first_entry_fields(shared_fixtures: Path) -> None:
    parsed = _parse(shared_fixtures, "camt053_nl__oca.xml")
    first = parsed.records[0]
    assert (first["row"], first["booked_date"], first["value_date"]) == (1, "2014-01-05", "2014-01-05")
    assert (first["amount"], first["currency"], first["account"]) == ("-754.25", "EUR", "NL77ABNA0574908765")
    assert first["counterparty"] == "INSURANCE COMPANY TESTX"  # the creditor of a debit
    assert first["reference"] == "435005714488-ABNO33052620"  # EndToEndId
    assert first["description"] == "Insurance policy 857239PERIOD 01.01.2014 - 31.12.2014"
    assert first["transaction_type"] == "PMNT/RDDT/ESDD"
    assert first["extra"]["mandate_id"] == "1880000341866"
    assert parsed.statements == [
        {
            "statement_id": "1234Test/1",
            "account": "NL77ABNA0574908765",
            "currency": "EUR",
            "opening_balance": "15568.27",
            "closing_balance": "15121.12",
            "opening_date": "2014-01-05",
            "closing_date": "2014-01-05",
        }
    ]
    # a batch entry stays one record with the entry amount; a reversal keeps its CdtDbtInd sign
    batch = parsed.records[1]
    assert (batch["amount"], batch["extra"]["tx_count"], batch["extra"]["reversal"]) == ("-664.05", "2", "true")
    assert batch["reference"] == "2018/125-20141229-NORM"  # PmtInfId of the batch


def test_reversals_follow_iso_semantics(shared_fixtures: Path) -> None:
    parsed = _parse(shared_fixtures, "camt053_nl_example_b__newinnovations.xml")
    reversals = [r for r in parsed.records if r["extra"].get("reversal")]
    assert len(reversals) == 5
    first = parsed.records[0]
    assert (first["booked_date"], first["amount"], first["currency"]) == ("2025-12-06", "10.00", "USD")
    assert first["transaction_type"] == "ACH Credit Reject"  # proprietary BkTxCd
    statement = parsed.statements[0]
    assert (statement["opening_balance"], statement["closing_balance"]) == ("-843686.20", "-843610.73")


def test_version_and_layout_variants(shared_fixtures: Path) -> None:
    # BookgDt as DtTm, UTF-8 names
    dnb = _parse(shared_fixtures, "camt053_dnb_lt__ofxstatement-iso20022.xml")
    assert (dnb.records[0]["booked_date"], dnb.records[0]["value_date"]) == ("2015-12-31", "2016-01-01")
    assert dnb.records[0]["description"] == "Sąskaitos aptarnavimo mokestis"
    # Othr/Id accounts, no BookgDt/ValDt: the statement's date is used and said so
    lithuania = _parse(shared_fixtures, "camt053_lt_2024-03-14__subite.xml")
    assert [s["account"] for s in lithuania.statements] == ["LT625883379695428516", "LT414319056143772570"]
    assert lithuania.records[0]["booked_date"] == "2024-03-14"
    assert lithuania.records[0]["extra"]["booked_date_source"] == "closing balance date"
    assert lithuania.statements[0]["opening_balance"] == "24045029.5"  # no CdtDbtInd: a credit balance
    # camt.054 notification: one batch entry
    notification = _parse(shared_fixtures, "camt054_lt_2024-03-18__subite.xml")
    entry = notification.records[0]
    assert (entry["amount"], entry["extra"]["tx_count"], entry["extra"]["status"]) == ("-194672.25", "41", "INFO")
    # camt.052 with PRCD as the opening balance; v8 party names under Pty; 5 decimals kept exactly
    report = _parse(shared_fixtures, "camt052_sparkasse_de__ofxstatement-iso20022.xml")
    assert (report.statements[0]["opening_balance"], report.statements[0]["closing_balance"]) == ("268.35", "16.95")
    assert report.records[0]["reference"] is None  # 'NONREF' placeholder
    v8 = _parse(shared_fixtures, "camt053_v8__genkgo.xml")
    assert v8.records[0]["counterparty"] == "NAME NAME"
    five = _parse(shared_fixtures, "camt053_v2_five_decimals__genkgo.xml")
    assert five.statements[0]["opening_balance"] == "18.150"
    uetr = _parse(shared_fixtures, "camt053_v8_redacted__ofxstatement-iso20022.xml")
    assert uetr.records[0]["extra"]["uetr"] == "75e77105-a09f-4f9e-bfa8-e82e91ab209b"
    # balances only: a statement, no records
    balances_only = _parse(shared_fixtures, "camt052_lt_2024-03-14__subite.xml")
    assert balances_only.records == [] and balances_only.statements[0]["account"] == "LT809872649478701594"


def _error(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_camt053(data, "bad.xml", {})
    return caught.value


def _nth(text: str, needle: str, n: int) -> int:
    index = -1
    for _ in range(n):
        index = text.index(needle, index + 1)
    return index


def test_truncated_file(shared_fixtures: Path) -> None:
    text = _read(shared_fixtures, "camt053_nl__oca.xml").decode()
    cut = text[: _nth(text, "<Ntry>", 2) + 200]  # inside the second entry
    error = _error(cut.encode())
    assert error.row == 2 and "row 2" in str(error) and "not well-formed" in str(error)


@pytest.mark.parametrize(
    ("pattern", "replacement", "words"),
    [
        (r"(<Ntry>\s*<Amt Ccy=\"EUR\">)754\.25", r"\g<1>75x.25", "not a non-negative decimal"),  # bad amount
        (r"(<Ntry>\s*<Amt Ccy=\"EUR\">)754\.25", r"\g<1>-754.25", "not a non-negative decimal"),
        (r"(<BookgDt>\s*<Dt>)2014-01-05", r"\g<1>2024-02-31", "not a valid date"),  # bad date
        (r"(<ValDt>\s*<Dt>)2014-01-05", r"\g<1>05-01-2014", "not an ISO date"),
        (r"<CdtDbtInd>DBIT</CdtDbtInd>\s*<Sts>", "<Sts>", "CdtDbtInd None"),  # missing element
        (r"<BookgDt>\s*<Dt>2014-01-05</Dt>", "<BookgDt><Foo>x</Foo>", "neither Dt nor DtTm"),
    ],
)
def test_malformed_first_entry_names_row_1(shared_fixtures: Path, pattern: str, replacement: str, words: str) -> None:
    text = _read(shared_fixtures, "camt053_nl__oca.xml").decode()
    broken, count = re.subn(pattern, replacement, text, count=1)
    assert count == 1
    error = _error(broken.encode())
    assert error.row == 1 and "row 1" in str(error) and words in str(error)


def test_missing_account_and_wrong_document(shared_fixtures: Path) -> None:
    text = _read(shared_fixtures, "camt053_nl__oca.xml").decode()
    no_account = re.sub(r"<Acct>.*?</Acct>", "", text, count=1, flags=re.S)
    error = _error(no_account.encode())
    assert error.row == 1 and "no Acct/Id" in str(error)
    pain = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>'
    assert "not a camt" in str(_error(pain))


def test_empty_and_non_xml_input() -> None:
    for data in (b"", b" \n"):
        error = _error(data)
        assert error.row is None and "empty" in str(error)
    assert "not an XML document" in str(_error(b"date,amount\n"))


def test_doctype_and_entities_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<Document><BkToCstmrStmt><Stmt><Id>&lol2;</Id></Stmt></BkToCstmrStmt></Document>"
    )
    assert "DOCTYPE" in str(_error(bomb))
    external = b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><Document/>'
    assert "DOCTYPE" in str(_error(external))


def test_mutated_fixtures_raise_only_parse_error(shared_fixtures: Path) -> None:
    """Truncations and byte flips either parse or raise ParseError, never another exception."""
    rnd = random.Random(20240229)
    files = sorted(path for path in fixture_files(shared_fixtures, "camt") if path.stat().st_size < 20_000)
    for _ in range(300):
        data = bytearray(rnd.choice(files).read_bytes())
        if rnd.random() < 0.4:
            data = data[: rnd.randrange(len(data))]
        else:
            for _ in range(rnd.randint(1, 4)):
                data[rnd.randrange(len(data))] = rnd.choice(b"0123456789,./:-+?{}<>&;\n x\x00\xff")
        try:
            parse_camt053(bytes(data), "mutated", {})
        except ParseError:
            pass


def test_unknown_declared_encoding() -> None:
    error = _error(b'<?xml version="1.0" encoding="UZF-8"?><Document/>')
    assert "cannot be read" in str(error)


# Accepted deviations of real banks: read, with one journal warning per kind (first row, then a count)
WARNINGS: dict[str, list[str]] = {
    # anonymised real Lithuanian statement: no BookgDt/ValDt on any entry (pycamt reads its 14 entries too)
    "camt053_lt_2024-03-14__subite.xml": [
        "row 1: Ntry has no BookgDt; booked on the closing balance date (and 13 more)"
    ],
    # a statement with an opening but no closing (CLBD) balance
    "camt053_dt_and_dttm__genkgo.xml": [
        "statement I38y0h4YyLnQiOV6P7nEd44r2 has no closing balance; its balance is not checked"
    ],
    "camt053_be_month_large__subite.xml": [],  # a clean file warns about nothing
}


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_accepted_deviations_are_warned(shared_fixtures: Path, name: str) -> None:
    parsed = _parse(shared_fixtures, name)
    assert parsed.warnings == WARNINGS[name]
    assert len(parsed.records) == EXPECTED[name][1]
