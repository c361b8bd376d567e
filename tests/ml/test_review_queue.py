"""The review queue and decisions on the real embedded PostgreSQL, in a database of their own with a minimal
``marts.fct_transactions`` (the columns the queue reads), so they run without the dbt build; the reconciliation
part with and without ``marts.fct_reconciliation`` (built on another branch)."""

import json

import pytest

from finflow_assets.intelligence.review import DecisionError, list_queue, rebuild_queue, record_decision
from finflow_assets.intelligence.scores import ensure_tables
from tests.conftest import fresh_database

FACTS = """
create schema if not exists marts;
create table marts.fct_transactions (
    transaction_id text primary key, source text, booked_date date, amount numeric, currency text,
    description_raw text, category text, category_confidence double precision, categorized_by text,
    category_needs_review boolean, suggested_category text, anomaly_score double precision,
    anomaly_flagged boolean, anomaly_review_status text, anomaly_reasons text, anomaly_scored_by text
);
insert into marts.fct_transactions values
    ('t-ok', 'stripe', '2026-10-01', 25.00, 'USD', 'Order 1', 'revenue_card_sales', 0.99, 'finflow-categorizer@1',
     false, null, 0.01, false, null, null, 'finflow-anomaly@1'),
    ('t-unsure', 'bank_operating', '2026-10-01', -80.00, 'USD', 'ACME 123', 'uncategorized', 0.55,
     'finflow-categorizer@1', true, 'office_supplies_equipment', 0.02, false, null, null, 'finflow-anomaly@1'),
    ('t-odd', 'expenses', '2026-10-02', -25000.00, 'USD', 'WIRE OUT NEW LLC', 'professional_services', 0.97,
     'finflow-categorizer@1', false, null, 0.991, true, 'pending', 'first payment to NEW LLC and a large one',
     'finflow-anomaly@1');
insert into ml.transaction_categories (transaction_id, category, confidence, method, auto_apply_threshold)
values ('t-unsure', 'uncategorized', 0.55, 'ml', 0.8);
"""

RECONCILIATION = """
create table marts.fct_reconciliation (
    reconciliation_id text, match_type text, status text, left_transaction_id text, right_transaction_id text,
    expected_amount numeric, amount_difference numeric, age_days int, within_window boolean
);
insert into marts.fct_reconciliation values
    ('r-1', 'stripe_payout', 'matched', 't-ok', 'b-1', 25.00, 0, 1, false),
    ('r-2', 'invoice_payment', 'unmatched', 't-ok', null, 25.00, null, 9, false),
    ('r-3', 'stripe_payout', 'unmatched', 't-ok', null, 25.00, null, 1, true),
    ('r-4', 'payroll_run', 'partially_matched', null, 'b-7', -1000.00, -12.50, 2, false);
"""


@pytest.fixture
def review_db(finflow_home):
    from finflow_assets.warehouse import connect

    with fresh_database("test_review_queue"), connect(autocommit=True) as conn:
        ensure_tables(conn)
        conn.execute(FACTS)
        yield conn


def _queue(conn) -> dict[tuple[str, str], dict]:
    return {(item["item_type"], item["item_id"]): item for item in list_queue(conn, limit=100)}


def test_queue_holds_anomalies_and_unsure_categories_with_reasons(review_db):
    counts = rebuild_queue(review_db)
    # no reconciliation mart and no re-delivery conflict: still works
    assert counts == {"redelivery": 0, "anomaly": 1, "category": 1, "reconciliation": 0}
    queue = _queue(review_db)
    assert set(queue) == {("anomaly", "t-odd"), ("category", "t-unsure")}
    assert "first payment" in queue[("anomaly", "t-odd")]["reason"]
    unsure = queue[("category", "t-unsure")]
    assert unsure["suggested_category"] == "office_supplies_equipment"
    assert "0.550 is below the auto-apply threshold 0.800" in unsure["reason"]
    assert list_queue(review_db, "anomaly")[0]["item_id"] == "t-odd"


def test_a_rebuild_writes_only_the_items_that_changed(review_db):
    """Unchanged items are not rewritten (same row version, same ``queued_at``); a changed one is updated in place,
    one no longer pending leaves, a new one comes in."""
    rebuild_queue(review_db)

    def versions() -> dict[str, tuple]:
        rows = review_db.execute("select item_id, xmin::text, queued_at, reason from review.review_queue").fetchall()
        return {item: (xmin, queued, reason) for item, xmin, queued, reason in rows}

    first = versions()
    rebuild_queue(review_db)
    assert versions() == first  # nothing changed: nothing written
    review_db.execute(
        "update marts.fct_transactions set anomaly_reasons = 'round amount 25,000.00' where transaction_id = 't-odd';"
        "update marts.fct_transactions set category_needs_review = false where transaction_id = 't-unsure';"
        "update marts.fct_transactions set anomaly_flagged = true, anomaly_review_status = 'pending',"
        " anomaly_score = 0.97, anomaly_reasons = 'weekend' where transaction_id = 't-ok'"
    )
    rebuild_queue(review_db)
    after = versions()
    assert set(after) == {"t-odd", "t-ok"}
    assert after["t-odd"][0] != first["t-odd"][0] and after["t-odd"][1] == first["t-odd"][1]  # updated, same age
    assert "round amount" in after["t-odd"][2]


