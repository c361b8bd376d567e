"""Schedules: API sources are pulled every 15 minutes (file drops have sensors instead); downstream assets follow by
declarative automation (``conditions.py``)."""

import dagster as dg

from ..sources.registry import SOURCES
from .conditions import TICK_CRON

API_ASSETS = [spec.asset_name for spec in SOURCES if spec.kind == "api"]

api_pull_every_15_minutes = dg.ScheduleDefinition(
    name="api_sources_every_15_minutes",
    description="Pull every API source incrementally (what follows updates by declarative automation).",
    cron_schedule=TICK_CRON,
    target=dg.AssetSelection.assets(*API_ASSETS),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)

schedules = [api_pull_every_15_minutes]
