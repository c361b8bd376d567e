"""Bank CSV reader against every shared bank_csv fixture (with the options a user would configure), plus unit and
malformed-input tests.

Expected counts / sums / signs were computed from the files by hand (csv module, column picked by reading the file),
not from this parser.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finflow_assets.sources.parsers.bank_csv import parse_amount, parse_bank_csv
from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from tests.conftest import check_fixture_listing, fixture_bytes

# Per-file options, as a user would configure the source; files not listed need none.
OPTIONS: dict[str, dict[str, Any]] = {
    # ASN Bank NL history has no header row: columns by position (column 8 is the balance *before* the booking)
    "asn_nl_no_header__ofxstatement-dutch.csv": {
        "has_header": False,
        "columns": {
            "date": 0,
            "account": 1,
            "counterparty": 3,
            "currency": 9,
            "amount": 10,
            "value_date": 12,
            "type": 14,
            "description": 17,
        },
    },
    # card export shows purchases as positive; "Currency" is the original currency, the amounts are in USD
    "creditcard_inverse_sign__oca.csv": {"negate": True, "currency": "USD", "columns": {"currency": None}},
    "csb43_es__hledger.csv": {"columns": {"description": "item1"}},
    "dcu_checking_us__reds.csv": {"currency": "USD"},
    # blank rows before the header and a disclaimer footer; the description is in "Action"
    "fidelity_cma_us__reds.csv": {"skip_footer": True, "currency": "USD", "columns": {"description": "Action"}},
    # "01/04/20" is dd/mm/yy (French bank) - the file alone cannot tell; footer "Balance at start of period" line
    "metadata_header_rows__oca.csv": {"skip_footer": True, "date_format": "%d/%m/%y", "currency": "EUR"},
    # US export; sign comes from the "Transaction Type" column (debit/credit)
    "mint_export__ledgerautosync.csv": {
        "date_format": "%m/%d/%Y",
        "currency": "USD",
        "columns": {"sign": "Transaction Type"},
    },
    # pending card payments have no "Completed Date", so the booking date is the start date
    "revolut__ofxstatement-revolut.csv": {"columns": {"date": "Started Date"}},
    "schwab_checking_us__reds.csv": {"currency": "USD"},
    # balance rows before and after the transactions, and a disclaimer footer
    "venmo_export__ledgerautosync.csv": {"skip_footer": True, "currency": "USD"},
    # credit card: purchases positive
    "viseca_creditcard_ch__camtcsv.csv": {"negate": True},
}

# file -> (records, sum of amounts, negatives, positives, currencies)
EXPECTED: dict[str, tuple[int, str, int, int, set[str | None]]] = {
    "asn_nl_no_header__ofxstatement-dutch.csv": (11, "-46.20", 8, 3, {"EUR"}),
    "creditcard_inverse_sign__oca.csv": (2, "1491.50", 1, 1, {"USD"}),
    "csb43_es__hledger.csv": (2, "1000.00", 1, 1, {"EUR"}),
    "csvbank_statement__beangulp.csv": (6, "-1490.16", 4, 2, {None}),
    "dcu_checking_us__reds.csv": (10, "500.00", 5, 5, {"USD"}),
    "debit_credit_columns__oca.csv": (2, "1500.00", 1, 1, {None}),
    "fidelity_cma_us__reds.csv": (11, "-7671.75", 7, 4, {"USD"}),
    "ing_de_latin1_semicolon__ofxstatement-de-ing.csv": (9, "-178.60", 8, 1, {"EUR"}),
    "ing_nl__ofxstatement-dutch.csv": (6, "19.38", 3, 2, {"EUR"}),
    "knab_nl__ofxstatement-dutch.csv": (28, "7.01", 15, 13, {"EUR"}),
    "lloyds_uk__ofxstatement-lloyds.csv": (12, "-3881.99", 10, 2, {None}),
    "metadata_header_rows__oca.csv": (4, "1069.32", 3, 1, {"EUR"}),
    "mint_export__ledgerautosync.csv": (2, "93.46", 1, 1, {"USD"}),
    "multi_currency__oca.csv": (2, "1491.50", 1, 1, {"USD", "EUR"}),
    "revolut__ofxstatement-revolut.csv": (9, "-31.59", 7, 1, {"EUR"}),
    "sample_fr_cp1252__hledger.csv": (3, "20.00", 2, 1, {None}),
    "sample_fr_utf8__hledger.csv": (3, "20.00", 2, 1, {None}),
    "schwab_checking_us__reds.csv": (2, "-1.00", 1, 1, {"USD"}),
    "semicolon_delimited__reds.csv": (2, "-802.35", 2, 0, {None}),
    "sparkasse_de_csv_camt__ofxstatement-sparkasse-freiburg.csv": (18, "107.17", 15, 2, {"EUR"}),
    "utrade_broker__beangulp.csv": (12, "3588.95", 1, 11, {None}),
    "venmo_export__ledgerautosync.csv": (4, "76.01", 2, 2, {"USD"}),
    "viseca_creditcard_ch__camtcsv.csv": (9, "-49.200", 7, 2, {"CHF"}),
}


def _parse(shared_fixtures: Path, name: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    data = fixture_bytes(shared_fixtures, "bank_csv", name)
    return parse_bank_csv(data, name, OPTIONS.get(name, {}) if options is None else options).records


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "bank_csv", set(EXPECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_totals(shared_fixtures: Path, name: str) -> None:
    count, total, negatives, positives, currencies = EXPECTED[name]
    records = _parse(shared_fixtures, name)
    amounts = [Decimal(r["amount"]) for r in records]
    assert len(records) == count
    assert sum(amounts) == Decimal(total)
    assert sum(a < 0 for a in amounts) == negatives
    assert sum(a > 0 for a in amounts) == positives
    assert {r["currency"] for r in records} == currencies
    for record in records:
        assert tuple(record) == RECORD_FIELDS
        assert isinstance(record["extra"]["raw"], dict)
    assert len({r["row"] for r in records}) == count


def test_ing_de_latin1_semicolon_preamble(shared_fixtures: Path) -> None:
    first = _parse(shared_fixtures, "ing_de_latin1_semicolon__ofxstatement-de-ing.csv")[0]
    assert first["row"] == 16  # 13 preamble lines + blank + header, found by its column names
    assert (first["booked_date"], first["value_date"]) == ("2018-12-28", "2018-12-28")
    assert (first["amount"], first["currency"], first["balance_after"]) == ("-5.50", "EUR", "150.00")
    assert first["counterparty"] == "PayDude (Europe) S.a.r.l. et Cie., S .C.A."
    assert first["transaction_type"] == "Lastschrift"
    assert first["extra"]["raw"]["Währung.1"] == "EUR"  # duplicate header made unique


def test_lloyds_debit_credit_columns(shared_fixtures: Path) -> None:
    records = _parse(shared_fixtures, "lloyds_uk__ofxstatement-lloyds.csv")
    first = records[0]
    assert (first["row"], first["booked_date"], first["amount"]) == (2, "2024-01-15", "-8.99")
    assert (first["balance_after"], first["account"], first["transaction_type"]) == ("2040.59", "1515152252", "DEB")
    # 01/12/2023 is 1 December: 15/01/2024 elsewhere in the file fixes dd/mm for every row
    fpi = records[3]
    assert (fpi["booked_date"], fpi["amount"], fpi["balance_after"]) == ("2023-12-01", "2000", "8029.49")


def test_knab_credit_debit_indicator_and_decimal_comma(shared_fixtures: Path) -> None:
    records = _parse(shared_fixtures, "knab_nl__ofxstatement-dutch.csv")
    first = records[0]
    assert (first["row"], first["booked_date"], first["amount"]) == (3, "2019-06-21", "-827.75")
    assert (first["counterparty"], first["description"], first["reference"]) == (
        "Gert Janssen (FR)",
        "Tresorie",
        "B9F21PGYA068V2KD",
    )
    assert records[1]["amount"] == "827.75"
    assert records[-1]["amount"] == "7.02"


def test_sparkasse_two_digit_years_and_value_date(shared_fixtures: Path) -> None:
    first = _parse(shared_fixtures, "sparkasse_de_csv_camt__ofxstatement-sparkasse-freiburg.csv")[0]
    assert (first["booked_date"], first["value_date"], first["amount"]) == ("2018-04-03", "2018-04-04", "-22.59")
    assert first["account"] == "12345678"
    assert first["extra"]["raw"]["Info"] == "Umsatz vorgemerkt"


def test_us_currency_formats(shared_fixtures: Path) -> None:
    dcu = _parse(shared_fixtures, "dcu_checking_us__reds.csv")
    assert (dcu[0]["booked_date"], dcu[0]["amount"], dcu[0]["balance_after"]) == ("2021-12-31", "-7971.39", "500.00")
    venmo = _parse(shared_fixtures, "venmo_export__ledgerautosync.csv")
    assert [(r["row"], r["amount"]) for r in venmo] == [(3, "73.01"), (4, "50.03"), (5, "-12.01"), (6, "-35.02")]
    assert venmo[0]["booked_date"] == "2020-01-01"  # ISO datetime
    schwab = _parse(shared_fixtures, "schwab_checking_us__reds.csv")
    assert [(r["amount"], r["balance_after"]) for r in schwab] == [("1.00", "2.00"), ("-2.00", "3.00")]


def test_no_header_and_debit_credit_indicators(shared_fixtures: Path) -> None:
    asn = _parse(shared_fixtures, "asn_nl_no_header__ofxstatement-dutch.csv")
    assert (asn[0]["row"], asn[0]["booked_date"], asn[0]["amount"]) == (1, "2022-06-17", "223.77")
    assert asn[1]["description"].startswith("'000000000000000000000000000000000 1111111111111111 Betaling")
    assert asn[0]["extra"]["raw"]["10"] == "223.77"
    ing = _parse(shared_fixtures, "ing_nl__ofxstatement-dutch.csv")
    assert [r["amount"] for r in ing] == ["-1.25", "1.25", "0.00", "20.00", "-0.31", "-0.31"]  # "Af Bij"
    assert ing[0]["booked_date"] == "2020-02-13"  # yyyymmdd
    oca = _parse(shared_fixtures, "debit_credit_columns__oca.csv")
    assert [(r["amount"], r["balance_after"]) for r in oca] == [("-33.50", "-23.50"), ("1533.50", "1510.00")]


def test_encodings_give_the_same_text(shared_fixtures: Path) -> None:
    cp1252 = _parse(shared_fixtures, "sample_fr_cp1252__hledger.csv")
    utf8 = _parse(shared_fixtures, "sample_fr_utf8__hledger.csv")
    assert [r["description"] for r in cp1252] == [r["description"] for r in utf8]
    assert cp1252[2]["description"] == "CAFÉ — €20 REÇU"
    assert cp1252[0]["booked_date"] == "2012-03-22"


def test_revolut_pending_rows_are_kept(shared_fixtures: Path) -> None:
    records = _parse(shared_fixtures, "revolut__ofxstatement-revolut.csv")
    pending = [r for r in records if r["extra"]["raw"]["State"] == "PENDING"]
    assert [(r["amount"], r["balance_after"]) for r in pending] == [("-44.57", None), ("-73.58", None)]


def test_footers_and_balance_lines_are_skipped_with_a_warning(shared_fixtures: Path) -> None:
    """Without options, Fidelity's disclaimer footer, Venmo's balance rows and OCA's 'Balance at start of period'
    (an amount, but a balance label where the date goes) are skipped, and each block is journaled."""
    name = "fidelity_cma_us__reds.csv"
    data = (shared_fixtures / "bank_csv" / name).read_bytes()
    parsed = parse_bank_csv(data, name, {"currency": "USD", "columns": {"description": "Action"}})
    assert len(parsed.records) == EXPECTED[name][0]
    assert parsed.warnings == [
        "row 23: 9 summary/footer row(s) without a date skipped"
        " (first: 'The data and information in this spreadsheet is pr')"
    ]
    name = "venmo_export__ledgerautosync.csv"
    parsed = parse_bank_csv((shared_fixtures / "bank_csv" / name).read_bytes(), name, {"currency": "USD"})
    assert [r["amount"] for r in parsed.records] == ["73.01", "50.03", "-12.01", "-35.02"]
    assert parsed.warnings == [
        "row 2: 1 summary/footer row(s) without a date skipped (first: 'my_username $0')",
        "row 7: 4 summary/footer row(s) without a date skipped (first: '$76.01')",
    ]
    name = "metadata_header_rows__oca.csv"
    data = (shared_fixtures / "bank_csv" / name).read_bytes()
    parsed = parse_bank_csv(data, name, {"date_format": "%d/%m/%y", "currency": "EUR"})
    assert sum(Decimal(r["amount"]) for r in parsed.records) == Decimal(EXPECTED[name][1])
    assert parsed.warnings == [
        "row 10: 1 summary/footer row(s) without a date skipped (first: 'Balance at start of period +30000,77')"
    ]


def test_rows_without_a_date_that_could_be_money_stay_errors(shared_fixtures: Path) -> None:
    """A dateless row with an amount and no balance label, or any dateless row between dated rows, could be a
    lost transaction: it is a ParseError, and skip_footer=False turns the recognition off altogether."""
    good = b"Date,Description,Amount\n2024-01-02,Coffee,-3.50\n2024-01-03,Refund,1.00\n"
    with pytest.raises(ParseError, match="row 4"):
        parse_bank_csv(good + b",Lunch,-12.00\n", "t.csv", {})
    with pytest.raises(ParseError, match="row 3: column 'Date'"):  # between dated rows, even with no amount
        parse_bank_csv(good.replace(b"2024-01-03,Refund,1.00", b"Total,,") + b"2024-01-04,Tea,-2.00\n", "t.csv", {})
    with pytest.raises(ParseError, match="row 3: column 'Date'"):
        parse_bank_csv(good.replace(b"2024-01-03,Refund,1.00", b"Total,,"), "t.csv", {"skip_footer": False})
    with pytest.raises(ParseError) as caught:
        _parse(shared_fixtures, "fidelity_cma_us__reds.csv", {"skip_footer": False})
    assert caught.value.row == 23
    assert "row 23" in str(caught.value) and "Run Date" in str(caught.value)


# ----------------------------------------------------------------------------------------------- unit tests


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("(1,234.56)", ".", "-1234.56"),
        ("123.45-", ".", "-123.45"),
        ("1.234,56", ",", "1234.56"),
        ("$1,234.56", ".", "1234.56"),
        ("€ 12,50", ",", "12.50"),
        ("£5", ".", "5"),
        ("12.00 CR", ".", "12.00"),
        ("12.00 DR", ".", "-12.00"),
        ("+ $73.01", ".", "73.01"),
        ("-$7,971.39", ".", "-7971.39"),
        ("1'234.50", ".", "1234.50"),
        ("EUR 1.234,56", ",", "1234.56"),
        ("1 234,56", ",", "1234.56"),
        (".11", ".", "0.11"),
    ],
)
def test_amount_formats(text: str, decimal: str, expected: str) -> None:
    assert parse_amount(text, "f.csv", 7, "Amount", decimal) == Decimal(expected)


@pytest.mark.parametrize("text", ["12,3x", "1,5", "12,34,5", "--5", "abc", "1e5", "", "CR"])
def test_bad_amount_formats(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_amount(text, "f.csv", 7, "Amount", ".")
    assert "row 7" in str(caught.value) and "Amount" in str(caught.value)


def _csv(*lines: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return parse_bank_csv(("\n".join(lines) + "\n").encode(), "t.csv", options or {}).records


def test_date_order_is_decided_per_file() -> None:
    records = _csv("Date,Description,Amount", "01/02/2020,a,1.00", "13/02/2020,b,2.00")
    assert [r["booked_date"] for r in records] == ["2020-02-01", "2020-02-13"]
    records = _csv("Date,Description,Amount", "01/02/2020,a,1.00", "02/13/2020,b,2.00")
    assert [r["booked_date"] for r in records] == ["2020-01-02", "2020-02-13"]


def test_ambiguous_dates_need_configuration() -> None:
    lines = ("Date,Description,Amount", "01/02/2020,a,1.00", "03/04/2020,b,2.00")
    with pytest.raises(ParseError) as caught:
        _csv(*lines)
    assert "ambiguous" in str(caught.value) and "row 2" in str(caught.value)
    records = _csv(*lines, options={"date_format": "%d/%m/%Y"})
    assert [r["booked_date"] for r in records] == ["2020-02-01", "2020-04-03"]


def test_decimal_comma_detected_per_file() -> None:
    records = _csv("Datum;Omschrijving;Bedrag", "01-02-2020;a;2.500", "02-02-2020;b;-1.234,56")
    assert [r["amount"] for r in records] == ["2500", "-1234.56"]


def test_explicit_columns_for_erp_exports() -> None:
    records = _csv(
        "posting,doc,text,eur,vendor",
        "2024-03-01,INV-1,Rent,-1000.00,ACME",
        options={
            "columns": {"date": "posting", "reference": "doc", "description": "text", "amount": 3},
            "currency": "EUR",
            "account": "4000",
        },
    )
    assert records[0]["amount"] == "-1000.00"
    assert (records[0]["reference"], records[0]["account"], records[0]["currency"]) == ("INV-1", "4000", "EUR")


# ----------------------------------------------------------------------------------------------- malformed input


def test_truncated_file(shared_fixtures: Path) -> None:
    data = fixture_bytes(shared_fixtures, "bank_csv", "lloyds_uk__ofxstatement-lloyds.csv")
    cut = data[: data.rindex(b"'99-88-74")]  # last line ends after "01/12/2023,BGC,"
    with pytest.raises(ParseError) as caught:
        parse_bank_csv(cut, "lloyds.csv", {})
    assert caught.value.row == 13
    assert "row 13" in str(caught.value) and "truncated" in str(caught.value)


def test_unterminated_quote() -> None:
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description,Amount", "2020-01-01,ok,1.00", '2020-01-02,"cut off,2.00')
    assert "row 3" in str(caught.value)


def test_bad_amount_names_row_column_and_value() -> None:
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description,Amount", "2020-01-01,a,1.00", "2020-01-02,b,12.3x")
    assert caught.value.row == 3
    assert "row 3" in str(caught.value) and "'Amount'" in str(caught.value) and "12.3x" in str(caught.value)


def test_bad_date_names_row_and_value() -> None:
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description,Amount", "28/02/2020,a,1.00", "31/02/2020,b,2.00")
    assert caught.value.row == 3
    assert "'31/02/2020'" in str(caught.value)


def test_missing_required_column() -> None:
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description,Amount", "2020-01-01,a,1.00", options={"columns": {"amount": "Betrag"}})
    assert "missing required column 'Betrag'" in str(caught.value) and "row 1" in str(caught.value)
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description", "2020-01-01,a")
    assert "no header row" in str(caught.value)


def test_both_debit_and_credit_filled() -> None:
    with pytest.raises(ParseError) as caught:
        _csv("Date,Description,Debit,Credit", "2020-01-01,a,1.00,2.00")
    assert "row 2" in str(caught.value)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ParseError, match="unknown option"):
        _csv("Date,Amount", "2020-01-01,1", options={"dateformat": "%Y"})


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_bank_csv(data, "empty.csv", {})
