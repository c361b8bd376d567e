"""Adyen settlement-details / payments-accounting parser against every shared Adyen fixture, plus malformed input.

Expected amounts were read from the files: gross credit - gross debit, or net credit - net debit on lines that
have no gross amount (fees, payouts, invoice deductions, deposit corrections).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finflow_assets.sources.parsers.adyen import parse_adyen_settlement_csv
from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from tests.conftest import check_fixture_listing, fixture_bytes

# file -> amounts in file order, as (amount, currency)
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "payments_accounting_chargeback__smashpig.csv": [("-23.87", "USD")],
    "settlement_detail_chargeback__smashpig.csv": [("-1.00", "USD"), ("-1.80", "USD"), ("-4.03", "USD")],
    "settlement_detail_chargeback_reversed__smashpig.csv": [("52", "USD")],
    "settlement_detail_deposit_correction__smashpig.csv": [("-500", "USD"), ("300", "USD")],
    "settlement_detail_donation__smashpig.csv": [("1.00", "USD"), ("-0.76", "USD")],
    "settlement_detail_empty_net_credit__smashpig.csv": [("10", "INR")],
    "settlement_detail_ideal__smashpig.csv": [("5.35", "EUR"), ("-0.76", "USD")],
    "settlement_detail_invoice_deduction__smashpig.csv": [("-0.06", "USD"), ("0.03", "USD")],
    "settlement_detail_refund__smashpig.csv": [("-1.00", "USD"), ("-1.80", "USD"), ("-4.03", "USD")],
    "settlement_detail_reordered_columns__smashpig.csv": [("1.00", "USD"), ("-0.76", "USD")],
}


def _read(shared_fixtures: Path, name: str) -> bytes:
    return fixture_bytes(shared_fixtures, "adyen", name)


def _parse(data: bytes, name: str = "adyen.csv") -> list[dict[str, Any]]:
    return parse_adyen_settlement_csv(data, name, {}).records


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    check_fixture_listing(shared_fixtures, "adyen", set(EXPECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_amounts(shared_fixtures: Path, name: str) -> None:
    records = _parse(_read(shared_fixtures, name), name)
    assert [(r["amount"], r["currency"]) for r in records] == EXPECTED[name]
    assert [r["row"] for r in records] == list(range(2, 2 + len(records)))
    assert all(tuple(r) == RECORD_FIELDS for r in records)
    assert all(r["external_id"] for r in records)
    assert sum(Decimal(r["amount"]) for r in records) == sum(Decimal(a) for a, _ in EXPECTED[name])


def test_settled_row_fields_and_fees(shared_fixtures: Path) -> None:
    settled, payout = _parse(_read(shared_fixtures, "settlement_detail_donation__smashpig.csv"))
    assert (settled["booked_date"], settled["account"], settled["transaction_type"]) == (
        "2016-02-18",
        "WikimediaCOM",
        "Settled",
    )
    assert (settled["reference"], settled["external_id"]) == ("33992337.0", "5364893193133131:Settled:5555593193155555")
    extra = settled["extra"]
    assert (extra["net"], extra["scheme_fees"], extra["interchange"], extra["amount_basis"]) == (
        "0.76",
        "0.02",
        "0.22",
        "gross",
    )
    assert (payout["transaction_type"], payout["extra"]["amount_basis"]) == ("MerchantPayout", "net")
    assert payout["description"] == "TX2342222277XT batch 2, WikimediaCOM batch 2, WikimediaCOM"


def test_reordered_columns_give_the_same_records(shared_fixtures: Path) -> None:
    plain = _parse(_read(shared_fixtures, "settlement_detail_donation__smashpig.csv"))
    reordered = _parse(_read(shared_fixtures, "settlement_detail_reordered_columns__smashpig.csv"))
    assert plain == reordered


def test_chargeback_and_gross_currency_fallback(shared_fixtures: Path) -> None:
    chargeback, fee, _ = _parse(_read(shared_fixtures, "settlement_detail_chargeback__smashpig.csv"))
    assert (chargeback["amount"], chargeback["extra"]["net"], chargeback["extra"]["commission"]) == (
        "-1.00",
        "-3.00",
        "2.00",
    )
    # fee line: gross currency says EUR but carries no gross amount; the USD net amount is what moved
    assert (fee["amount"], fee["currency"], fee["description"]) == ("-1.80", "USD", "Transaction Fees February 2016")


def test_newer_layout_with_empty_net_credit(shared_fixtures: Path) -> None:
    (record,) = _parse(_read(shared_fixtures, "settlement_detail_empty_net_credit__smashpig.csv"))
    assert (record["booked_date"], record["amount"], record["currency"]) == ("2025-10-31", "10", "INR")
    assert (record["extra"]["net"], record["extra"]["net_currency"], record["extra"]["payment_fees"]) == (
        "-0.03",
        "USD",
        "0.14",
    )
    assert record["extra"]["booking_date"] == "2025-10-31"


def test_payments_accounting_report(shared_fixtures: Path) -> None:
    (record,) = _parse(_read(shared_fixtures, "payments_accounting_chargeback__smashpig.csv"))
    assert (record["booked_date"], record["transaction_type"], record["account"]) == (
        "2023-10-12",
        "Chargeback",
        "WikimediaDonations",
    )
    assert (record["extra"]["amount_basis"], record["extra"]["main_amount"], record["extra"]["markup"]) == (
        "payable",
        "23.87",
        "10.65",
    )


HEADER = (
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,"
    "Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,"
    "Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),"
    "Payment Method Variant,Modification Merchant Reference,Batch Number\n"
)
ROW = "W,WCOM,{psp},M1,visa,{created},PST,Settled,MOD1,USD,,{gross},1,USD,,0.76,,,0.02,0.22,visadebit,,2\n"


def _report(psp: str = "111", created: str = "2016-02-18 16:10:51", gross: str = "1.00") -> bytes:
    good = ROW.format(psp="000", created="2016-02-18 16:10:51", gross="2.00")
    return (HEADER + good + ROW.format(psp=psp, created=created, gross=gross)).encode()


def test_synthetic_report_parses() -> None:
    assert [r["amount"] for r in _parse(_report())] == ["2.00", "1.00"]


def test_truncated_file() -> None:
    data = _report()
    with pytest.raises(ParseError) as caught:
        _parse(data[: data.rindex(b",1,USD")])
    assert caught.value.row == 3 and "row 3" in str(caught.value) and "truncated" in str(caught.value)


def test_bad_amount() -> None:
    with pytest.raises(ParseError, match=r"row 3: column 'Gross Credit \(GC\)': amount '1,0O'"):
        _parse(_report(gross='"1,0O"'))


def test_bad_date() -> None:
    with pytest.raises(ParseError, match="row 3: column 'Creation Date': '2016-02-30 16:10:51'"):
        _parse(_report(created="2016-02-30 16:10:51"))


def test_missing_column() -> None:
    data = _report().replace(b"Gross Credit (GC),", b"Gross Kredit,")
    with pytest.raises(ParseError, match=r"row 1: missing required column\(s\) \['Gross Credit \(GC\)'\]"):
        _parse(data)


def test_row_without_any_amount() -> None:
    data = (HEADER + "W,WCOM,,,,2016-02-15 21:29:37,PST,Fee,x,EUR,,,,USD,,,,,,,,,3\n").encode()
    with pytest.raises(ParseError, match="row 2: no gross or net"):
        _parse(data)


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        _parse(data)
