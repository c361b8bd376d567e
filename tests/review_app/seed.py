"""A small warehouse for the review workspace's tests and bench: ``marts.fct_transactions`` with the columns the
queue and the transaction page read, a merchant with several unsure lines, an anomaly, and hostile descriptions;
then the real ``rebuild_queue``. Built in seconds, without the dbt build."""

from __future__ import annotations

import psycopg

from finflow_assets.intelligence.review import rebuild_queue
from finflow_assets.intelligence.scores import ensure_tables
from finflow_assets.reports.assets import rebuild_table
from finflow_assets.reports.catalog import ACCOUNT_SUMMARY, CATEGORY_SUMMARY
from finflow_assets.review_app.users import add_user

XSS = "<script>window.__xss = 1</script><img src=x onerror=alert(1)>"
SQLI = "'; drop table review.review_queue; --"
MERCHANT = "ACME OFFICE SUPPLY"
MERCHANT_LINES = 6
PASSWORD = "correct horse battery"

FACTS = """
create schema if not exists marts;
drop table if exists marts.fct_transactions;
drop table if exists marts.fct_reconciliation;
create table marts.fct_transactions (
    transaction_id text primary key, source text, source_transaction_id text, account_id text, booked_date date,
    amount numeric, currency text, amount_base numeric, description_raw text, counterparty text, category text,
    category_confidence double precision, category_method text, categorized_by text, category_needs_review boolean,
    suggested_category text, anomaly_score double precision, anomaly_flagged boolean, anomaly_review_status text,
    anomaly_reasons text, anomaly_scored_by text, load_id uuid, source_file text, source_row int
);
"""

UNSURE = """
insert into marts.fct_transactions
select 'tx-' || g, %(source)s, 'src-' || g, 'ACCT-000123' || (g %% 3), current_date - (g %% 20), -(10 + g %% 500),
       'USD', -(10 + g %% 500), %(description)s || ' ' || (1000 + g), null, 'uncategorized', 0.5 + (g %% 30) / 100.0,
       'ml', 'finflow-categorizer@1', true, %(suggested)s, 0.01, false, null, null, 'finflow-anomaly@1', null,
       'landing/file.csv', g
from generate_series(%(first)s::int, %(last)s::int) g
"""

# the scores of the unsure lines, with the model's top 3 as the categorizer asset stores them (scores.top_categories)
TOP_THREE = """
insert into ml.transaction_categories
    (transaction_id, category, confidence, method, auto_apply_threshold, predicted_category, needs_review,
     top_categories)
select transaction_id, 'uncategorized', category_confidence, 'ml', 0.85, suggested_category, true,
       jsonb_build_array(
           jsonb_build_object('category', suggested_category, 'probability', round(category_confidence::numeric, 4)),
           jsonb_build_object('category', case when suggested_category = 'travel' then 'meals_entertainment'
                                              else 'travel' end,
                              'probability', round((1 - category_confidence)::numeric * 0.6, 4)),
           jsonb_build_object('category', 'marketing_advertising',
                              'probability', round((1 - category_confidence)::numeric * 0.3, 4)))
from marts.fct_transactions
where category_needs_review
"""
SECOND_CHOICE = "travel"  # the model's second category for the merchant's lines

# a table with fct_reconciliation's columns that the workspace reads (the dbt view is exercised end to end)
RECONCILIATION = """
create table marts.fct_reconciliation (
    reconciliation_id text, match_type text, status text, currency text, left_transaction_id text,
    left_booked_date date, left_amount numeric, left_source text, left_description text,
    right_transaction_id text, right_booked_date date, right_amount numeric, right_source text,
    right_description text, expected_amount numeric, amount_difference numeric, age_days int, within_window boolean
);
insert into marts.fct_reconciliation values
    ('r-invoice', 'invoice_payment', 'unmatched', 'USD', 'tx-odd', current_date - 9, -25000, 'expenses',
     'WIRE OUT NEW LLC', null, null, null, null, null, -25000, null, 9, false),
    ('r-bank-far', 'invoice_payment', 'unmatched', 'USD', null, null, null, null, null, 'tx-101',
     current_date - 1, -24000, 'expenses', 'ZOOM.US', null, null, 1, false),
    ('r-bank-near', 'invoice_payment', 'unmatched', 'USD', null, null, null, null, null, 'tx-102',
     current_date - 8, -24990, 'expenses', 'WIRE NEW LLC', null, null, 8, false),
    ('r-eur', 'invoice_payment', 'unmatched', 'EUR', null, null, null, null, null, 'tx-103',
     current_date - 8, -25000, 'billing', 'EUR payment', null, null, 8, false);
"""


def seed(conn: psycopg.Connection, *, filler: int = 0, reconciliation: bool = False) -> dict[str, int]:
    """Fill the current database (autocommit connection); ``filler`` adds that many more unsure lines,
    ``reconciliation`` a small ``marts.fct_reconciliation`` (an unmatched invoice, three unmatched bank lines)."""
    ensure_tables(conn)
    conn.execute(FACTS)
    conn.execute("delete from review.review_decisions")
    conn.execute("drop table if exists review.pending_rules")
    conn.execute("delete from ml.transaction_categories")
    if conn.execute("select to_regclass('raw._superseded')").fetchone()[0]:
        conn.execute("delete from raw._superseded")  # re-delivery conflicts a test made
    add = conn.execute
    add(
        UNSURE,
        {
            "source": "bank_operating",
            "description": MERCHANT,
            "suggested": "office_supplies_equipment",
            "first": 1,
            "last": MERCHANT_LINES,
        },
    )
    add(
        UNSURE,
        {"source": "expenses", "description": "ZOOM.US", "suggested": "software_saas", "first": 101, "last": 101},
    )
    add(UNSURE, {"source": "expenses", "description": XSS, "suggested": "travel", "first": 102, "last": 102})
    add(
        UNSURE,
        {"source": "billing", "description": SQLI, "suggested": "professional_services", "first": 103, "last": 103},
    )
    if filler:
        add(
            UNSURE,
            {
                "source": "stripe",
                "description": "FILLER MERCHANT",
                "suggested": "software_saas",
                "first": 10_001,
                "last": 10_000 + filler,
            },
        )
    add(
        """
        insert into marts.fct_transactions values
        ('tx-odd', 'expenses', 'src-odd', 'CARD-99887766', current_date - 2, -25000, 'USD', -25000,
         'WIRE OUT NEW LLC', 'NEW LLC', 'professional_services', 0.97, 'ml', 'finflow-categorizer@1', false, null,
         0.991, true, 'pending', 'first payment to NEW LLC and 40x its usual amount', 'finflow-anomaly@1', null,
         'landing/cards.json', 7)
        """
    )
    add(TOP_THREE)
    if reconciliation:
        conn.execute(RECONCILIATION)
    for spec in (CATEGORY_SUMMARY, ACCOUNT_SUMMARY):
        rebuild_table(conn, spec)  # the report's table, as the report asset writes it
    for name, role in (("rita", "reviewer"), ("vic", "viewer"), ("ada", "admin")):
        add_user(conn, name, role, PASSWORD)
    return rebuild_queue(conn)
