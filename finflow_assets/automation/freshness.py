"""Freshness per source: did a delivery with rows land within the source's expected interval?

A materialization alone says nothing (a pull that finds nothing still materializes), so the check reads the
load journal: the last landed delivery that carried rows.
"""

from datetime import UTC, datetime

import dagster as dg

from ..resources import WarehouseResource
from ..sources.raw_tables import ensure_raw_schema
from ..sources.registry import SOURCES, SourceSpec
from .conditions import TICK_CRON

CHECK_NAME = "delivery_is_fresh"


def _freshness_check(spec: SourceSpec) -> dg.AssetChecksDefinition:
    hours = spec.expected_every.total_seconds() / 3600

    @dg.asset_check(
        asset=spec.asset_name,
        name=CHECK_NAME,
        description=(
            f"A delivery landed within the last {hours:g} h, an empty one (a day without transactions) included;"
            " a missed delivery fails it."
        ),
    )
    def delivery_is_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            ensure_raw_schema(conn)
            last = conn.execute(
                "select max(finished_at) from raw._loads where source = %s and status = 'landed'",
                (spec.name,),
            ).fetchone()[0]
        if last is None:
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"last_delivery": "never"}
            )
        age_hours = (datetime.now(UTC) - last).total_seconds() / 3600
        return dg.AssetCheckResult(
            passed=age_hours <= hours,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "last_delivery": last.isoformat(),
                "age_hours": round(age_hours, 2),
                "expected_every_hours": hours,
            },
        )

    return delivery_is_fresh


freshness_checks = [_freshness_check(spec) for spec in SOURCES]

freshness_job = dg.define_asset_job(
    "source_freshness_checks",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Evaluate every source's delivery freshness.",
)

freshness_every_15_minutes = dg.ScheduleDefinition(
    name="source_freshness_every_15_minutes",
    job=freshness_job,
    cron_schedule=TICK_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
