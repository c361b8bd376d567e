"""Declarative automation: what keeps the assets after the sources up to date, with no one starting a run.

Sources are pulled by schedules (API, every 15 minutes) and file-drop sensors; everything downstream (dbt models,
scoring, reports) carries ``DOWNSTREAM_OF_NEW_DATA`` and is brought up to date by ``finflow_automation``, the one
automation-condition sensor, within a tick of a new landing. Training runs on its own cadence (nightly schedule),
and the daily e-mail on a cron condition.
"""

import os

import dagster as dg

# Dagster's eager condition: run when any upstream asset updated (or will in the same tick, so a landing runs the
# whole chain in one run), never while upstream work is in progress. It normally waits for every upstream asset to
# exist; a source that never delivered would then block everything, so missing upstream data is allowed here (its
# raw table exists, empty, from the first dbt run).
DOWNSTREAM_OF_NEW_DATA = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("eager (new upstream data; missing sources allowed)")
)

# A dbt model or seed whose SQL or CSV changed (an analyst edited a rule) is rebuilt too.
DBT_MODEL_CONDITION = (
    DOWNSTREAM_OF_NEW_DATA
    | (dg.AutomationCondition.code_version_changed() & ~dg.AutomationCondition.in_progress()).with_label("code changed")
).with_label("eager, or its SQL/CSV changed")

DAILY_REPORT_CRON = os.environ.get("FINFLOW_DAILY_REPORT_CRON", "0 7 * * *")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "finflow_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Keeps dbt models, scores and reports up to date after each landing (declarative automation).",
)

# Retrained on the nightly schedule (and when enough reviewer decisions arrive), not on every landing.
TRAINING_ASSETS = frozenset({"categorizer_model", "anomaly_model"})
SOURCE_GROUP = "ingestion"


def condition_for(spec: dg.AssetSpec) -> dg.AutomationCondition | None:
    """The automation policy in one place: sources and training have their own triggers, the rest follows data."""
    if spec.automation_condition is not None:  # an asset that states its own (e.g. the daily e-mail's cron)
        return spec.automation_condition
    if spec.group_name == SOURCE_GROUP or spec.key.to_user_string() in TRAINING_ASSETS:
        return None
    return DBT_MODEL_CONDITION if "dbt" in spec.kinds else DOWNSTREAM_OF_NEW_DATA


def automate(assets: list) -> list:
    """The assets with ``condition_for`` applied to each of their specs."""
    return dg.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition_for(spec)), assets)
