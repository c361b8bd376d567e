"""PayPal parser against every shared PayPal fixture (activity/statement CSVs, STL/TRR reports), the Transaction
Search API JSON shape, and malformed input. Expected values were read from the files by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from finflow_assets.sources.parsers.paypal import parse_paypal_transactions
from tests.conftest import check_fixture_listing, fixture_bytes

# Per-file options: only needed where every date in the file fits both dd/mm and mm/dd.
OPTIONS: dict[str, dict[str, Any]] = {
    "paypal_download__ledgerautosync.csv": {"date_format": "%m/%d/%Y"},  # "6/4/2016", US account
    "statement_es__oca.csv": {"date_format": "%d/%m/%Y"},  # "2/1/2020", Spanish locale
}

# file -> (records, {currency: sum of gross}, negatives)
EXPECTED: dict[str, tuple[int, dict[str | None, str], int]] = {
    "activity_en__oca.csv": (76, {"USD": "2927.78", "EUR": "43.34", "AUD": "0.00"}, 33),
    "paypal_alternate__ledgerautosync.csv": (2, {None: "0.00"}, 1),
    "paypal_custom__hledger.csv": (7, {"USD": "10.00"}, 3),
    "paypal_download__ledgerautosync.csv": (2, {"USD": "1100.00"}, 1),
    "statement_en__oca.csv": (19, {"EUR": "0.00", "USD": "1096.80"}, 8),
    "statement_es__oca.csv": (4, {"EUR": "136.44"}, 0),
    "stl_chargeback_with_fee__smashpig.csv": (2, {"USD": "-23.00"}, 2),
    "stl_currency_convert__smashpig.csv": (3, {"BRL": "3.60", "USD": "3.27"}, 1),
    "stl_payout_currency_convert__smashpig.csv": (3, {"AUD": "100.00", "USD": "120.00"}, 1),
    "stl_settlement__smashpig.csv": (5, {"AUD": "57.35", "GBP": "6.00"}, 2),
    "trr_non_data_rows__smashpig.csv": (1, {"JPY": "150.00"}, 0),
    "trr_refund__smashpig.csv": (1, {"JPY": "-150.00"}, 1),
}
# subscription agreement report: sign-ups, no money movement -> out of scope, rejected
REJECTED = {"sar_subscr_signup__smashpig.csv": "subscription agreement report"}


def _parse(shared_fixtures: Path, name: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    data = fixture_bytes(shared_fixtures, "paypal", name)
    return parse_paypal_transactions(data, name, OPTIONS.get(name, {}) if options is None else options).records


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "paypal", set(EXPECTED) | set(REJECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_totals(shared_fixtures: Path, name: str) -> None:
    count, sums, negatives = EXPECTED[name]
    records = _parse(shared_fixtures, name)
    assert len(records) == count
    totals: dict[str | None, Decimal] = {}
    for record in records:
        totals[record["currency"]] = totals.get(record["currency"], Decimal(0)) + Decimal(record["amount"])
    assert totals == {currency: Decimal(total) for currency, total in sums.items()}
    assert sum(r["amount"].startswith("-") for r in records) == negatives
    assert all(tuple(r) == RECORD_FIELDS for r in records)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_out_of_scope_fixture_is_a_clear_parse_error(shared_fixtures: Path, name: str) -> None:
    with pytest.raises(ParseError, match=REJECTED[name]):
        _parse(shared_fixtures, name)


def test_activity_first_row(shared_fixtures: Path) -> None:
    first = _parse(shared_fixtures, "activity_en__oca.csv")[0]
    assert (first["row"], first["booked_date"], first["amount"], first["currency"]) == (2, "2015-12-29", "84.00", "USD")
    assert (first["extra"]["fee"], first["extra"]["net"], first["balance_after"]) == ("-4.25", "79.75", "79.75")
    assert (first["external_id"], first["counterparty"], first["transaction_type"]) == (
        "TID1",
        "PARTNER1",
        "General Payment",
    )


def test_localized_statement(shared_fixtures: Path) -> None:
    first = _parse(shared_fixtures, "statement_es__oca.csv")[0]
    assert (first["booked_date"], first["amount"], first["balance_after"]) == ("2020-01-02", "49.37", "4626.81")
    assert (first["extra"]["fee"], first["extra"]["net"]) == ("-1.78", "47.59")
    assert first["transaction_type"] == "Pago estándar"


def test_ambiguous_dates_need_configuration(shared_fixtures: Path) -> None:
    with pytest.raises(ParseError, match="ambiguous"):
        _parse(shared_fixtures, "paypal_download__ledgerautosync.csv", {})
    download = _parse(shared_fixtures, "paypal_download__ledgerautosync.csv")
    assert [r["amount"] for r in download] == ["-20.00", "1120.00"]  # '1,120.00'


def test_stl_rows(shared_fixtures: Path) -> None:
    records = _parse(shared_fixtures, "stl_settlement__smashpig.csv")
    first = records[0]
    assert (first["row"], first["booked_date"], first["amount"], first["currency"]) == (3, "2026-01-06", "52.00", "AUD")
    assert (first["extra"]["fee"], first["extra"]["net"]) == ("-2.25", "49.75")
    assert (first["external_id"], first["transaction_type"], first["account"]) == ("5678", "T0006", "EZ782AXEUJUW8")
    refund = records[3]
    assert (refund["amount"], refund["extra"]["fee"], refund["transaction_type"]) == ("-1.34", "0.47", "T1107")
    withdrawal = records[4]
    assert (withdrawal["amount"], withdrawal["transaction_type"]) == ("-1.00", "T0400")


def test_trr_skips_only_non_data_record_types(shared_fixtures: Path) -> None:
    (record,) = _parse(shared_fixtures, "trr_non_data_rows__smashpig.csv")
    assert (record["row"], record["amount"], record["counterparty"]) == (5, "150.00", "Cindy Lou Who")
    assert (record["reference"], record["extra"]["status"]) == ("46239229.1", "S")


API_RESPONSE = {
    "transaction_details": [
        {
            "transaction_info": {
                "transaction_id": "5TY05013RG002845M",
                "transaction_event_code": "T0006",
                "transaction_initiation_date": "2014-07-11T04:03:52+0000",
                "transaction_updated_date": "2014-07-11T04:03:52+0000",
                "transaction_amount": {"currency_code": "USD", "value": "465.00"},
                "fee_amount": {"currency_code": "USD", "value": "-13.79"},
                "transaction_status": "S",
                "transaction_subject": "Bill for your purchase",
                "ending_balance": {"currency_code": "USD", "value": "14240.00"},
                "invoice_id": "Invoice-005",
            },
            "payer_info": {
                "email_address": "consumer@example.com",
                "payer_name": {"given_name": "test", "surname": "consumer", "alternate_full_name": "test consumer"},
            },
        },
        {
            "transaction_info": {
                "transaction_id": "1FN09943UJ2311436",
                "transaction_event_code": "T1107",
                "transaction_initiation_date": "2014-07-12T01:00:00+0000",
                "transaction_amount": {"currency_code": "USD", "value": "-20.00"},
            },
        },
    ],
    "account_number": "XZXSPECPDZHZU",
    "page": 1,
    "total_items": 2,
    "total_pages": 1,
}


def _api(document: Any) -> list[dict[str, Any]]:
    return parse_paypal_transactions(json.dumps(document).encode(), "page.json", {}).records


def test_transaction_search_api_json() -> None:
    first, refund = _api(API_RESPONSE)
    assert (first["row"], first["booked_date"], first["amount"], first["currency"]) == (
        1,
        "2014-07-11",
        "465.00",
        "USD",
    )
    assert (first["extra"]["fee"], first["extra"]["net"], first["balance_after"]) == ("-13.79", "451.21", "14240.00")
    assert (first["counterparty"], first["reference"], first["account"]) == (
        "test consumer",
        "Invoice-005",
        "XZXSPECPDZHZU",
    )
    assert (refund["row"], refund["amount"], refund["transaction_type"]) == (2, "-20.00", "T1107")


def test_api_bad_values() -> None:
    document = json.loads(json.dumps(API_RESPONSE))
    document["transaction_details"][1]["transaction_info"]["transaction_amount"]["value"] = "1,00"
    with pytest.raises(ParseError, match="row 2: transaction_amount value '1,00' is not a number"):
        _api(document)
    document = json.loads(json.dumps(API_RESPONSE))
    document["transaction_details"][0]["transaction_info"]["transaction_initiation_date"] = "2014-13-11T00:00:00Z"
    with pytest.raises(ParseError, match="row 1: transaction_initiation_date"):
        _api(document)
    with pytest.raises(ParseError, match="transaction_details"):
        _api({"items": []})
    with pytest.raises(ParseError, match="truncated"):
        parse_paypal_transactions(json.dumps(API_RESPONSE).encode()[:200], "cut.json", {})


STL = (
    '"SH","2026/01/06 00:00:00 -0800","2026/01/06 23:59:59 -0800","EZ782AXEUJUW8"\n'
    '"CH","Transaction ID","Invoice ID","PayPal Reference ID","PayPal Reference ID Type","Transaction Event Code",'
    '"Transaction Initiation Date","Transaction Completion Date","Transaction Debit or Credit",'
    '"Gross Transaction Amount","Gross Transaction Currency","Fee Debit or Credit","Fee Amount","Fee Currency"\n'
    '"SB",5678,2444.1,4H844,"TXN","T0006",2026/01/06 00:00:30 -0800,2026/01/06 00:00:30 -0800,'
    '"CR",5200,"AUD","DR",225,"AUD"\n'
    '"SB",6789,2443.1,4KF03,"TXN","T0006",{date},2026/01/06 00:06:02 -0800,"{mark}",{amount},"AUD","DR",75,"AUD"\n'
)


def _stl(date: str = "2026/01/06 00:06:02 -0800", mark: str = "CR", amount: str = "535") -> bytes:
    return STL.format(date=date, mark=mark, amount=amount).encode()


def test_stl_malformed_values() -> None:
    assert [r["amount"] for r in parse_paypal_transactions(_stl(), "stl.csv", {}).records] == ["52.00", "5.35"]
    with pytest.raises(ParseError, match="row 4: column 'Gross Transaction Amount': amount '5.35'"):
        parse_paypal_transactions(_stl(amount="5.35"), "stl.csv", {})
    with pytest.raises(ParseError, match="row 4: column 'Transaction Initiation Date': '2026/02/30"):
        parse_paypal_transactions(_stl(date="2026/02/30 00:00:00 -0800"), "stl.csv", {})
    with pytest.raises(ParseError, match="row 4: column 'Transaction Debit or Credit'"):
        parse_paypal_transactions(_stl(mark="XX"), "stl.csv", {})
    data = _stl()
    with pytest.raises(ParseError, match="row 2: unknown PayPal report record type 'ZZ'"):
        parse_paypal_transactions(data.replace(b'"CH"', b'"ZZ","x"\n"CH"'), "stl.csv", {})


def test_stl_truncated_and_missing_column() -> None:
    data = _stl()
    with pytest.raises(ParseError, match="row 4: row has 8 fields"):
        parse_paypal_transactions(data[: data.rindex(b'"CR"')], "stl.csv", {})
    with pytest.raises(ParseError, match=r"row 2: missing required column\(s\) \['Gross Transaction Amount'\]"):
        parse_paypal_transactions(data.replace(b'"Gross Transaction Amount"', b'"Gross"'), "stl.csv", {})


def test_activity_malformed_values(shared_fixtures: Path) -> None:
    data = fixture_bytes(shared_fixtures, "paypal", "paypal_custom__hledger.csv")
    with pytest.raises(ParseError, match="row 3: column 'Gross': amount '6.9x9'"):
        parse_paypal_transactions(data.replace(b'"6.99","0.00","6.99"', b'"6.9x9","0.00","6.99"', 1), "pp.csv", {})
    with pytest.raises(ParseError, match="row 4: column 'Date': '10/41/2019'"):
        parse_paypal_transactions(data.replace(b'"10/01/2019","08:57:01"', b'"10/41/2019","08:57:01"', 1), "pp.csv", {})
    with pytest.raises(ParseError, match="row 8: row has 12 fields"):
        parse_paypal_transactions(data[: data.index(b',"68LL1662YP3134303"')], "pp.csv", {})
    with pytest.raises(ParseError, match=r"row 1: missing required column\(s\) \['gross'\]"):
        parse_paypal_transactions(data.replace(b'"Gross"', b'"Grozz"'), "pp.csv", {})


@pytest.mark.parametrize("data", [b"", b"\n \n"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_paypal_transactions(data, "empty.csv", {})
