"""Stripe parser against every shared Stripe fixture (API JSON and report CSVs), plus malformed input.

Expected values are read from the files: minor units / 100 for USD, unix timestamps converted by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from finflow_assets.sources.parsers.stripe import parse_stripe_balance_transactions
from tests.conftest import check_fixture_listing, fixture_bytes

# file -> (records, sum of amounts, negatives)
EXPECTED: dict[str, tuple[int, str, int]] = {
    "balance_transaction_charge__djstripe.json": (1, "20.00", 0),
    "list_balance_transactions__airbyte.json": (1, "-4.00", 1),
    "list_payouts__airbyte.json": (1, "-11.00", 1),
    "payments_activity__smashpig.csv": (2, "0.00", 1),
    "settlement_report__smashpig.csv": (7, "51.35", 3),
    "settlement_report_customer_data__smashpig.csv": (3, "34.5", 1),
    "stripe_export__hledger.csv": (2, "11.23", 1),
}
# a dump of unrelated Stripe resources (balance, charge, customer ...): out of scope, rejected as a whole
REJECTED = {"stripe_mock_fixtures3_subset.json": "not a Stripe list, balance_transaction or payout"}


def _parse(shared_fixtures: Path, name: str) -> list[dict[str, Any]]:
    data = fixture_bytes(shared_fixtures, "stripe", name)
    return parse_stripe_balance_transactions(data, name, {}).records


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "stripe", set(EXPECTED) | set(REJECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_totals(shared_fixtures: Path, name: str) -> None:
    count, total, negatives = EXPECTED[name]
    records = _parse(shared_fixtures, name)
    assert len(records) == count
    assert sum(Decimal(r["amount"]) for r in records) == Decimal(total)
    assert sum(r["amount"].startswith("-") for r in records) == negatives
    assert {r["currency"] for r in records} == {"USD"}
    assert all(tuple(r) == RECORD_FIELDS for r in records)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_out_of_scope_fixture_is_a_clear_parse_error(shared_fixtures: Path, name: str) -> None:
    with pytest.raises(ParseError, match=REJECTED[name]):
        _parse(shared_fixtures, name)


def test_balance_transaction_fields(shared_fixtures: Path) -> None:
    record = _parse(shared_fixtures, "balance_transaction_charge__djstripe.json")[0]
    assert record["row"] == 1
    assert (record["booked_date"], record["value_date"]) == ("2019-05-16", "2019-05-23")  # 1557995177 / 1558569600
    assert (record["amount"], record["currency"], record["transaction_type"]) == ("20.00", "USD", "charge")
    assert (record["external_id"], record["reference"]) == (
        "txn_fake_ch_fakefakefakefakefake0001",
        "ch_fakefakefakefakefake0001",
    )
    assert (record["extra"]["fee"], record["extra"]["net"]) == ("0.88", "19.12")
    assert record["description"] == "Subscription creation"


def test_payout_is_money_out(shared_fixtures: Path) -> None:
    record = _parse(shared_fixtures, "list_payouts__airbyte.json")[0]
    assert (record["amount"], record["transaction_type"]) == ("-11.00", "payout")  # Stripe says amount 1100
    assert (record["booked_date"], record["value_date"]) == ("2023-04-04", "2023-04-05")  # created / arrival_date
    assert record["external_id"] == record["reference"] == "po_1OaFDbEcg9tTZuTgNYmX0PKB"
    assert record["extra"]["balance_transaction"] == "txn_1OaFDcEcg9tTZuTgYMR25tSe"


def test_report_csv_fields(shared_fixtures: Path) -> None:
    records = _parse(shared_fixtures, "settlement_report__smashpig.csv")
    refund = records[1]
    assert (refund["row"], refund["booked_date"], refund["amount"]) == (3, "2026-01-30", "-10")
    assert (refund["transaction_type"], refund["external_id"], refund["reference"]) == (
        "refund",
        "txn_rfnd_002",
        "re_123",
    )
    assert records[0]["extra"]["fee"] == "0.95" and records[0]["extra"]["payout_id"] == "po_test123"
    customer = _parse(shared_fixtures, "settlement_report_customer_data__smashpig.csv")
    assert customer[0]["counterparty"] == "Homer Simpson"
    hledger = _parse(shared_fixtures, "stripe_export__hledger.csv")
    assert (hledger[1]["amount"], hledger[1]["value_date"]) == ("-0.77", "2020-01-27")


def _txn(**overrides: Any) -> dict[str, Any]:
    item = {
        "id": "txn_1",
        "object": "balance_transaction",
        "amount": 1234,
        "currency": "usd",
        "created": 1700000000,
        "available_on": 1700086400,
        "fee": 30,
        "net": 1204,
        "type": "charge",
        "source": "ch_1",
    }
    item.update(overrides)
    return item


def _json(*items: dict[str, Any], envelope: bool = True) -> bytes:
    body: Any = {"object": "list", "data": list(items), "has_more": False} if envelope else list(items)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("currency", "minor", "expected"),
    [
        ("usd", 1234, "12.34"),
        ("jpy", 500, "500"),
        ("krw", 15000, "15000"),
        ("kwd", 1234, "1.234"),
        ("isk", 500, "5.00"),
    ],
)
def test_currency_exponents(currency: str, minor: int, expected: str) -> None:
    record = parse_stripe_balance_transactions(_json(_txn(currency=currency, amount=minor)), "x.json", {}).records[0]
    assert record["amount"] == expected
    assert record["currency"] == currency.upper()


def test_bare_array_and_refund_sign() -> None:
    data = _json(_txn(), _txn(id="txn_2", amount=-500, type="refund", fee=0, net=-500), envelope=False)
    records = parse_stripe_balance_transactions(data, "x.json", {"account": "acct_1"}).records
    assert [(r["row"], r["amount"], r["account"]) for r in records] == [(1, "12.34", "acct_1"), (2, "-5.00", "acct_1")]


def test_truncated_json() -> None:
    data = _json(_txn(), _txn(id="txn_2"))
    with pytest.raises(ParseError) as caught:
        parse_stripe_balance_transactions(data[: len(data) - 20], "cut.json", {})
    assert "line 1" in str(caught.value) and "truncated" in str(caught.value)


@pytest.mark.parametrize("amount", ["12.34", 12.5, None, True])
def test_bad_amount(amount: Any) -> None:
    with pytest.raises(ParseError) as caught:
        parse_stripe_balance_transactions(_json(_txn(), _txn(id="txn_2", amount=amount)), "bad.json", {})
    assert caught.value.row == 2 and "row 2" in str(caught.value) and "amount" in str(caught.value)


@pytest.mark.parametrize("created", ["2023-01-01", 10**20, None])
def test_bad_date(created: Any) -> None:
    with pytest.raises(ParseError) as caught:
        parse_stripe_balance_transactions(_json(_txn(created=created)), "bad.json", {})
    assert "row 1" in str(caught.value) and "created" in str(caught.value)


def test_missing_field_and_unknown_object() -> None:
    item = _txn()
    del item["currency"]
    with pytest.raises(ParseError, match="row 1: 'currency' is missing"):
        parse_stripe_balance_transactions(_json(item), "x.json", {})
    with pytest.raises(ParseError, match="row 2: unsupported Stripe object 'charge'"):
        parse_stripe_balance_transactions(_json(_txn(), {"id": "ch_1", "object": "charge"}), "x.json", {})


def test_csv_missing_column_and_bad_values() -> None:
    with pytest.raises(ParseError, match=r"row 1: missing required column\(s\) \['gross'\]"):
        parse_stripe_balance_transactions(b"balance_transaction_id,created,currency\ntxn_1,2020-01-01,usd\n", "x", {})
    header = b"balance_transaction_id,created,currency,gross,fee,net\n"
    with pytest.raises(ParseError, match="row 3: column 'gross'"):
        parse_stripe_balance_transactions(header + b"t1,2020-01-01,usd,1,0,1\nt2,2020-01-02,usd,x,0,1\n", "x", {})
    with pytest.raises(ParseError, match="row 2: column 'created': '2020-02-30'"):
        parse_stripe_balance_transactions(header + b"t1,2020-02-30,usd,1,0,1\n", "x", {})
    with pytest.raises(ParseError, match="row 2: row has 4 fields"):
        parse_stripe_balance_transactions(header + b"t1,2020-02-03,usd,1\n", "x", {})


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_stripe_balance_transactions(data, "empty.json", {})