def test_reconciliation_items_join_the_queue_when_the_mart_exists(review_db):
    review_db.execute(RECONCILIATION)
    counts = rebuild_queue(review_db)
    assert counts["reconciliation"] == 2  # unmatched and partially matched; not matched, not still in transit
    items = {item["item_id"]: item for item in list_queue(review_db, "reconciliation")}
    assert set(items) == {"r-2", "r-4"}
    assert items["r-2"]["transaction_id"] == "t-ok" and "unmatched invoice payment" in items["r-2"]["reason"]
    assert "9 days old" in items["r-2"]["reason"] and "off by -12.50" in items["r-4"]["reason"]
    record_decision(review_db, "r-4", "approve", "carol")
    assert "r-4" not in {item["item_id"] for item in list_queue(review_db, "reconciliation")}


def test_decisions_are_recorded_with_who_and_when_and_leave_the_queue(review_db):
    rebuild_queue(review_db)
    approved = record_decision(review_db, "t-unsure", "approve", "alice")
    assert approved["item_type"] == "category" and approved["category"] == "office_supplies_equipment"
    assert approved["reviewer"] == "alice" and approved["decided_at"] is not None
    dismissed = record_decision(review_db, "t-odd", "not_anomalous", "bob", note="known new supplier")
    assert dismissed["item_type"] == "anomaly" and dismissed["transaction_id"] == "t-odd"
    assert _queue(review_db) == {}  # decided items leave the queue at once, before it is rebuilt
    assert rebuild_queue(review_db) == {"redelivery": 0, "anomaly": 0, "category": 0, "reconciliation": 0}
    # any transaction's category can be corrected, queued or not
    fixed = record_decision(review_db, "t-ok", "recategorize", "alice", category="refund_chargeback")
    assert fixed["item_type"] == "category" and fixed["category"] == "refund_chargeback"


def test_decisions_that_do_not_fit_are_refused(review_db):
    rebuild_queue(review_db)
    with pytest.raises(DecisionError, match="needs the category"):
        record_decision(review_db, "t-ok", "recategorize", "alice")
    with pytest.raises(DecisionError, match="no transaction"):
        record_decision(review_db, "nope", "recategorize", "alice", category="travel")
    with pytest.raises(DecisionError, match="does not apply"):
        record_decision(review_db, "t-odd", "not_anomalous", "alice", item_type="category")
    with pytest.raises(DecisionError, match="reviewer"):
        record_decision(review_db, "t-odd", "approve", " ")
    assert review_db.execute("select count(*) from review.review_decisions").fetchone()[0] == 0


def test_review_decisions_sensor_applies_new_decisions_and_retrains_after_enough(review_db, monkeypatch):
    import dagster as dg

    from finflow_assets.automation.retraining import RETRAIN_TAG, review_decisions_sensor
    from finflow_assets.resources import WarehouseResource

    def evaluate(cursor: str | None):
        context = dg.build_sensor_context(cursor=cursor, resources={"warehouse": WarehouseResource()})
        return review_decisions_sensor(context)

    monkeypatch.setenv("FINFLOW_RETRAIN_MIN_DECISIONS", "2")
    assert isinstance(evaluate(None), dg.SkipReason)
    rebuild_queue(review_db)
    record_decision(review_db, "t-unsure", "approve", "alice")
    first = evaluate(None)
    assert [sorted(k.to_user_string() for k in r.asset_selection) for r in first.run_requests] == [
        [
            "category_summary",
            "fct_transactions",
            "int_transactions__rule_inputs",  # a re-delivery decision changes what validation lets through
            "int_transactions__validated",
            "review_queue",
        ]
    ]
    record_decision(review_db, "t-odd", "not_anomalous", "bob")
    second = evaluate(first.cursor)
    assert len(second.run_requests) == 2  # applied downstream, and 2 decisions since the last retraining
    retrain = second.run_requests[1]
    assert retrain.tags[RETRAIN_TAG] and {k.to_user_string() for k in retrain.asset_selection} == {
        "categorizer_model",
        "anomaly_model",
    }
    assert json.loads(second.cursor)["trained"] == json.loads(second.cursor)["applied"]
    assert isinstance(evaluate(second.cursor), dg.SkipReason)
