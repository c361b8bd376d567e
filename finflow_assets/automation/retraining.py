"""Retraining and review automation.

- ``retrain_models_daily``: both models retrain once a day (``FINFLOW_RETRAIN_CRON``, default 02:00 UTC) on
  everything labeled so far; a new version becomes champion only if it beats the current one on the same held-out data.
- ``review_decisions_sensor``: new reviewer decisions are applied downstream at once (``fct_transactions``, the
  review queue and the category report are rebuilt), and once ``FINFLOW_RETRAIN_MIN_DECISIONS`` (default 25)
  category or anomaly decisions have come in since the last retraining it asked for, both models retrain.

Training assets train only when a run carries the ``finflow/retrain`` tag (or no champion exists yet), so the
15-minute ticks and file drops only score new transactions with the champions.
"""

import json
import os

import dagster as dg

from ..intelligence.assets import RETRAIN_TAG, anomaly_model, categorizer_model, review_queue
from ..intelligence.review import decisions_since
from ..resources import WarehouseResource
from .conditions import RETRAIN_CRON

DEFAULT_MIN_DECISIONS = 25
TRAINING = dg.AssetSelection.assets(categorizer_model, anomaly_model)
# a re-delivery decision changes which lines validation lets through, so validation is part of applying decisions
APPLY_DECISIONS = [
    dg.AssetKey("int_transactions__rule_inputs"),
    dg.AssetKey("int_transactions__validated"),
    dg.AssetKey("fct_transactions"),
    review_queue.key,
    dg.AssetKey("category_summary"),
]

retrain_models_daily = dg.ScheduleDefinition(
    name="retrain_models_daily",
    description="Retrain the categorizer and the anomaly model on all labeled data; the champion gate decides.",
    cron_schedule=RETRAIN_CRON,
    target=TRAINING,
    tags={RETRAIN_TAG: "daily_schedule"},
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)


def min_decisions() -> int:
    return int(os.environ.get("FINFLOW_RETRAIN_MIN_DECISIONS", DEFAULT_MIN_DECISIONS))


def decision_run_requests(cursor: dict[str, int], latest: int, new: int, since_training: int, needed: int) -> tuple:
    """The runs new decisions call for and the cursor after them (pure: the sensor's logic, testable alone).

    ``cursor``: ``applied`` (last decision id applied downstream), ``trained`` (last id a retraining covered).
    """
    requests = []
    cursor = dict(cursor)
    if new and latest > cursor.get("applied", 0):
        requests.append(
            dg.RunRequest(
                run_key=f"apply-decisions-{latest}",
                asset_selection=APPLY_DECISIONS,
                tags={"finflow/review": "apply_decisions"},
            )
        )
        cursor["applied"] = latest
    if since_training >= needed:
        requests.append(
            dg.RunRequest(
                run_key=f"retrain-after-decision-{latest}",
                asset_selection=[categorizer_model.key, anomaly_model.key],
                tags={RETRAIN_TAG: f"{since_training}_new_decisions"},
            )
        )
        cursor["trained"] = latest
    return requests, cursor


@dg.sensor(
    name="review_decisions_sensor",
    description="Applies new review decisions downstream and retrains both models after enough of them.",
    target=TRAINING | dg.AssetSelection.assets(*APPLY_DECISIONS),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def review_decisions_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {"applied": 0, "trained": 0}
    with warehouse.connect() as conn:
        latest, new, _ = decisions_since(conn, cursor.get("applied", 0))
        _, _, since_training = decisions_since(conn, cursor.get("trained", 0))
    requests, updated = decision_run_requests(cursor, latest, new, since_training, min_decisions())
    if not requests:
        return dg.SkipReason(f"no new review decisions (latest id {latest}; {since_training} since last retraining)")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(updated))


retraining_schedules = [retrain_models_daily]
retraining_sensors = [review_decisions_sensor]
