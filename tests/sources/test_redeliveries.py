"""A corrected re-delivery never counts a transaction twice: real landing, real dbt, the review decision path."""

import pytest

from finflow_assets.intelligence.review import list_queue, rebuild_queue, record_decision
from finflow_assets.sources.file_landing import land_bytes
from finflow_assets.sources.redeliveries import _align
from finflow_assets.sources.registry import SourceSpec
from finflow_assets.warehouse import connect
from tests.conftest import fresh_database, run_dbt

pytestmark = pytest.mark.usefixtures("warm_dbt_commands")  # many dbt commands: one dbt import (conftest)

SPEC = SourceSpec(
    name="bank_operating",
    system="test",
    kind="file_drop",
    format="bank_csv",
    description="test",
    parser_options={"date_format": "%Y-%m-%d"},
)
HEADER = "Date,Description,Amount,Balance\n"
NO_BALANCE = "Date,Description,Amount\n"


def _csv(lines: list[str], header: str = HEADER) -> bytes:
    return (header + "\n".join(lines) + "\n").encode()


# each case has its own days, so the deliveries of one case never overlap another's
CORRECTED = ["2026-10-01,OPENING,100.00,100.00", "2026-10-01,COFFEE SHOP,-4.03,95.97", "2026-10-02,RENT,-50.00,45.97"]
CORRECTED_LATER = [
    "2026-10-01,OPENING,100.00,100.00",
    "2026-10-01,COFFEE SHOP,-400.03,-300.03",
    "2026-10-02,RENT,-50.00,-350.03",
]
REMOVED = ["2026-10-05,SALE A,10.00,10.00", "2026-10-05,DOUBLE POSTED FEE,-1.00,9.00", "2026-10-06,SALE B,5.00,14.00"]
REMOVED_LATER = ["2026-10-05,SALE A,10.00,10.00", "2026-10-06,SALE B,5.00,15.00"]
ADDED = ["2026-10-08,SALE C,7.00,7.00", "2026-10-09,SALE D,3.00,10.00"]
ADDED_LATER = ["2026-10-08,SALE C,7.00,7.00", "2026-10-08,LATE POSTING,2.00,9.00", "2026-10-09,SALE D,3.00,12.00"]
UNCHECKED = ["2026-10-12,SUPPLIES,-20.00", "2026-10-12,CATERING,-35.50", "2026-10-13,SOFTWARE,-99.00"]
UNCHECKED_LATER = ["2026-10-12,SUPPLIES,-20.00", "2026-10-12,CATERING,-53.50", "2026-10-13,SOFTWARE,-99.00"]
MORNING = ["2026-10-15,EARLY ONE,1.00,1.00", "2026-10-15,EARLY TWO,2.00,3.00", "2026-10-15,NOON,3.00,6.00"]
AFTERNOON = ["2026-10-15,NOON,3.00,6.00", "2026-10-15,LATE ONE,4.00,10.00"]  # an export that starts later


@pytest.fixture(scope="module")
def warehouse(finflow_home):
    with fresh_database("test_redeliveries"):
        deliveries = [
            ("corrected_1.csv", _csv(CORRECTED)),
            ("removed_1.csv", _csv(REMOVED)),
            ("added_1.csv", _csv(ADDED)),
            ("unchecked_1.csv", _csv(UNCHECKED, NO_BALANCE)),
            ("morning.csv", _csv(MORNING)),
            ("corrected_2.csv", _csv(CORRECTED_LATER)),
            ("removed_2.csv", _csv(REMOVED_LATER)),
            ("added_2.csv", _csv(ADDED_LATER)),
            ("unchecked_2.csv", _csv(UNCHECKED_LATER, NO_BALANCE)),
            ("afternoon.csv", _csv(AFTERNOON)),
        ]
        with connect() as conn:
            for name, data in deliveries:
                assert land_bytes(conn, SPEC, name, data).status == "landed", name
        run_dbt("build", "--exclude", "tag:enriched")
        run_dbt("build", "--select", "tag:enriched")
        with connect(autocommit=True) as conn:
            yield conn


