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


CATEGORY_SUMMARY = ReportSpec(
    name="category_summary",
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

REPORTS: tuple[ReportSpec, ...] = (CATEGORY_SUMMARY, DATA_QUALITY_SUMMARY)
