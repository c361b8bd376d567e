"""Report assets, one factory over ``catalog.REPORTS``: a Postgres table plus CSV and HTML under ``reports/<date>/``
(and a copy at ``FINFLOW_REPORTS_URL/<date>/`` when that is set: ``publish.py``)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql

from ..notify.links import dashboard_link, queue_link
from ..resources import DataFolderResource, WarehouseResource, retry_if_the_database_restarts
from .catalog import REPORTS, ReportSpec
from .charts import bar_chart, pivot
from .files import markdown_table, write_csv, write_html
from .metadata import metadata_value
from .publish import publish


def rebuild_table(conn: psycopg.Connection, spec: ReportSpec) -> None:
    """Replace ``reports.<name>`` in one transaction: readers see the old table or the new one, never neither."""
    table, staged = sql.Identifier(spec.name), sql.Identifier(f"{spec.name}__new")
    conn.execute("create schema if not exists reports")
    conn.execute(sql.SQL("drop table if exists reports.{}").format(staged))
    conn.execute(sql.SQL("create table reports.{} as {}").format(staged, sql.SQL(spec.select_sql)))
    conn.execute(sql.SQL("drop table if exists reports.{}").format(table))
    conn.execute(sql.SQL("alter table reports.{} rename to {}").format(staged, table))


def headline(conn: psycopg.Connection, spec: ReportSpec) -> dict[str, Any]:
    """The report's headline figures (label → value), read from its table."""
    cursor = conn.execute(sql.SQL(spec.headline_sql))
    row = cursor.fetchone() or ()
    return dict(zip((column.name for column in cursor.description or ()), row, strict=False))


def build_report(conn: psycopg.Connection, spec: ReportSpec, folder) -> dict[str, Any]:
    """Rebuild the table and write its files; returns the Dagster metadata (headline figures, files, preview)."""
    rebuild_table(conn, spec)
    cursor = conn.execute(
        sql.SQL("select * from reports.{} order by {}").format(sql.Identifier(spec.name), sql.SQL(spec.order_by))
    )
    columns = [c.name for c in cursor.description or ()]
    rows = cursor.fetchall()  # money stays Decimal into the CSV and HTML: no float on the way
    figures = headline(conn, spec)
    charts = []
    for chart in spec.charts:
        labels, series = pivot(conn.execute(sql.SQL(chart.sql)).fetchall(), 0, 1, 2)
        charts.append(bar_chart(chart.title, labels, series, stacked=chart.stacked))
    csv_path = write_csv(folder / f"{spec.name}.csv", columns, rows)
    html_path = write_html(
        folder / f"{spec.name}.html", spec.title, columns, rows, spec.description, headline=figures, charts=charts
    )
    return {
        **{key: metadata_value(value) for key, value in figures.items()},
        "rows": dg.MetadataValue.int(len(rows)),
        "csv": dg.MetadataValue.path(str(csv_path)),
        "html": dg.MetadataValue.path(str(html_path)),
        "preview": dg.MetadataValue.md(markdown_table(columns, rows)),
        **review_links(spec),
    }


def review_links(spec: ReportSpec) -> dict[str, dg.MetadataValue]:
    """Where people act on the report: the review workspace's dashboard and the queue of the report's items."""
    links = {"dashboard": dg.MetadataValue.url(dashboard_link())}
    if spec.review_item_type:
        links["review_queue"] = dg.MetadataValue.url(queue_link(spec.review_item_type))
    return links


def report_folder(data_folder: DataFolderResource):
    return data_folder.paths().reports / datetime.now(UTC).date().isoformat()


def report_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        group_name="reports",
        deps=[dg.AssetKey(dep) for dep in spec.deps],
        kinds={"postgres", "csv", "html"},
        description=f"{spec.description} (table reports.{spec.name}, CSV and HTML under `reports/<date>/`).",
    )
    def _report(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_folder: DataFolderResource
    ) -> dg.MaterializeResult:
        folder = report_folder(data_folder)
        with retry_if_the_database_restarts(), warehouse.connect() as conn:
            metadata = build_report(conn, spec, folder)
            conn.commit()
        published = publish([Path(metadata["csv"].value), Path(metadata["html"].value)], folder.name)
        if published:
            metadata["published"] = dg.MetadataValue.text(", ".join(published))
        context.log.info(f"{spec.name}: {metadata['rows'].value} rows → {metadata['html'].value}")
        return dg.MaterializeResult(metadata=metadata)

    return _report


def report_headlines(conn: psycopg.Connection, specs: tuple[ReportSpec, ...] = REPORTS) -> Mapping[str, dict]:
    """Every report's headline figures, for the daily e-mail (reports whose table is missing are left out)."""
    out = {}
    for spec in specs:
        exists = conn.execute("select to_regclass(%s) is not null", (f"reports.{spec.name}",)).fetchone()[0]
        if exists:
            out[spec.name] = headline(conn, spec)
    return out


report_assets = [report_asset(spec) for spec in REPORTS]
