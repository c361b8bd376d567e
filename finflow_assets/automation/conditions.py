"""Declarative automation: what keeps everything after the sources up to date, with no one starting a run.

- Sources: API sources are pulled by a schedule (every tick, 15 minutes by default), file drops by their sensors.
  A file-drop source that has never run lands once at start (nothing, or what is waiting) so its raw table and
  materialization exist.
- dbt models, scoring and reports carry ``DOWNSTREAM_OF_NEW_DATA``: brought up to date within a tick of a new
  landing by ``finflow_automation``, the one automation-condition sensor (on by default). dbt models also rebuild
  when their SQL or seed CSV changes (an analyst edited a rule).
- Training: once when no model exists, then the nightly schedule (``retraining.py``); the daily e-mail: a cron
  condition after the reports updated.
"""

import os

import dagster as dg

# How often FinFlow ticks (API pulls and freshness checks), when the daily report goes out and when models retrain;
# read when the definitions load (restart `dagster dev` after changing them).
TICK_CRON = os.environ.get("FINFLOW_TICK_CRON", "*/15 * * * *")
DAILY_REPORT_CRON = os.environ.get("FINFLOW_DAILY_REPORT_CRON", "0 7 * * *")
RETRAIN_CRON = os.environ.get("FINFLOW_RETRAIN_CRON", "0 2 * * *")
AUDIT_CRON = os.environ.get("FINFLOW_AUDIT_CRON", "30 2 * * *")  # the money invariants over every row (audit.py)

_idle = ~dg.AutomationCondition.in_progress() & ~dg.AutomationCondition.any_deps_in_progress()

# Never built (a new install, or a new model): build it. Dagster's own conditions only react to changes after they
# were switched on, so an asset missing from the start would otherwise wait forever.
NOT_BUILT_YET = (dg.AutomationCondition.missing() & _idle).with_label("not built yet")

# Dagster's eager condition: run when any upstream asset updated (or will in the same tick, so a landing runs the
# whole chain in one run), never while upstream work is in progress. It normally waits for every upstream asset to
# exist; a source whose pulls keep failing would then block everything, so missing upstream data is allowed (its
# raw table exists, empty).
# A source counts as updated only when its data version changed (a delivery with rows: ``delivered_version`` in
# sources/assets.py): the API pulls materialize every tick, and an idle tick (nothing new) must build nothing.
SOURCE_GROUP = "ingestion"
_SOURCES = dg.AssetSelection.groups(SOURCE_GROUP)
# A source's new data version stays a reason to run until this asset is requested after it. A materialization alone
# does not clear it (Dagster's since_last_handled does): a run already in flight when the rows landed may have read
# the source before them, and a source with nothing more to deliver would never bring them in.
_NEW_SOURCE_DATA = (
    dg.AutomationCondition.any_deps_match(
        (dg.AutomationCondition.data_version_changed() & ~dg.AutomationCondition.executed_with_root_target())
        | dg.AutomationCondition.will_be_requested()
    )
    .allow(_SOURCES)
    .since(dg.AutomationCondition.newly_requested() | dg.AutomationCondition.initial_evaluation())
).with_label("a source has a new data version")
_NEW_UPSTREAM_DATA = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated().ignore(_SOURCES))
    .since_last_handled()
).with_label("any_deps_updated (not a source)")
DOWNSTREAM_OF_NEW_DATA = (
    ((_NEW_SOURCE_DATA | _NEW_UPSTREAM_DATA) & _idle).with_label("eager (new upstream data)") | NOT_BUILT_YET
).with_label("eager (new upstream data), or not built yet")

DBT_MODEL_CONDITION = (
    DOWNSTREAM_OF_NEW_DATA
    | (dg.AutomationCondition.code_version_changed() & ~dg.AutomationCondition.in_progress()).with_label("code changed")
).with_label("eager, not built yet, or its SQL/CSV changed")

FILE_DROP_CONDITION = (dg.AutomationCondition.missing() & ~dg.AutomationCondition.in_progress()).with_label(
    "first run at start (then its file-drop sensor)"
)

# Training: once when no model exists (retraining is the nightly schedule and the review-decisions sensor,
# automation/retraining.py).
TRAINING_CONDITION = (dg.AutomationCondition.missing() & ~dg.AutomationCondition.any_deps_missing() & _idle).with_label(
    "first time (then the nightly retraining schedule)"
)

automation_sensor = dg.AutomationConditionSensorDefinition(
    "finflow_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Keeps dbt models, scores and reports up to date after each landing (declarative automation).",
)

TRAINING_ASSETS = frozenset({"categorizer_model", "anomaly_model"})


def condition_for(spec: dg.AssetSpec) -> dg.AutomationCondition | None:
    """The automation policy in one place: sources and training have their own triggers, the rest follows data."""
    if spec.automation_condition is not None:  # an asset that states its own (e.g. the daily e-mail's cron)
        return spec.automation_condition
    if spec.group_name == SOURCE_GROUP:
        return FILE_DROP_CONDITION if "api" not in spec.kinds else None
    if spec.key.to_user_string() in TRAINING_ASSETS:
        return TRAINING_CONDITION
    return DBT_MODEL_CONDITION if "dbt" in spec.kinds else DOWNSTREAM_OF_NEW_DATA


def automate(assets: list) -> list:
    """The assets with ``condition_for`` applied to each of their specs."""
    return dg.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition_for(spec)), assets)
