"""Report assets: a Postgres table plus CSV and HTML files under ``reports/<date>/``."""

from datetime import date

import dagster as dg
from psycopg import sql

from ..resources import DataFolderResource, WarehouseResource
from .files import markdown_table, write_csv, write_html

_CATEGORY_SUMMARY_SQL = """
create schema if not exists reports;
drop table if exists reports.category_summary;
create table reports.category_summary as
select
    t.booked_date,
    t.category,
    count(*) as transactions,
    sum(t.amount_base) filter (where t.amount_base > 0) as money_in,
    -sum(t.amount_base) filter (where t.amount_base < 0) as money_out,
    round(avg(t.category_confidence)::numeric, 4) as mean_confidence
from marts.fct_transactions t
group by 1, 2;
"""

COLUMNS = ("booked_date", "category", "transactions", "money_in", "money_out", "mean_confidence")


@dg.asset(
    group_name="reports",
    deps=[dg.AssetKey("fct_transactions")],
    kinds={"postgres", "csv", "html"},
    description="Money in and out per day and category (table reports.category_summary, CSV and HTML files).",
)
def category_summary(warehouse: WarehouseResource, data_folder: DataFolderResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        conn.execute(_CATEGORY_SUMMARY_SQL)
        query = sql.SQL("select {} from reports.category_summary order by 1, 4 desc nulls last").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        )
        rows = conn.execute(query).fetchall()
        conn.commit()
    folder = data_folder.paths().reports / date.today().isoformat()
    csv_path = write_csv(folder / "category_summary.csv", COLUMNS, rows)
    html_path = write_html(
        folder / "category_summary.html", "Category summary", COLUMNS, rows, "Money in and out by day and category."
    )
    return dg.MaterializeResult(
        metadata={
            "rows": len(rows),
            "transactions": sum(r[2] for r in rows),
            "csv": dg.MetadataValue.path(str(csv_path)),
            "html": dg.MetadataValue.path(str(html_path)),
            "preview": dg.MetadataValue.md(markdown_table(COLUMNS, rows)),
        }
    )


report_assets = [category_summary]
