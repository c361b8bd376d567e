"""The analysts' SQL rules, run by real dbt on the embedded PostgreSQL: blocking rules quarantine, warnings flag."""

import pytest

from finflow_assets.sources.file_landing import land_bytes
from finflow_assets.sources.registry import SourceSpec
from finflow_assets.warehouse import connect
from tests.conftest import fresh_database, run_dbt

pytestmark = pytest.mark.usefixtures("warm_dbt_commands")  # many dbt commands: one dbt import (conftest)

# a bank export with a currency column, so one row can carry a currency the fx_rates seed does not know
SPEC = SourceSpec(
    name="bank_operating",
    system="test",
    kind="file_drop",
    format="bank_csv",
    description="test",
    parser_options={"date_format": "%Y-%m-%d"},
)
CSV = b"""Date,Description,Amount,Currency,Balance
2026-10-01,OPENING DEPOSIT,100.00,USD,100.00
2026-10-01,SERVICE CHARGE 1001,-5.00,USD,95.00
2026-10-02,SLACK TECHNOLOGIES,-20.00,USD,75.00
2026-10-02,ZERO ADJUSTMENT,0.00,USD,75.00
2026-10-03,MYSTERY COIN,-1.00,XXX,74.00
2099-01-01,FROM THE FUTURE,-2.00,USD,72.00
2026-10-04,GITHUB INC,-10.00,USD,50.00
2026-10-05,WIRE IN HUGE,1000000000000000.13,USD,1000000000000050.13
2026-10-05,ODD PRECISION,-10.005,USD,1000000000000040.125
"""


@pytest.fixture(scope="module")
def built(finflow_home):
    with fresh_database("test_validation_rules"):
        with connect() as conn:
            assert land_bytes(conn, SPEC, "rules.csv", CSV).status == "landed"
        run_dbt("build", "--exclude", "tag:enriched")
        run_dbt("build", "--select", "tag:enriched")
        with connect(autocommit=True) as conn:
            yield conn


def test_blocking_rules_quarantine_with_reasons(built):
    rows = built.execute(
        "select description_raw, blocking_rules, reasons from marts.fct_quarantined_transactions order by 1"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("FROM THE FUTURE", ["date_not_in_future"]),
        ("MYSTERY COIN", ["currency_known"]),
        ("WIRE IN HUGE", ["amount_plausible"]),  # beyond seeds/amount_limits.csv: held, never counted
    ]
    assert "fx_rates" in rows[1][2]


def test_warnings_pass_with_flags(built):
    flagged = dict(
        built.execute(
            "select description_raw, warning_rules from marts.fct_transactions where warning_rules is not null"
        ).fetchall()
    )
    # the zero amount is flagged; GitHub's running balance does not follow from the previous line's
    assert flagged == {
        "ZERO ADJUSTMENT": ["amount_not_zero"],
        "GITHUB INC": ["balance_continuity"],
        "ODD PRECISION": ["amount_minor_units"],
    }
    statuses = dict(built.execute("select description_raw, validation_status from marts.fct_transactions").fetchall())
    assert statuses["SLACK TECHNOLOGIES"] == "valid"
    assert "FROM THE FUTURE" not in statuses and "MYSTERY COIN" not in statuses


def test_every_violation_is_listed(built):
    counts = dict(built.execute("select rule_id, count(*) from marts.fct_rule_violations group by 1").fetchall())
    assert counts == {
        "date_not_in_future": 1,
        "currency_known": 1,
        "amount_not_zero": 1,
        "balance_continuity": 1,
        "amount_plausible": 1,
        "amount_minor_units": 1,
    }


def test_amounts_count_in_their_currency_minor_units(built):
    """USD has two decimals: -10.005 counts as -10.01 in both the amount and the base amount, so totals agree;
    the delivered amount is kept beside it."""
    row = built.execute(
        "select amount, amount_delivered, amount_base from marts.fct_transactions"
        " where description_raw = 'ODD PRECISION'"
    ).fetchone()
    assert [str(v) for v in row] == ["-10.01", "-10.005", "-10.01"]


def test_categorization_rules_win_before_ml(built):
    row = built.execute(
        "select category, category_method, categorized_by from marts.fct_transactions"
        " where description_raw = 'SERVICE CHARGE 1001'"
    ).fetchone()
    assert row == ("bank_fee_interest", "rule", "bank_service_charge")
