"""Dated exchange rates, for real: ECB reference rates land like any source, dbt converts each transaction at its
booking day's rate (the last rate known on a weekend), and an Adyen payout whose charges were booked before a rate
change matches its bank deposit with the realized exchange difference reported, not counted as a mismatch."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from finflow_assets.sources.file_landing import land_bytes
from finflow_assets.sources.registry import get_source
from finflow_assets.warehouse import connect
from tests.conftest import fresh_database, run_dbt
from tests.sources.test_api_server import ADYEN_HEADER

pytestmark = pytest.mark.usefixtures("warm_dbt_commands")  # many dbt commands: one dbt import (conftest)

# USD per EUR (the base currency is USD): 1.09 on Thursday, 1.10 on Friday (and so on the weekend), 1.12 from Tuesday
RATES = (
    "Date,USD,GBP,\n"
    "2026-11-10,1.1200,0.8700,\n"
    "2026-11-09,1.1150,0.8690,\n"
    "2026-11-06,1.1000,0.8650,\n"
    "2026-11-05,1.0900,0.8600,\n"
)
TRANSFER = "TX0000000001XT"


def _adyen_report() -> bytes:
    """Two settled card payments (Thursday, Saturday) and, on Tuesday, the payout of their batch."""
    rows = [
        ("Acme", "AcmeEU", "8800000001", "ORD-1", "visa", "2026-11-05 10:00:00", "CET", "Settled", "", "EUR", "",
         "100.00", "1", "EUR", "", "97.00", "3.00", "7"),
        ("Acme", "AcmeEU", "8800000002", "ORD-2", "visa", "2026-11-07 11:00:00", "CET", "Settled", "", "EUR", "",
         "50.00", "1", "EUR", "", "48.50", "1.50", "7"),
        ("Acme", "AcmeEU", "", "", "", "2026-11-10 23:50:00", "CET", "MerchantPayout",
         f"{TRANSFER} batch 7, AcmeEU batch 7, AcmeEU", "", "", "", "", "EUR", "145.50", "", "", "7"),
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ADYEN_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


STATEMENT = (  # the EUR account receives the payout on Wednesday
    ":20:STMT1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261110EUR1000,00\n"
    f":61:2611111111C145,50NTRF{TRANSFER}//BREF0001\n"
    f":86:/EREF/{TRANSFER}/NAME/Adyen N.V./REMI/AcmeEU batch 7\n"
    ":62F:C261111EUR1145,50\n-\n"
)


@pytest.fixture(scope="module")
def built(finflow_home):
    with fresh_database("test_fx_rates"):
        with connect() as conn:
            for source, origin, data in (
                ("fx_rates_ecb", "eurofxref-hist.csv", RATES.encode()),
                ("adyen", "settlement_detail_report_batch_7.csv", _adyen_report()),
                ("bank_eu", "eu_20261111.sta", STATEMENT.encode()),
            ):
                assert land_bytes(conn, get_source(source), origin, data).status == "landed", source
            conn.commit()
        run_dbt("build", "--exclude", "tag:enriched")
        with connect(autocommit=True) as conn:
            yield conn


def test_rates_land_and_convert_at_the_booking_day(built) -> None:
    rates = dict(
        built.execute(
            "select rate_date::text || ' ' || currency, rate_to_base from intermediate.int_fx_rates"
            " where currency in ('EUR', 'GBP')"
        ).fetchall()
    )
    assert rates["2026-11-05 EUR"] == Decimal("1.09")
    assert rates["2026-11-10 GBP"] == round(Decimal("1.12") / Decimal("0.87"), 10)  # the cross rate
    amounts = dict(
        built.execute(
            "select booked_date::text, amount_base from validation.int_transactions__validated"
            " where source = 'adyen' and transaction_type = 'Settled'"
        ).fetchall()
    )
    assert amounts == {"2026-11-05": Decimal("109.00"), "2026-11-07": Decimal("55.00")}  # Saturday: Friday's rate


def test_payout_spanning_a_rate_change_matches_with_its_fx_difference(built) -> None:
    row = built.execute(
        "select status, amount_difference, component_difference, expected_amount_base, component_amount_base,"
        " fx_difference, fx_within_tolerance from marts.fct_reconciliation where match_type = 'adyen_payout'"
    ).fetchone()
    status, difference, component_difference, expected_base, component_base, fx_difference, within = row
    assert (status, difference, component_difference) == ("matched", Decimal("0.00"), Decimal("0.00"))
    # 145.50 EUR paid out at Tuesday's 1.12; the charges were booked at 97.00 x 1.09 + 48.50 x 1.10 = 159.08
    assert (expected_base, component_base) == (Decimal("162.96"), Decimal("159.08"))
    assert fx_difference == Decimal("3.88") and within is True
    warned = built.execute(
        "select count(*) from marts.fct_reconciliation where match_type = 'adyen_payout' and status <> 'matched'"
    ).fetchone()[0]
    assert warned == 0
