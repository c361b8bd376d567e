"""What the dashboard and the transaction page read. The dashboard's numbers come from the report tables
(``reports.<name>``, written by the report assets after every tick) and the reports' own headline SQL in
``reports/catalog.py``: no second copy of the numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from ..intelligence.pending_rules import seed_rules
from ..intelligence.review import columns_of, reconciliation_candidates, relation_exists
from ..reports.catalog import ACCOUNT_SUMMARY, CATEGORY_SUMMARY, DATA_QUALITY_SUMMARY, RECONCILIATION_REPORT
from ..sources.registry import SOURCES

RECENT_DAYS = 7
# the reports whose headline figures the dashboard shows, in this order
HEADLINE_REPORTS = (CATEGORY_SUMMARY, ACCOUNT_SUMMARY, RECONCILIATION_REPORT, DATA_QUALITY_SUMMARY)


def _rows(conn: psycopg.Connection, query: str | sql.Composable, params: tuple = ()) -> list[dict]:
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _headline(conn: psycopg.Connection, spec: object) -> dict | None:
    if not relation_exists(conn, f"reports.{spec.name}"):
        return None
    try:
        with conn.transaction():
            rows = _rows(conn, spec.headline_sql)
    except psycopg.Error:
        return None  # a report whose inputs are not built yet
    return rows[0] if rows else None


def figures(conn: psycopg.Connection) -> dict:
    """Everything the dashboard shows, as JSON-ready rows."""
    out: dict = {"generated_at": datetime.now(UTC).isoformat(), "recent_days": RECENT_DAYS}
    if relation_exists(conn, "reports.category_summary"):
        # the report's own rows for the newest days, per day and category
        out["by_category"] = _rows(
            conn,
            """
            select booked_date, category, transactions, coalesce(money_in, 0) as money_in,
                   coalesce(money_out, 0) as money_out
            from reports.category_summary
            where booked_date > (select max(booked_date) from reports.category_summary) - %s
            order by booked_date desc, money_out desc nulls last, category
            """,
            (RECENT_DAYS,),
        )
        # today's and the recent days' totals: the same report rows summed per day (corrected = by a reviewer)
        out["by_day"] = _rows(
            conn,
            """
            select booked_date, sum(transactions) as transactions, coalesce(sum(money_in), 0) as money_in,
                   coalesce(sum(money_out), 0) as money_out, sum(by_reviewer) as corrected_by_reviewers
            from reports.category_summary
            where booked_date > (select max(booked_date) from reports.category_summary) - %s
            group by 1 order by 1 desc
            """,
            (RECENT_DAYS,),
        )
    else:
        out["by_category"] = out["by_day"] = []
    # money in and out per day and account: the account report's own rows (masked accounts, both currencies)
    out["money_by_account"] = (
        _rows(
            conn,
            "select booked_date, source, account, currency, transactions, money_in, money_out, money_in_base,"
            " money_out_base from reports.account_summary order by booked_date desc, source, account",
        )
        if relation_exists(conn, "reports.account_summary")
        else []
    )
    out["by_account"] = (
        _rows(conn, "select * from reports.reconciliation_report order by source, account")
        if relation_exists(conn, "reports.reconciliation_report")
        else []
    )
    out["headlines"] = {
        spec.name: _headline(conn, spec) for spec in HEADLINE_REPORTS
    }
    out["queue"] = (
        _rows(
            conn,
            """
        select item_type, count(*) as items, max(current_date - booked_date) as oldest_days,
               coalesce(sum(abs(amount)), 0) as amount
        from review.review_queue group by 1 order by 1
        """,
        )
        if relation_exists(conn, "review.review_queue")
        else []
    )
    out["freshness"] = freshness(conn)
    out["decisions_today"] = (
        conn.execute(
            "select count(*) from review.review_decisions where decided_at >= current_date and decision <> 'undo'"
        ).fetchone()[0]
        if relation_exists(conn, "review.review_decisions")
        else 0
    )
    return out


def company_categories(conn: psycopg.Connection) -> list[str]:
    """The categories in use: the analysts' rules, the category report (every category applied), the queue's
    suggestions and the model's top 3 for the queued items; FinFlow's default taxonomy when the warehouse has none
    yet (a fresh install)."""
    found = {rule["category"] for rule in seed_rules()}
    for table, column in (("reports.category_summary", "category"), ("review.review_queue", "suggested_category")):
        if relation_exists(conn, table):
            query = sql.SQL("select distinct {} from {} where {} is not null").format(
                sql.Identifier(column), sql.Identifier(*table.split(".")), sql.Identifier(column)
            )
            found |= {row[0] for row in conn.execute(query).fetchall()}
    if relation_exists(conn, "review.review_queue") and "top_categories" in columns_of(
        conn, "ml", "transaction_categories"
    ):
        found |= {
            row[0]
            for row in conn.execute(
                "select distinct e ->> 'category' from review.review_queue q"
                " join ml.transaction_categories c on c.transaction_id = q.transaction_id"
                " cross join lateral jsonb_array_elements(c.top_categories) e"
                " where q.item_type = 'category' and jsonb_typeof(c.top_categories) = 'array'"
            ).fetchall()
            if row[0]
        }
    found.discard("")
    return sorted(found) if len(found) > 1 else list(DEFAULT_CATEGORIES)


# DESIGN.md's taxonomy, for a warehouse with no categories yet
DEFAULT_CATEGORIES = (
    "revenue_card_sales", "revenue_invoice_payment", "refund_chargeback", "payment_processing_fee",
    "bank_fee_interest", "payroll", "payroll_tax", "tax", "rent_facilities", "utilities_telecom", "software_saas",
    "cloud_hosting", "travel", "meals_entertainment", "office_supplies_equipment", "marketing_advertising",
    "professional_services", "insurance", "loan_financing", "internal_transfer", "payout_settlement",
    "uncategorized",
)  # fmt: skip


def freshness(conn: psycopg.Connection) -> list[dict]:
    """The last landed delivery per source (raw._loads, as the freshness checks read it); late past the source's
    expected interval."""
    last = {}
    if relation_exists(conn, "raw._loads"):
        last = dict(
            conn.execute(
                "select source, max(finished_at) from raw._loads where status = 'landed' group by 1"
            ).fetchall()
        )
    now = datetime.now(UTC)
    rows = []
    for spec in SOURCES:
        when = last.get(spec.name)
        age = (now - when).total_seconds() / 3600 if when else None
        rows.append(
            {
                "source": spec.name,
                "last_delivery": when,
                "age_hours": round(age, 1) if age is not None else None,
                "late": age is None or age > spec.expected_every.total_seconds() / 3600,
            }
        )
    return rows


def transaction_detail(conn: psycopg.Connection, transaction_id: str) -> dict | None:
    """The normalized row, the raw record it came from, its duplicates and echoes, reconciliation links, the
    model scores behind it and the history of decisions."""
    if not relation_exists(conn, "marts.fct_transactions"):
        return None
    facts = _rows(conn, "select * from marts.fct_transactions where transaction_id = %s", (transaction_id,))
    if not facts:
        return None
    row = facts[0]
    detail: dict = {
        "transaction": row,
        "raw": None,
        "duplicates": [],
        "reconciliation": [],
        "candidates": {},
        "unlink": {},
        "scores": {},
    }
    source = str(row.get("source") or "")
    if row.get("load_id") and row.get("source_row") is not None and relation_exists(conn, f"raw.{source}"):
        # the raw table of the source (raw.<source>): the record as delivered, with its file or API page and row
        found = _rows(
            conn,
            sql.SQL(
                "select load_id, origin, source_row, ingested_at, row_hash, record from raw.{}"
                " where load_id = %s::uuid and source_row = %s limit 1"
            ).format(sql.Identifier(source)),
            (str(row["load_id"]), row["source_row"]),
        )
        detail["raw"] = found[0] if found else None
    if relation_exists(conn, "validation.int_transactions__validated"):
        detail["duplicates"] = _rows(
            conn,
            "select transaction_id, source, booked_date, amount, currency, description_raw, source_file, source_row"
            " from validation.int_transactions__validated where duplicate_of = %s order by 1",
            (transaction_id,),
        )
    if relation_exists(conn, "marts.fct_reconciliation"):
        detail["reconciliation"] = _rows(
            conn,
            "select * from marts.fct_reconciliation where left_transaction_id = %s or right_transaction_id = %s",
            (transaction_id, transaction_id),
        )
        for item in detail["reconciliation"]:
            # an unmatched item: what it could be linked to; a reviewer's link: the decision an unlink takes back
            if item["status"] == "unmatched":
                detail["candidates"][item["reconciliation_id"]] = reconciliation_candidates(
                    conn, item["reconciliation_id"]
                )
            if item.get("linked_by"):
                found = conn.execute(
                    "select max(decision_id) from review.effective_decisions"
                    " where item_type = 'reconciliation' and decision = 'link' and item_id = %s",
                    (item["reconciliation_id"],),
                ).fetchone()
                detail["unlink"][item["reconciliation_id"]] = found[0]
    for table in ("ml.transaction_categories", "ml.transaction_anomalies"):
        if relation_exists(conn, table):
            found = _rows(
                conn,
                sql.SQL("select * from {} where transaction_id = %s").format(sql.Identifier(*table.split("."))),
                (transaction_id,),
            )
            detail["scores"][table] = found[0] if found else None
    detail["decisions"] = (
        _rows(
            conn,
            "select decision_id, item_type, item_id, decision, category, reviewer, decided_at, note, reverses"
            " from review.review_decisions where transaction_id = %s or item_id = %s order by decision_id",
            (transaction_id, transaction_id),
        )
        if relation_exists(conn, "review.review_decisions")
        else []
    )
    detail["queued"] = (
        _rows(
            conn,
            "select * from review.review_queue where transaction_id = %s or item_id = %s",
            (transaction_id, transaction_id),
        )
        if relation_exists(conn, "review.review_queue")
        else []
    )
    return detail
