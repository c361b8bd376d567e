"""The reports, as data: each is a SQL select over the marts, a headline query, an optional chart, and its inputs.

A report becomes the table ``reports.<name>`` and the files ``reports/<date>/<name>.csv`` and ``.html`` (see
``assets.py``, the one factory). To add a report, add a ``ReportSpec`` here. The SQL is fixed text written here,
never built from data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartSpec:
    """A bar chart from a query returning long rows ``(label, series, value)``, e.g. (day, status, items)."""

    title: str
    sql: str
    stacked: bool = True


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    description: str
    deps: tuple[str, ...]
    select_sql: str  # the rows of reports.<name>
    order_by: str  # how the files list them
    headline_sql: str  # one row; its column names are the headline labels (metadata, HTML, the daily e-mail)
    charts: tuple[ChartSpec, ...] = ()
    review_item_type: str | None = None  # the review queue's items behind the report (linked from its metadata)


CATEGORY_SUMMARY = ReportSpec(
    name="category_summary",
    review_item_type="category",
    title="Category summary",
    description="Money in and out per day and category, with how each category was assigned.",
    deps=("fct_transactions",),
    select_sql="""
        select
            booked_date,
            category,
            count(*) as transactions,
            sum(amount_base) filter (where amount_base > 0) as money_in,
            -sum(amount_base) filter (where amount_base < 0) as money_out,
            round(avg(category_confidence)::numeric, 4) as mean_confidence,
            count(*) filter (where category_method = 'rule') as by_rule,
            count(*) filter (where category_method = 'ml') as by_model,
            count(*) filter (where category_method = 'human') as by_reviewer
        from marts.fct_transactions
        group by 1, 2
    """,
    order_by="booked_date, transactions desc",
    headline_sql="""
        select
            coalesce(sum(transactions), 0) as transactions,
            count(distinct category) as categories,
            coalesce(sum(money_in), 0)::numeric(18, 2) as money_in,
            coalesce(sum(money_out), 0)::numeric(18, 2) as money_out,
            coalesce(sum(by_rule), 0) as categorized_by_rule,
            coalesce(sum(by_model), 0) as categorized_by_model
        from reports.category_summary
    """,
    charts=(
        ChartSpec(
            title="Money out by category (base currency)",
            sql="""
                select category, 'money out', sum(money_out) from reports.category_summary
                group by 1 having sum(money_out) > 0 order by 3 desc limit 20
            """,
        ),
        ChartSpec(
            title="Transactions per day by how they were categorized",
            sql="""
                select booked_date::text, method, n from reports.category_summary
                cross join lateral (values ('rule', by_rule), ('model', by_model), ('reviewer', by_reviewer))
                    as m(method, n)
                order by 1
            """,
        ),
    ),
)

DATA_QUALITY_SUMMARY = ReportSpec(
    name="data_quality_summary",
    title="Data quality summary",
    description="Validation rule violations by rule: how many rows, which sources, and the quarantined transactions.",
    deps=("fct_rule_violations", "fct_quarantined_transactions"),
    select_sql="""
        select
            rule_id,
            severity,
            min(message) as message,
            count(*) as violations,
            count(distinct transaction_id) as transactions,
            string_agg(distinct source, ', ') as sources,
            min(booked_date) as first_booked,
            max(booked_date) as last_booked,
            min(source_file || coalesce(' row ' || source_row::text, '')) as example_location
        from marts.fct_rule_violations
        group by rule_id, severity
    """,
    order_by="severity, violations desc",
    headline_sql="""
        select
            (select count(*) from reports.data_quality_summary) as rules_broken,
            (select coalesce(sum(violations), 0) from reports.data_quality_summary) as violations,
            (select count(*) from marts.fct_quarantined_transactions) as quarantined_transactions,
            (select coalesce(sum(transactions), 0) from reports.data_quality_summary where severity = 'warning')
                as transactions_with_warnings
    """,
    charts=(
        ChartSpec(
            title="Rule violations per day by severity",
            sql="""
                select coalesce(booked_date::text, 'no date'), severity, count(*)
                from marts.fct_rule_violations group by 1, 2 order by 1
            """,
        ),
    ),
)

# Accounts masked as in every report; the newest days only, so a tick reads an index range, not the whole history.
ACCOUNT_SUMMARY = ReportSpec(
    name="account_summary",
    title="Account summary",
    description=(
        "Money in and out per day and account over the newest seven booking days, in the account's currency and "
        "in the base currency."
    ),
    deps=("fct_transactions",),
    select_sql="""
        select
            booked_date,
            source,
            '****' || right(coalesce(account_id, ''), 4) as account,
            currency,
            count(*) as transactions,
            coalesce(sum(amount) filter (where amount > 0), 0) as money_in,
            coalesce(-sum(amount) filter (where amount < 0), 0) as money_out,
            coalesce(sum(amount_base) filter (where amount_base > 0), 0) as money_in_base,
            coalesce(-sum(amount_base) filter (where amount_base < 0), 0) as money_out_base
        from marts.fct_transactions
        where booked_date > (select max(booked_date) from marts.fct_transactions) - 7
        group by 1, 2, 3, 4
    """,
    order_by="booked_date desc, source, account",
    headline_sql="""
        select
            count(distinct (source, account)) as accounts,
            coalesce(sum(money_in_base), 0)::numeric(18, 2) as money_in,
            coalesce(sum(money_out_base), 0)::numeric(18, 2) as money_out
        from reports.account_summary
    """,
)

# Accounts are shown by their last four characters in every report (the full id stays in the marts).
RECONCILIATION_REPORT = ReportSpec(
    name="reconciliation_report",
    review_item_type="reconciliation",
    title="Reconciliation report",
    description=(
        "Per source and account: records in, duplicates removed, quarantined, kept; reconciliation items matched, "
        "partially matched and unmatched, with the unmatched amount, the oldest unmatched age and the differences."
    ),
    deps=("fct_reconciliation", "int_accounts__daily"),
    # the counts come from the per-day account roll-up (a few thousand rows, kept up to date per booking day by
    # dbt) instead of every delivered and validated row: rows_delivered counts each raw row, exact re-deliveries
    # included; distinct_rows the first deliveries, which validation sees (duplicates, quarantined, the rest kept)
    select_sql="""
        with accounts as (
            select
                source,
                nullif(account_id, '(none)') as account_id,
                sum(rows_delivered)::bigint as records_in,
                (sum(rows_delivered) - sum(distinct_rows))::bigint as redelivered,
                sum(duplicates)::bigint as duplicates_linked,
                (sum(distinct_rows) - sum(duplicates) - sum(transactions))::bigint as quarantined,
                sum(transactions)::bigint as kept
            from intermediate.int_accounts__daily
            group by 1, 2
        ),
        items as (
            select
                coalesce(left_source, right_source) as source,
                coalesce(left_account_id, right_account_id) as account_id,
                count(*) filter (where status = 'matched') as matched,
                count(*) filter (where status = 'partially_matched') as partially_matched,
                count(*) filter (where status = 'unmatched') as unmatched,
                count(*) filter (where status = 'unmatched' and within_window) as unmatched_within_window,
                coalesce(sum(abs(coalesce(left_amount, right_amount))) filter (where status = 'unmatched'), 0)
                    as unmatched_amount,
                max(age_days) filter (where status = 'unmatched') as oldest_unmatched_days,
                coalesce(sum(abs(amount_difference)) filter (where status <> 'unmatched'), 0) as total_difference
            from marts.fct_reconciliation
            group by 1, 2
        )
        select
            accounts.source,
            '****' || right(coalesce(accounts.account_id, ''), 4) as account,
            accounts.records_in,
            accounts.redelivered + accounts.duplicates_linked as duplicates_removed,
            accounts.quarantined,
            accounts.kept,
            coalesce(items.matched, 0) as matched,
            coalesce(items.partially_matched, 0) as partially_matched,
            coalesce(items.unmatched, 0) as unmatched,
            coalesce(items.unmatched_within_window, 0) as unmatched_within_window,
            coalesce(items.unmatched_amount, 0) as unmatched_amount,
            items.oldest_unmatched_days,
            coalesce(items.total_difference, 0) as total_difference
        from accounts
        left join items using (source, account_id)
    """,
    order_by="source, account",
    headline_sql="""
        select
            coalesce(sum(records_in), 0) as records_in,
            coalesce(sum(duplicates_removed), 0) as duplicates_removed,
            coalesce(sum(quarantined), 0) as quarantined,
            coalesce(sum(matched), 0) as matched,
            coalesce(sum(partially_matched), 0) as partially_matched,
            coalesce(sum(unmatched), 0) as unmatched,
            coalesce(max(oldest_unmatched_days), 0) as oldest_unmatched_days
        from reports.reconciliation_report
    """,
    charts=(
        ChartSpec(
            title="Reconciliation items by day and status",
            sql="""
                select coalesce(left_booked_date, right_booked_date)::text, status, count(*)
                from marts.fct_reconciliation group by 1, 2 order by 1
            """,
        ),
        ChartSpec(
            title="Unmatched items by age (days)",
            sql="""
                select age_days::text, case when within_window then 'may still arrive' else 'overdue' end, count(*)
                from marts.fct_reconciliation where status = 'unmatched' group by 1, 2 order by min(age_days)
            """,
        ),
    ),
)

ANOMALIES_FOR_REVIEW = ReportSpec(
    name="anomalies_for_review",
    review_item_type="anomaly",
    title="Anomalies for review",
    description="Transactions the anomaly model flagged that no reviewer has cleared, highest score first, with why.",
    deps=("fct_transactions",),
    select_sql="""
        select
            anomaly_score,
            booked_date,
            source,
            '****' || right(coalesce(account_id, ''), 4) as account,
            amount,
            currency,
            description_raw as description,
            counterparty,
            category,
            anomaly_reasons,
            anomaly_scored_by,
            transaction_id
        from marts.fct_transactions
        where anomaly_flagged
    """,
    order_by="anomaly_score desc, booked_date, transaction_id",
    headline_sql="""
        select
            (select count(*) from reports.anomalies_for_review) as flagged,
            (select round(100.0 * count(*) filter (where anomaly_flagged) / greatest(count(*), 1), 3)
                from marts.fct_transactions) as percent_of_transactions,
            (select coalesce(round(max(anomaly_score)::numeric, 3), 0) from reports.anomalies_for_review)
                as highest_score
    """,
    charts=(
        ChartSpec(
            title="Flagged transactions per day by source",
            sql="select booked_date::text, source, count(*) from reports.anomalies_for_review group by 1, 2 order by 1",
        ),
    ),
)

REPORTS: tuple[ReportSpec, ...] = (
    RECONCILIATION_REPORT,
    ANOMALIES_FOR_REVIEW,
    CATEGORY_SUMMARY,
    ACCOUNT_SUMMARY,
    DATA_QUALITY_SUMMARY,
)
