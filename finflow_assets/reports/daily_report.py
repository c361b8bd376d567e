"""The daily report e-mail: once a day, after the reports have refreshed, send them to the stakeholders."""

from decimal import Decimal

import dagster as dg

from ..automation.alerts import send_daily_report
from ..automation.conditions import DAILY_REPORT_CRON
from ..notify.resource import NotifierResource
from ..resources import DataFolderResource, WarehouseResource
from .assets import report_folder, report_headlines
from .catalog import REPORTS


def _label(key: str) -> str:
    return key.replace("_", " ")


def highlights_from(headlines: dict[str, dict]) -> list[str]:
    """One bullet per report: its headline figures, e.g. 'Category summary: transactions 10,000; categories 14'."""
    titles = {spec.name: spec.title for spec in REPORTS}
    lines = []
    for name, figures in headlines.items():
        shown = "; ".join(
            f"{_label(k)} {v:,}" if isinstance(v, int | Decimal) else f"{_label(k)} {v}" for k, v in figures.items()
        )
        lines.append(f"{titles.get(name, name)}: {shown}")
    return lines


@dg.asset(
    name="daily_report_email",
    group_name="reports",
    deps=[dg.AssetKey(spec.name) for spec in REPORTS],
    kinds={"email"},
    description=(
        "Sends the day's reports (CSV and HTML attached) to FINFLOW_REPORT_RECIPIENTS by e-mail and/or Slack, or to "
        f"the outbox folder when neither is configured. Runs once per cron tick ({DAILY_REPORT_CRON} UTC, "
        "FINFLOW_DAILY_REPORT_CRON), once no report is being refreshed."
    ),
    # not Dagster's on_cron (every report updated since the cron tick): reports refresh only when new data lands
    # (an idle tick builds nothing), so on a quiet morning on_cron would wait for data and send nothing
    automation_condition=(
        dg.AutomationCondition.cron_tick_passed(DAILY_REPORT_CRON, cron_timezone="UTC").since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label(f"once per cron tick ({DAILY_REPORT_CRON} UTC), reports not being refreshed"),
)
def daily_report_email(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    data_folder: DataFolderResource,
    notifier: NotifierResource,
) -> dg.MaterializeResult:
    folder = report_folder(data_folder)
    files = sorted(p for spec in REPORTS for p in folder.glob(f"{spec.name}.*") if p.suffix in (".csv", ".html"))
    with warehouse.connect() as conn:
        headlines = report_headlines(conn)
    report = send_daily_report(
        notifier,
        files,
        report_date=folder.name,
        summary=f"{len(files)} report files from FinFlow's latest run.",
        highlights=highlights_from(headlines),
    )
    context.log.info(report.summary())
    report.raise_if_undelivered()
    return dg.MaterializeResult(
        metadata={
            "delivery": report.summary(),
            "attachments": len(files),
            "report_folder": dg.MetadataValue.path(str(folder)),
        }
    )