def _counted(conn, *descriptions: str) -> dict[str, list[str]]:
    """The amounts fct_transactions counts for these descriptions (kept rows: valid, not a duplicate)."""
    rows = conn.execute(
        "select description_raw, amount::text from marts.fct_transactions"
        " where description_raw = any(%s) and duplicate_of is null order by 1, 2",
        (list(descriptions),),
    ).fetchall()
    out: dict[str, list[str]] = {d: [] for d in descriptions}
    for description, amount in rows:
        out[description].append(amount)
    return out


def test_a_corrected_amount_supersedes_the_earlier_line_when_balances_check(warehouse):
    assert _counted(warehouse, "COFFEE SHOP", "OPENING", "RENT") == {
        "COFFEE SHOP": ["-400.03"],
        "OPENING": ["100.00"],
        "RENT": ["-50.00"],
    }
    held = warehouse.execute(
        "select amount::text, blocking_rules from marts.fct_quarantined_transactions"
        " where description_raw = 'COFFEE SHOP'"
    ).fetchall()
    assert held == [("-4.03", ["superseded_by_redelivery"])]
    warnings = warehouse.execute("select warnings from raw._loads where origin = 'corrected_2.csv'").fetchone()[0]
    assert any("supersedes" in w and "-4.03" in w for w in warnings)


def test_a_removed_line_stops_counting(warehouse):
    assert _counted(warehouse, "SALE A", "DOUBLE POSTED FEE", "SALE B") == {
        "SALE A": ["10.00"],
        "DOUBLE POSTED FEE": [],
        "SALE B": ["5.00"],
    }


def test_an_added_line_is_a_new_transaction_and_supersedes_nothing(warehouse):
    assert _counted(warehouse, "SALE C", "LATE POSTING", "SALE D") == {
        "SALE C": ["7.00"],
        "LATE POSTING": ["2.00"],
        "SALE D": ["3.00"],
    }


def test_an_export_that_starts_later_in_the_day_removes_nothing(warehouse):
    assert _counted(warehouse, "EARLY ONE", "EARLY TWO", "NOON", "LATE ONE") == {
        "EARLY ONE": ["1.00"],
        "EARLY TWO": ["2.00"],
        "NOON": ["3.00"],
        "LATE ONE": ["4.00"],
    }


def test_a_change_without_balances_waits_for_a_reviewer_and_never_counts_twice(warehouse):
    # the earlier line counts, the later one is held
    assert _counted(warehouse, "CATERING") == {"CATERING": ["-35.50"]}
    rebuild_queue(warehouse)
    items = list_queue(warehouse, "redelivery")
    assert len(items) == 1 and "no balances" in items[0]["reason"] and "-35.50" in items[0]["reason"]
    assert str(items[0]["amount"]) == "-53.50"  # the later version is what the reviewer is asked to accept

    record_decision(warehouse, items[0]["item_id"], "approve", "controller@example.com")
    run_dbt("build", "--select", "int_transactions__rule_inputs+", "--exclude", "tag:enriched")
    run_dbt("build", "--select", "tag:enriched")
    assert _counted(warehouse, "CATERING") == {"CATERING": ["-53.50"]}
    rebuild_queue(warehouse)
    assert list_queue(warehouse, "redelivery") == []


@pytest.mark.parametrize(
    ("old", "new", "removed", "added"),
    [
        ("ABC", "ABC", [], []),
        ("ABC", "AXC", [1], [1]),  # a changed middle line
        ("ABC", "XBC", [0], [0]),  # a changed first line pairs with the line in its place
        ("ABC", "AC", [1], []),  # a removed line
        ("ABC", "ABXC", [], [2]),  # an added line removes nothing
        ("ABCDE", "DEF", [], []),  # an export that starts later: the earlier lines are outside it
        ("ABC", "XYZ", [], []),  # nothing shared: not the same statement
    ],
)
def test_alignment_counts_only_differences_anchored_by_shared_lines(old, new, removed, added):
    assert _align(list(old), list(new)) == (removed, added)
