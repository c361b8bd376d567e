"""Thin Dagster assets around the ``ml`` library: train, register and gate the categorizer and the anomaly model;
score new transactions with each champion (incremental: only rows not scored yet); rebuild the review queue.

Graph: dbt (validated, rule-categorized) -> categorizer_model -> transaction_categories -> anomaly_model ->
transaction_anomalies -> fct_transactions (dbt, tag ``enriched``, reads both ``ml`` tables and the reviewers'
decisions as sources) -> review_queue.

Training is the slow part, so it does not run on every tick: a training asset trains when its model has no champion
yet, or when the run asks for it (tag ``finflow/retrain``: the daily retrain schedule, the review-decisions sensor,
``finflow train``, or ``FINFLOW_RETRAIN=always``); otherwise it records that the champion stays and the scoring
assets go straight on with it.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd

from ..memory import release_freed_memory
from ..notify.links import queue_link
from ..notify.resource import NotifierResource
from ..resources import DataFolderResource, MlflowResource, WarehouseResource
from ..settings import mlflow_artifact_root
from ..transform.assets import finflow_dbt_models
from .baselines import ensure_state, mark_flagged, rebuild, tick_inputs, unscored_ids, window_day
from .review import rebuild_queue
from .scores import (
    MAX_LISTED_UNSCORED,
    anomaly_frame,
    copy_anomalies,
    copy_categories,
    ensure_tables,
    labeled_history,
    top_categories,
    unscored_transactions,
)

CATEGORIZER = "finflow-categorizer"
ANOMALY = "finflow-anomaly"
RETRAIN_TAG = "finflow/retrain"
REASONS = ("anomaly_score", "anomaly_reasons")  # what an alert shows beside the transaction
MIN_ANOMALY_DAYS = 2  # the anomaly model learns from earlier days and is measured on the newest
VALIDATED = dg.AssetKey("int_transactions__validated")
RULE_CATEGORIZED = dg.AssetKey("int_transactions__rule_categorized")
FACTS = dg.AssetKey("fct_transactions")
RECONCILIATION = dg.AssetKey("fct_reconciliation")
TAXONOMY = frozenset(
    {
        "revenue_card_sales",
        "revenue_invoice_payment",
        "refund_chargeback",
        "payment_processing_fee",
        "bank_fee_interest",
        "payroll",
        "payroll_tax",
        "tax",
        "rent_facilities",
        "utilities_telecom",
        "software_saas",
        "cloud_hosting",
        "travel",
        "meals_entertainment",
        "office_supplies_equipment",
        "marketing_advertising",
        "professional_services",
        "insurance",
        "loan_financing",
        "internal_transfer",
        "payout_settlement",
        "uncategorized",
    }
)


def training_history(data_folder: DataFolderResource, warehouse: WarehouseResource) -> tuple[pd.DataFrame, dict]:
    """All labeled rows: the data folder's history files, the ledger's account categories and reviewers' category
    decisions (``origin`` says which), and the row count of each."""
    from ml.simulated import load_history_files

    parts = {"history_files": load_history_files(data_folder.paths().history)}
    with warehouse.connect() as conn:
        ensure_tables(conn)
        conn.commit()
        parts.update(labeled_history(conn))
    sources = {name: len(frame) for name, frame in parts.items()}
    frames = [frame.assign(origin=name) for name, frame in parts.items() if len(frame)]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), sources


def retrain_requested(context: dg.AssetExecutionContext) -> str | None:
    """Why this run retrains (the run's ``finflow/retrain`` tag or ``FINFLOW_RETRAIN=always``), or None."""
    if os.environ.get("FINFLOW_RETRAIN", "").strip().lower() == "always":
        return "FINFLOW_RETRAIN=always"
    tag = context.run.tags.get(RETRAIN_TAG)
    return f"run tag {RETRAIN_TAG}={tag}" if tag else None


def _mlflow_run_link(outcome) -> dict:  # noqa: ANN001 - ml.training.TrainingOutcome
    """The run's address in the MLflow UI (``FINFLOW_MLFLOW_UI_URL``, default a local ``mlflow ui``)."""
    base = os.environ.get("FINFLOW_MLFLOW_UI_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "mlflow_run": dg.MetadataValue.url(f"{base}/#/experiments/{outcome.experiment_id}/runs/{outcome.run_id}"),
        "mlflow_run_id": outcome.run_id,
    }


def _training_metadata(outcome, seconds: float, keys: tuple[str, ...]) -> dict:  # noqa: ANN001 - TrainingOutcome
    metadata = {
        "trained": True,
        "model": f"{outcome.model_name} v{outcome.version}",
        **_mlflow_run_link(outcome),
        "promoted": outcome.promoted,
        "champion_version": outcome.champion_version,
        "previous_champion": outcome.promotion.previous_version or "none",
        "gate": outcome.promotion.reason,
        "train_seconds": round(seconds, 2),
    }
    for key in keys:
        if key in outcome.metrics:
            metadata[key] = dg.MetadataValue.float(float(outcome.metrics[key]))
    return metadata


def _kept_champion(context: dg.AssetExecutionContext, uri: str, model_name: str) -> dg.MaterializeResult | None:
    """When this run does not retrain and a champion exists: a result saying the champion stays (else None)."""
    from ml.registry import champion_version

    if retrain_requested(context):
        return None
    version = champion_version(uri, model_name)
    if version is None:
        return None
    context.log.info(f"{model_name}: champion v{version} stays (retrains on the daily schedule or after new decisions)")
    return dg.MaterializeResult(
        metadata={
            "trained": False,
            "champion_version": version,
            "model": f"{model_name} v{version}",
            "why_not_trained": "a champion exists; retraining runs on the daily schedule, after enough new review "
            f"decisions, with `finflow train`, or with the run tag {RETRAIN_TAG}",
        }
    )


class CategorizerTraining(dg.Config):
    """How a run trains the categorizer (run config ``ops.categorizer_model.config``). ``max_fit_rows``: the rows
    each fit samples at most (stratified by category); unset, the categorizer's own cap. ``finflow demo`` lowers it
    for its first day: the simulator's accuracy is as good with fewer rows (docs/operating.md)."""

    max_fit_rows: int | None = None


@dg.asset(
    group_name="ml",
    deps=[VALIDATED],
    kinds={"mlflow", "scikitlearn"},
    description="Categorizer trained on labeled history (history files, the ledger's account categories, reviewers' "
    "decisions), time-split: threshold chosen on validation days, measured on the newest days; logged to MLflow and "
    "registered as `finflow-categorizer`, promoted to `champion` only if it is at least as accurate as the current "
    "champion on the same held-out days. Trains when there is no champion or the run asks to retrain.",
)
def categorizer_model(
    context: dg.AssetExecutionContext,
    config: CategorizerTraining,
    data_folder: DataFolderResource,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
) -> dg.MaterializeResult:
    release_freed_memory()  # start from what the steps before really hold (see memory.py)
    uri = mlflow_store.tracking_uri()
    kept = _kept_champion(context, uri, CATEGORIZER)
    if kept is not None:
        return kept
    from ml.training import train_and_register_categorizer

    history, sources = training_history(data_folder, warehouse)
    if history.empty:
        raise dg.Failure(
            f"no labeled history: add a CSV with columns date, description, amount, currency, category to "
            f"{data_folder.paths().history} (or run `finflow demo`), or land ERP ledger lines"
        )
    started = time.perf_counter()
    outcome = train_and_register_categorizer(
        history, uri, artifact_location=mlflow_artifact_root(), sources=sources, max_fit_rows=config.max_fit_rows
    )
    context.log.info(f"{outcome.model_name} v{outcome.version}: {outcome.promotion.reason}")
    metadata = _training_metadata(
        outcome,
        time.perf_counter() - started,
        ("accuracy", "macro_f1", "auto_accuracy", "coverage", "threshold", "ece", "rows"),
    )
    metadata.update({f"rows_{name}": count for name, count in sources.items()})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="ml",
    deps=[VALIDATED, RULE_CATEGORIZED, categorizer_model],
    kinds={"postgres", "scikitlearn"},
    description="Category for every valid transaction no analyst rule categorized, scored once (incremental) by the "
    "champion: applied (method `ml`) when its confidence reaches the champion's auto-apply threshold, else left "
    "`uncategorized` with `needs_review` and the prediction as a suggestion. Ledger lines keep their ledger account's "
    "category (method `human`). Each row records the model version that scored it.",
)
def transaction_categories(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    release_freed_memory()  # start from what the steps before really hold (see memory.py)
    from ml.categorizer import route_predictions
    from ml.training import load_categorizer_champion

    champion = load_categorizer_champion(mlflow_store.tracking_uri())
    started = time.perf_counter()
    with warehouse.connect() as conn:
        ensure_tables(conn)
        frame = unscored_transactions(conn)
        ledger = frame["ledger_category"].isin(TAXONOMY)
        rows = []
        if ledger.any():
            booked = frame[ledger]
            rows.append(
                pd.DataFrame(
                    {
                        "transaction_id": booked["transaction_id"],
                        "category": booked["ledger_category"],
                        "predicted_category": booked["ledger_category"],
                        "confidence": 1.0,
                        "method": "human",
                        "needs_review": False,
                        "model_name": "erp_gl",
                        "model_version": "ledger",
                        "auto_apply_threshold": None,
                    }
                )
            )
        scored = frame[~ledger]
        if len(scored):
            routed = route_predictions(champion.model, scored, champion.threshold)
            unsure = routed["needs_review"].to_numpy()
            routed["top_categories"] = None  # for the reviewer: the model's top 3 with their probabilities
            if unsure.any():
                routed.loc[routed.index[unsure], "top_categories"] = top_categories(champion.model, scored[unsure])
            rows.append(
                routed.assign(
                    transaction_id=scored["transaction_id"],
                    method="ml",
                    model_name=CATEGORIZER,
                    model_version=champion.version,
                    auto_apply_threshold=champion.threshold,
                )
            )
        written = copy_categories(conn, pd.concat(rows, ignore_index=True)) if rows else 0
        conn.commit()
    seconds = time.perf_counter() - started
    to_review = int(rows[-1]["needs_review"].sum()) if len(scored) else 0
    by_model = int(len(scored))
    context.log.info(f"scored {written} transactions with {CATEGORIZER} v{champion.version}; {to_review} to review")
    return dg.MaterializeResult(
        metadata={
            "rows_scored": written,
            "rows_from_ledger": int(ledger.sum()),
            "auto_applied": by_model - to_review,
            "to_review": to_review,
            "coverage": dg.MetadataValue.float((by_model - to_review) / by_model if by_model else 1.0),
            "auto_apply_threshold": dg.MetadataValue.float(champion.threshold),
            "model": f"{CATEGORIZER} v{champion.version}",
            "rows_per_second": round(written / seconds) if written else 0,
            "review_queue": dg.MetadataValue.url(queue_link("category")),
        }
    )


def _anomaly_rows(warehouse: WarehouseResource, training: bool) -> pd.DataFrame:
    with warehouse.connect() as conn:
        ensure_tables(conn)
        conn.commit()
        frame = anomaly_frame(conn, training=training)
    for column in ("scored", "is_flagged"):
        frame[column] = frame[column].astype(str).str.lower().isin(("t", "true", "1"))
    frame["booked_date"] = pd.to_datetime(frame["booked_date"])
    return frame


@dg.asset(
    group_name="ml",
    deps=[VALIDATED, RULE_CATEGORIZED, "transaction_categories"],
    kinds={"mlflow", "scikitlearn"},
    description="Anomaly detector (finance signals + IsolationForest) fitted on the recent transactions but the "
    "newest days, measured there (queue share; recall and precision on injected synthetic anomalies), logged to "
    "MLflow and registered as `finflow-anomaly`; promoted to `champion` only if its F1 on the same held-out days "
    "and injections is at least the champion's. Trains when there is no champion or the run asks to retrain.",
)
def anomaly_model(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    release_freed_memory()  # start from what the steps before really hold (see memory.py)
    uri = mlflow_store.tracking_uri()
    kept = _kept_champion(context, uri, ANOMALY)
    if kept is not None:
        return kept
    from ml.training import train_and_register_anomaly_model

    frame = _anomaly_rows(warehouse, training=True)
    if frame.empty:
        raise dg.Failure("no valid transactions to learn the anomaly model from yet")
    days = int(frame["booked_date"].dt.normalize().nunique())
    if days < MIN_ANOMALY_DAYS:
        # a first day of data: nothing to learn "usual" from or to hold out; transactions stay unscored (not
        # failed) and the nightly retraining tries again
        reason = f"needs transactions on at least {MIN_ANOMALY_DAYS} days, found {days}"
        context.log.warning(f"{ANOMALY}: not trained yet, {reason}; the nightly retraining tries again")
        return dg.MaterializeResult(metadata={"trained": False, "model": "none yet", "why_not_trained": reason})
    started = time.perf_counter()
    outcome = train_and_register_anomaly_model(
        frame.drop(columns=["scored"]), uri, artifact_location=mlflow_artifact_root()
    )
    context.log.info(f"{outcome.model_name} v{outcome.version}: {outcome.promotion.reason}")
    metadata = _training_metadata(
        outcome,
        time.perf_counter() - started,
        (
            "queue_share",
            "flagged_per_day",
            "injected_recall",
            "injected_precision",
            "injected_f1",
            "holdout_rows",
            "history_rows",
        ),
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="ml",
    deps=[VALIDATED, "transaction_categories", anomaly_model],
    kinds={"postgres", "scikitlearn"},
    description="Anomaly score in [0, 1], flag (score >= FINFLOW_ANOMALY_THRESHOLD, default 0.95) and reasons for "
    "every valid transaction not scored yet (incremental), against the transactions before it; scored by the "
    "champion, whose version each row records. Scores above the alert threshold are sent at once.",
)
def transaction_anomalies(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
    notifier: NotifierResource,
) -> dg.MaterializeResult:
    release_freed_memory()  # start from what the steps before really hold (see memory.py)
    from ml.anomaly import anomaly_input, configured_threshold, score_in_chunks
    from ml.registry import champion_version, load_champion

    from ..automation.alerts import anomaly_alert_threshold

    if champion_version(mlflow_store.tracking_uri(), ANOMALY) is None:
        context.log.warning(f"no {ANOMALY} champion yet: transactions stay unscored until one is trained")
        return dg.MaterializeResult(metadata={"rows_scored": 0, "model": "none yet"})
    threshold = configured_threshold()
    alert_at = anomaly_alert_threshold()
    # the champion loads from MLflow while PostgreSQL finds the new rows and brings the baselines up to date
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anomaly-champion") as pool:
        loading = pool.submit(load_champion, mlflow_store.tracking_uri(), ANOMALY)
        with warehouse.connect() as conn:
            ensure_tables(conn)
            ensure_state(conn)
            conn.commit()
            ids = unscored_ids(conn, MAX_LISTED_UNSCORED + 1)
            if not ids:
                model, version = loading.result()
                context.log.info("no new transactions to score")
                return dg.MaterializeResult(metadata={"rows_scored": 0, "model": f"{ANOMALY} v{version}"})
            started = time.perf_counter()
            use_state = len(ids) <= MAX_LISTED_UNSCORED and baselines_kept()
            timings: dict[str, float] = {}
            prepared = tick_inputs(conn, ids, timings) if use_state else None
            model, version = loading.result()
            if prepared is not None:
                batch, history, wide, _ = prepared
                scores = model.score(batch, history, threshold, wide=wide)
                history_rows = len(history)
                rows = _score_rows(batch, scores, threshold, version)
                written = copy_anomalies(conn, rows)
                mark_flagged(conn, rows.loc[rows["is_anomaly"], "transaction_id"].tolist())
                conn.commit()  # the scores and the baselines they were scored against, together
                high = rows["anomaly_score"].to_numpy() >= alert_at
                alerts = (
                    [batch[high].assign(**{c: rows.loc[high, c].to_numpy() for c in REASONS})] if high.any() else []
                )
                return _scored_result(
                    context, notifier, alerts, alert_at, threshold, version, written, int(rows["is_anomaly"].sum()),
                    time.perf_counter() - started, history_rows=history_rows, baselines="kept state",
                    seconds_by_part=timings,
                )  # fmt: skip
            conn.rollback()
        model, version = loading.result()
    # a first run's backlog, a late row older than the kept state, or no state yet: the whole look-back is read
    frame = _anomaly_rows(warehouse, training=False)
    started = time.perf_counter()
    unscored = ~frame["scored"].to_numpy()
    if not unscored.any():
        context.log.info("no new transactions to score")
        return dg.MaterializeResult(metadata={"rows_scored": 0, "model": f"{ANOMALY} v{version}"})
    data = anomaly_input(frame)
    del frame  # the detector's inputs are all scoring needs (a first run can be a million rows): one copy at a time
    batch = data[unscored]
    history = data[~unscored] if (~unscored).any() else None
    history_rows = 0 if history is None else len(history)
    del data
    written, flagged, alerts = 0, 0, []
    # runs of whole booking days (a first run's months of backlog in bounded memory), each written and committed
    # as it is scored: a crash loses no finished run, and the rerun scores only what is left
    for positions, scores in score_in_chunks(model, batch, history, threshold):
        rows = _score_rows(batch.iloc[positions], scores, threshold, version)
        with warehouse.connect() as conn:
            written += copy_anomalies(conn, rows)
            conn.commit()
        flagged += int(rows["is_anomaly"].sum())
        high = rows["anomaly_score"].to_numpy() >= alert_at
        if high.any():
            alerts.append(batch.iloc[positions[high]].assign(**{c: rows.loc[high, c].to_numpy() for c in REASONS}))
        if len(positions) < len(batch):
            context.log.info(f"scored {written:,} of {len(batch):,} transactions ({flagged:,} flagged so far)")
    seconds = time.perf_counter() - started
    if baselines_kept():
        with warehouse.connect() as conn:  # the state the next ticks update, for the look-back they will read
            rebuild(conn, window_day([batch["booked_date"].max().date()]))
            conn.commit()
    return _scored_result(
        context, notifier, alerts, alert_at, threshold, version, written, flagged, seconds,
        history_rows=history_rows, baselines="full look-back read",
    )  # fmt: skip


def baselines_kept() -> bool:
    """Whether ticks score against the kept baselines (default) or read the whole look-back every time
    (``FINFLOW_ANOMALY_BASELINES=full``: the reference the kept state is checked against)."""
    return os.environ.get("FINFLOW_ANOMALY_BASELINES", "state").strip().lower() != "full"


def _score_rows(batch: pd.DataFrame, scores: pd.DataFrame, threshold: float, version: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": batch["transaction_id"].to_numpy(),
            "anomaly_score": scores["anomaly_score"].clip(0.0, 1.0).to_numpy(),
            "is_anomaly": scores["is_anomaly"].to_numpy(),
            "anomaly_reasons": scores["anomaly_reasons"].to_numpy(),
            "threshold": threshold,
            "model_name": ANOMALY,
            "model_version": version,
        }
    )


def _scored_result(
    context: dg.AssetExecutionContext,
    notifier: NotifierResource,
    alerts: list[pd.DataFrame],
    alert_at: float,
    threshold: float,
    version: str,
    written: int,
    flagged: int,
    seconds: float,
    history_rows: int,
    baselines: str,
    seconds_by_part: dict[str, float] | None = None,
) -> dg.MaterializeResult:
    from ..automation.alerts import send_anomaly_alert

    if alerts:
        report = send_anomaly_alert(notifier, pd.concat(alerts).to_dict("records"), threshold=alert_at)
        if report is not None:
            context.log.info(f"anomaly alert sent: {report}")
    context.log.info(f"scored {written} transactions with {ANOMALY} v{version}; {flagged} flagged")
    return dg.MaterializeResult(
        metadata={
            "rows_scored": written,
            "flagged": flagged,
            "queue_share": dg.MetadataValue.float(flagged / written if written else 0.0),
            "threshold": dg.MetadataValue.float(threshold),
            "history_rows": history_rows,
            "baselines": baselines,
            "model": f"{ANOMALY} v{version}",
            "rows_per_second": round(written / seconds) if seconds > 0 else 0,
            "review_queue": dg.MetadataValue.url(queue_link("anomaly")),
            **{f"seconds_{part}": value for part, value in (seconds_by_part or {}).items()},
        }
    )


review_decisions = dg.AssetSpec(
    "review_decisions",
    group_name="review",
    kinds={"postgres"},
    description="Reviewers' decisions (table review.review_decisions), recorded with `finflow review decide`: "
    "approve, recategorize, mark not anomalous; who and when. Read by fct_transactions (a decision overrides the "
    "models) and by the next training runs; the review_decisions_sensor applies new ones and triggers retraining.",
)

# the reconciliation mart is built beside this project's own models; the queue waits for it when it exists
_QUEUE_DEPS = [FACTS, review_decisions] + ([RECONCILIATION] if RECONCILIATION in finflow_dbt_models.keys else [])


@dg.asset(
    group_name="review",
    deps=_QUEUE_DEPS,
    kinds={"postgres"},
    description="The review queue (table review.review_queue): flagged anomalies still pending, categories the "
    "model was not confident enough to apply, and unmatched or partially matched reconciliation items (when "
    "marts.fct_reconciliation exists), each with its reason; items already decided are left out.",
)
def review_queue(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        counts = rebuild_queue(conn)
        transactions = conn.execute("select count(*) from marts.fct_transactions").fetchone()[0]
        conn.commit()
    anomalies_and_categories = counts["anomaly"] + counts["category"]
    return dg.MaterializeResult(
        metadata={
            **{f"{item}_items": count for item, count in counts.items()},
            "items": sum(counts.values()),
            "transaction_share": dg.MetadataValue.float(
                anomalies_and_categories / transactions if transactions else 0.0
            ),
            "review_workspace": dg.MetadataValue.url(queue_link()),
            **{f"review_{item}": dg.MetadataValue.url(queue_link(item)) for item in counts},
        }
    )


intelligence_assets = [
    categorizer_model,
    transaction_categories,
    anomaly_model,
    transaction_anomalies,
    review_decisions,
    review_queue,
]
