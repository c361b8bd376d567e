"""Thin Dagster assets around the ``ml`` library: train and register the categorizer, score transactions."""

import time

import dagster as dg
import pandas as pd

from ..resources import DataFolderResource, MlflowResource, WarehouseResource
from ..settings import mlflow_artifact_root
from .scores import SCORES_DDL, copy_scores, unscored_transactions

CATEGORIZER = "finflow-categorizer"
EXPERIMENT = "finflow-categorizer"


def _load_history(data_folder: DataFolderResource) -> pd.DataFrame:
    files = sorted(data_folder.paths().history.glob("*.csv"))
    if not files:
        raise dg.Failure(
            f"no labeled history in {data_folder.paths().history}: add a CSV with columns "
            "date, description, amount, currency, category (or run `finflow demo`)"
        )
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


@dg.asset(
    group_name="ml",
    kinds={"mlflow", "scikitlearn"},
    description="Categorizer trained on labeled history, logged to MLflow and registered; promoted to "
    "`champion` when it is at least as accurate as the current champion.",
)
def categorizer_model(
    context: dg.AssetExecutionContext, data_folder: DataFolderResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    from ml.categorizer import SKOPS_TRUSTED_TYPES, train_categorizer
    from ml.features import CATEGORIZER_INPUT_COLUMNS
    from ml.registry import champion_version, log_sklearn_model, set_champion

    history = _load_history(data_folder)
    started = time.perf_counter()
    trained = train_categorizer(history)
    context.log.info(f"trained on {trained.train_rows} rows, tested on {trained.test_rows}: {trained.metrics}")
    uri = mlflow_store.tracking_uri()
    registered = log_sklearn_model(
        uri,
        experiment=EXPERIMENT,
        model_name=CATEGORIZER,
        model=trained.pipeline,
        input_example=history[list(CATEGORIZER_INPUT_COLUMNS)].head(5),
        params={"history_rows": len(history), "train_rows": trained.train_rows, "test_rows": trained.test_rows},
        metrics=trained.metrics,
        artifact_location=mlflow_artifact_root(),
        trusted_types=SKOPS_TRUSTED_TYPES,
    )
    previous = champion_version(uri, CATEGORIZER)
    set_champion(uri, CATEGORIZER, registered.version)
    return dg.MaterializeResult(
        metadata={
            "model_version": registered.version,
            "previous_champion": previous or "none",
            "mlflow_run_id": registered.run_id,
            "accuracy": trained.metrics["accuracy"],
            "macro_f1": trained.metrics["macro_f1"],
            "history_rows": len(history),
            "train_seconds": round(time.perf_counter() - started, 2),
        }
    )


@dg.asset(
    group_name="ml",
    deps=[
        dg.AssetKey("int_transactions__validated"),
        dg.AssetKey("int_transactions__rule_categorized"),
        categorizer_model,
    ],
    kinds={"postgres", "scikitlearn"},
    description="Category and confidence from the champion model for every valid transaction that no analyst "
    "rule categorized, scored once (incremental).",
)
def transaction_categories(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    from ml.categorizer import predict_with_confidence
    from ml.registry import load_champion

    model, version = load_champion(mlflow_store.tracking_uri(), CATEGORIZER)
    started = time.perf_counter()
    with warehouse.connect() as conn:
        conn.execute(SCORES_DDL)
        frame = unscored_transactions(conn)
        if frame.empty:
            context.log.info("no new transactions to score")
            scored = 0
        else:
            predictions = predict_with_confidence(model, frame)
            scored = copy_scores(conn, frame["transaction_id"], predictions, CATEGORIZER, version)
        conn.commit()
    seconds = time.perf_counter() - started
    return dg.MaterializeResult(
        metadata={
            "rows_scored": scored,
            "model": f"{CATEGORIZER} v{version}",
            "rows_per_second": round(scored / seconds) if scored else 0,
        }
    )


intelligence_assets = [categorizer_model, transaction_categories]
