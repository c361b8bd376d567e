"""OFX/QFX parser against every shared OFX fixture, plus malformed input.

Expected counts come from PROVENANCE.md; sums and negative counts from the TRNAMT values read out of each file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from finflow_assets.sources.parsers.ofx import parse_ofx
from tests.conftest import check_fixture_listing, fixture_bytes

# file -> (transactions, sum of TRNAMT, negative amounts, statements, currency)
EXPECTED: dict[str, tuple[int, str, int, int, str]] = {
    "ally_bank__reds.qfx": (2, "-1055.00", 2, 1, "USD"),
    "amex_creditcard_us__beangulp.ofx": (27, "-989.26", 27, 1, "USD"),
    "banco_do_brasil__asgrim.ofx": (1, "239.55", 0, 1, "BRL"),
    "banco_do_brasil_two_stmtrs__asgrim.ofx": (36, "-3648.66", 4, 2, "BRL"),
    "banque_populaire_fr__asgrim.ofx": (6, "-53.49", 6, 1, "EUR"),
    "capitalone_360_checking__reds.qfx": (4, "1233.55", 1, 1, "USD"),
    "checking2_us__beancountimport.ofx": (13, "-388.64", 11, 1, "USD"),
    "comments__ledgerautosync.ofx": (2, "123.45", 0, 1, "USD"),
    "credit_mutuel_fr__asgrim.ofx": (42, "-13491.59", 32, 1, "EUR"),
    "creditcard_gbp__asgrim.ofx": (1, "-100.00", 1, 1, "GBP"),
    "empty_datetime__asgrim.ofx": (2, "487.50", 0, 1, "AUD"),
    "iban_acctid__oca.ofx": (4, "-360", 4, 2, "USD"),
    "latin1_accents__ledgerautosync.ofx": (1, "-58.73", 1, 1, "USD"),
    "memo_ampersand__asgrim.ofx": (16, "393.82", 13, 1, "BRL"),
    "multiple_accounts_xml__asgrim.ofx": (3, "514.72", 1, 3, "GBP"),
    "n26_via_ofxstatement__reds.ofx": (1, "-1.50", 1, 1, "EUR"),
    "no_institution__ledgerautosync.ofx": (3, "-59.50", 2, 1, "USD"),
    "nubank_creditcard_br__ofxtools.ofx": (6, "-1280.91", 6, 1, "BRL"),
    "ofx2_xml__asgrim.ofx": (3, "250.00", 1, 1, "USD"),
    "ofxdownload__beangulp.ofx": (12, "-352.82", 12, 1, "USD"),
    "oneline__asgrim.ofx": (8, "-1977.10", 7, 1, "EUR"),
    "selfclose__asgrim.ofx": (5, "585.00", 3, 1, "BRL"),
    "spec160_stmtrs_example__libofx.ofx": (2, "-500.00", 2, 1, "USD"),
    "spec201_stmtrs_example__libofx.ofx": (2, "-500.00", 2, 1, "USD"),
    "stmtrs_euro__ofxtools.ofx": (2, "-500.00", 2, 1, "USD"),
}

# Out of scope / genuinely broken: file -> (row in the error, words in the message)
REJECTED: dict[str, tuple[int, str]] = {
    # an investment statement of security trades (BUYMF, TRANSFER...): no bank/credit-card transactions
    "example__beangulp.qfx": (11, "BUYMF"),
    # the STMTTRN body is literally '*snipped*' (both reference parsers fail too)
    "ofx200_xml_banking__asgrim.ofx": (32, "*snipped*"),
}


def _read(shared_fixtures: Path, name: str) -> bytes:
    return fixture_bytes(shared_fixtures, "ofx", name)


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "ofx", set(EXPECTED) | set(REJECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_totals(shared_fixtures: Path, name: str) -> None:
    count, total, negatives, statements, currency = EXPECTED[name]
    parsed = parse_ofx(_read(shared_fixtures, name), name, {})
    assert len(parsed.records) == count
    assert sum(Decimal(r["amount"]) for r in parsed.records) == Decimal(total)
    assert sum(r["amount"].startswith("-") for r in parsed.records) == negatives
    assert len(parsed.statements) == statements
    assert {r["currency"] for r in parsed.records} == {currency}
    for record in parsed.records:
        assert tuple(record) == RECORD_FIELDS
        assert record["booked_date"] and len(record["booked_date"]) == 10
        assert record["statement_id"] in {s["statement_id"] for s in parsed.statements}
    rows = [r["row"] for r in parsed.records]
    assert len(set(rows)) == len(rows), "rows identify records"


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_fixtures_raise_a_clear_parse_error(shared_fixtures: Path, name: str) -> None:
    row, words = REJECTED[name]
    with pytest.raises(ParseError) as caught:
        parse_ofx(_read(shared_fixtures, name), name, {})
    assert caught.value.row == row
    assert words in str(caught.value)
    assert f"row {row}" in str(caught.value)


def test_first_transaction_fields_and_line_row(shared_fixtures: Path) -> None:
    parsed = parse_ofx(_read(shared_fixtures, "banco_do_brasil__asgrim.ofx"), "bb.ofx", {})
    record = parsed.records[0]
    assert record["row"] == 43  # the line of <STMTTRN>
    assert record["booked_date"] == "2015-11-03"
    assert record["amount"] == "239.55"
    assert record["currency"] == "BRL"
    assert record["account"] == "455000-5"
    assert record["external_id"] == "20151103023955"
    assert record["transaction_type"] == "DEP"
    assert record["reference"] == "252602"  # CHECKNUM
    assert record["description"] == "DOC CRÉDITO EM CONTA"  # declared CHARSET 1252 but UTF-8
    assert parsed.statements[0]["closing_balance"] == "239.35"
    assert parsed.statements[0]["closing_date"] == "2015-12-09"


def test_one_line_file_numbers_rows_by_transaction_index(shared_fixtures: Path) -> None:
    parsed = parse_ofx(_read(shared_fixtures, "oneline__asgrim.ofx"), "oneline.ofx", {})
    assert [r["row"] for r in parsed.records] == list(range(1, 9))
    first = parsed.records[0]
    assert (first["booked_date"], first["amount"], first["external_id"]) == ("2016-07-19", "-1.55", "PU3YMMLLQ9")
    assert first["counterparty"] == "FRAIS TRIMESTRIELS"
    assert parsed.statements[0]["closing_balance"] == "100.00"


def test_multiple_statements_and_balances(shared_fixtures: Path) -> None:
    parsed = parse_ofx(_read(shared_fixtures, "multiple_accounts_xml__asgrim.ofx"), "multi.ofx", {})
    assert [(s["account"], s["closing_balance"]) for s in parsed.statements] == [
        ("54658222458596", "43.01"),
        ("546582659855", "3000.25"),
        ("21252344525548", "11728.56"),
    ]
    assert [r["account"] for r in parsed.records] == ["546582659855", "546582659855", "21252344525548"]
    assert parsed.records[0]["row"] == 54

    two = parse_ofx(_read(shared_fixtures, "banco_do_brasil_two_stmtrs__asgrim.ofx"), "two.ofx", {})
    assert [s["closing_balance"] for s in two.statements] == ["0.00", "4555.28"]
    assert "TED-CRÉDITO EM CONTA" in {r["description"] for r in two.records}  # cp1252 bytes


def test_bank_and_credit_card_statement_in_one_file(shared_fixtures: Path) -> None:
    parsed = parse_ofx(_read(shared_fixtures, "iban_acctid__oca.ofx"), "iban.ofx", {})
    assert [(s["account"], s["closing_balance"]) for s in parsed.statements] == [
        ("12345678901", "2156.56"),
        ("123412341234", "-562.00"),
    ]


def test_quirky_sgml(shared_fixtures: Path) -> None:
    latin1 = parse_ofx(_read(shared_fixtures, "latin1_accents__ledgerautosync.ofx"), "l1.ofx", {})
    assert latin1.records[0]["counterparty"] == "Virement Interac à: Jean"
    memo = parse_ofx(_read(shared_fixtures, "memo_ampersand__asgrim.ofx"), "amp.ofx", {})
    assert memo.records[0]["description"] == "Amazon.Com.Br Amazon & Cloud 3/3"
    assert 'IOF de "Leupay.Eu" & Whoelse' in {r["description"] for r in memo.records}
    euro = parse_ofx(_read(shared_fixtures, "stmtrs_euro__ofxtools.ofx"), "euro.ofx", {})
    assert [r["amount"] for r in euro.records] == ["-200.00", "-300.00"]  # '-200,00' decimal comma
    assert euro.statements[0]["closing_balance"] == "200.29"
    # empty LEDGERBAL/BALAMT: transactions load, the closing balance is unknown
    selfclose = parse_ofx(_read(shared_fixtures, "selfclose__asgrim.ofx"), "sc.ofx", {})
    assert selfclose.statements[0]["closing_balance"] is None
    assert [r["row"] for r in selfclose.records] == [40, 48, 56, 64, 72]
    n26 = parse_ofx(_read(shared_fixtures, "n26_via_ofxstatement__reds.ofx"), "n26.ofx", {})
    assert n26.statements[0]["closing_balance"] is None
    assert n26.records[0]["reference"] == "refnum"
    # BANKTRANLIST never closed: LEDGERBAL is still the statement's balance
    nubank = parse_ofx(_read(shared_fixtures, "nubank_creditcard_br__ofxtools.ofx"), "nu.ofx", {})
    assert nubank.statements[0]["closing_balance"] == "-1280.91"
    # Ally closes BANKTRANLIST twice; its values sit on the line after each tag
    ally = parse_ofx(_read(shared_fixtures, "ally_bank__reds.qfx"), "ally.qfx", {})
    assert [r["amount"] for r in ally.records] == ["-55.00", "-1000"]
    assert ally.records[0]["counterparty"] == "Transfer to savings account"


def test_investment_cash_lines(shared_fixtures: Path) -> None:
    parsed = parse_ofx(_read(shared_fixtures, "checking2_us__beancountimport.ofx"), "c2.ofx", {})
    first = parsed.records[0]
    assert (first["booked_date"], first["amount"], first["transaction_type"]) == ("2018-06-08", "-33.7200", "CASH")
    assert first["description"] == "DIRECT DEBIT WELLSFARGO CRCARDPMT"
    assert first["counterparty"] == "DIRECT DEBIT WELLS"
    assert parsed.statements[0]["account"] == "123456789"


MINIMAL = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
CHARSET:1252

<OFX>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1
<STMTRS>
<CURDEF>USD
<BANKACCTFROM><BANKID>1<ACCTID>42<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST>
<STMTTRN>
<TRNTYPE>DEBIT
<DTPOSTED>{posted}
<TRNAMT>{amount}
<FITID>A1
<NAME>Shop
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>10.00<DTASOF>20130831</LEDGERBAL>
</STMTRS>
</STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def _minimal(posted: str = "20130824200000[-8:PST]", amount: str = "-80.00") -> bytes:
    return MINIMAL.format(posted=posted, amount=amount).encode()


def test_dates_are_the_day_written_not_utc() -> None:
    record = parse_ofx(_minimal(), "m.ofx", {}).records[0]
    assert record["booked_date"] == "2013-08-24"  # 20:00 PST is already the 25th in UTC
    assert record["row"] == 12


def test_truncated_file() -> None:
    data = _minimal()
    cut = data[: data.index(b"<TRNAMT>")]
    with pytest.raises(ParseError) as caught:
        parse_ofx(cut, "cut.ofx", {})
    assert "truncated" in str(caught.value)
    assert caught.value.row is not None and f"row {caught.value.row}" in str(caught.value)


def test_truncated_fixture(shared_fixtures: Path) -> None:
    data = _read(shared_fixtures, "credit_mutuel_fr__asgrim.ofx")
    with pytest.raises(ParseError) as caught:
        parse_ofx(data[: len(data) // 2], "cm.ofx", {})
    assert "truncated" in str(caught.value) and "row " in str(caught.value)


def test_bad_amount() -> None:
    with pytest.raises(ParseError) as caught:
        parse_ofx(_minimal(amount="12,34,5x"), "bad.ofx", {})
    assert caught.value.row == 12
    assert "row 12" in str(caught.value) and "TRNAMT" in str(caught.value)


def test_bad_date() -> None:
    with pytest.raises(ParseError) as caught:
        parse_ofx(_minimal(posted="20130231"), "bad.ofx", {})
    assert "row 12" in str(caught.value) and "DTPOSTED" in str(caught.value)


def test_missing_required_element() -> None:
    data = _minimal().replace(b"<TRNAMT>-80.00\n", b"")
    with pytest.raises(ParseError) as caught:
        parse_ofx(data, "missing.ofx", {})
    assert "row 12" in str(caught.value) and "TRNAMT is missing" in str(caught.value)


def test_unreadable_text_is_an_error_not_skipped() -> None:
    data = _minimal().replace(b"<NAME>Shop", b"<NAME>Shop\n<name>lower-case tag")
    with pytest.raises(ParseError) as caught:
        parse_ofx(data, "junk.ofx", {})
    assert "row 18" in str(caught.value)


@pytest.mark.parametrize("data", [b"", b"   \n", b"not an ofx file", b'{"a": 1}'])
def test_empty_or_not_ofx(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_ofx(data, "x.ofx", {})


# Accepted deviations of real banks: read, with one journal warning per kind
WARNINGS: dict[str, list[str]] = {
    # Ally: no header at all, and </BANKTRANLIST> written twice
    "ally_bank__reds.qfx": [
        "no OFX header (OFXHEADER:100 or <?OFX ...?>) before <OFX>; read as OFX",
        "row 77: repeated end tag </BANKTRANLIST> ignored",
    ],
    # ofxstatement output: header inside <!-- -->, empty <LEDGERBAL> (ofxparse and ofxtools both reject it)
    "n26_via_ofxstatement__reds.ofx": [
        "no OFX header (OFXHEADER:100 or <?OFX ...?>) before <OFX>; read as OFX",
        "row 31: statement has no (or an empty) LEDGERBAL; its closing balance is unknown",
    ],
    "selfclose__asgrim.ofx": ["row 29: statement has no (or an empty) LEDGERBAL; its closing balance is unknown"],
    "credit_mutuel_fr__asgrim.ofx": [],  # a clean file warns about nothing
}


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_accepted_deviations_are_warned(shared_fixtures: Path, name: str) -> None:
    parsed = parse_ofx(_read(shared_fixtures, name), name, {})
    assert parsed.warnings == WARNINGS[name]
    assert len(parsed.records) == EXPECTED[name][0]
