"""Training runs against a real MLflow SQLite registry: what a run logs, the champion gate, scoring from the
registry."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.categorizer import predict_with_confidence
from ml.registry import champion_version, load_champion, version_tags
from ml.training import ANOMALY, CATEGORIZER, THRESHOLD_TAG, train_and_register_anomaly_model
from ml.training import train_and_register_categorizer as register_categorizer


@pytest.fixture(scope="module")
def registry(simulated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    uri, artifacts = f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()
    history = simulated.labeled_history()
    dates = pd.to_datetime(history["date"])
    recent = history[dates >= dates.max() - pd.Timedelta(days=8)]
    good = register_categorizer(recent, uri, artifact_location=artifacts)
    # trained on shuffled labels: a worse model (a few iterations suffice to make it, none would fix it)
    worse = register_categorizer(
        recent, uri, artifact_location=artifacts, shuffle_labels=True, params={"max_iter": 30, "solver": "lbfgs"}
    )
    return uri, good, worse


def test_first_version_becomes_champion_and_a_worse_one_does_not(registry):
    uri, good, worse = registry
    assert good.promoted and good.promotion.previous_version is None
    assert not worse.promoted, worse.promotion
    # the champion was refitted on every row, these held-out ones included: it scores at least its held-out figure
    assert worse.promotion.previous_score >= good.metrics["accuracy"] - 0.005
    assert worse.metrics["accuracy"] < good.metrics["accuracy"]
    assert champion_version(uri, CATEGORIZER) == good.version == "1"
    assert version_tags(uri, CATEGORIZER, worse.version)["gate"] == "rejected"


def test_a_run_logs_params_metrics_artifacts_and_a_model_with_signature(registry, monkeypatch):
    from mlflow import MlflowClient

    uri, good, _ = registry
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(good.run_id)
    assert {"train_rows", "test_rows", "auto_apply_threshold", "C"} <= set(run.data.params)
    metrics = run.data.metrics
    assert {"accuracy", "macro_f1", "auto_accuracy", "coverage", "ece"} <= set(metrics)
    assert any(key.startswith("class_travel_") for key in metrics)  # per class
    artifacts = {a.path for a in client.list_artifacts(good.run_id, "evaluation")}
    expected = {"confusion_matrix.csv", "confusion_matrix.png", "pr_curves.csv", "pr_curves.png", "routing_curve.csv"}
    assert {f"evaluation/{name}" for name in expected} <= artifacts
    version = client.get_model_version(CATEGORIZER, good.version)
    assert version.run_id == good.run_id
    import mlflow
    from mlflow.models import get_model_info

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # set_tracking_uri exports it: put it back afterwards
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    info = get_model_info(f"models:/{CATEGORIZER}/{good.version}")
    assert info.signature is not None and "description" in info.signature.inputs.input_names()
    assert float(version.tags[THRESHOLD_TAG]) == pytest.approx(good.params["auto_apply_threshold"])


def test_scoring_uses_the_champion_from_the_registry(registry, simulated):
    uri, good, _ = registry
    model, version = load_champion(uri, CATEGORIZER)
    assert version == good.version
    threshold = float(version_tags(uri, CATEGORIZER, version)[THRESHOLD_TAG])
    # trained on the last days only (mostly ledger-labeled payments, i.e. bank lines): judge it on bank rows
    rows = simulated.primary[simulated.primary["source"].str.startswith("bank_")]
    predictions = predict_with_confidence(model, rows, threshold)
    applied = ~predictions["needs_review"]
    assert applied.mean() >= 0.85
    assert (predictions.loc[applied, "category"] == rows.loc[applied, "category"]).mean() >= 0.99


def test_registry_calls_leave_the_process_environment_alone(tracking_uri, tmp_path, monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which FinFlow's settings read: a registry call with
    one store must not redirect everything after it; nor may a store without an artifact location write to ./mlruns."""
    import os

    from ml.registry import ensure_experiment

    uri, _ = tracking_uri
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    ensure_experiment(uri, "somewhere")
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    from mlflow import MlflowClient

    location = MlflowClient(tracking_uri=uri).get_experiment_by_name("somewhere").artifact_location
    assert location == (tmp_path / "artifacts").as_uri() and not (tmp_path / "mlruns").exists()


def test_anomaly_model_is_registered_gated_and_scores_from_the_registry(simulated, tracking_uri):
    uri, artifacts = tracking_uri
    days = simulated.primary["booked_date"].dt.normalize()
    frame = simulated.primary[days <= days.min() + pd.Timedelta(days=7)]  # 6 business days: fit on 5, judge 1
    first = train_and_register_anomaly_model(frame, uri, artifact_location=artifacts, truth_column="is_anomaly")
    assert first.promoted and champion_version(uri, ANOMALY) == first.version
    assert {"queue_share", "truth_precision", "truth_recall", "injected_recall"} <= set(first.metrics)
    # a detector that never fires (evidence zero everywhere) is worse and must not take over
    silent = {key: 0.0 for key in ("spike", "new_counterparty", "duplicate", "drift", "round_amount")}
    silent.update({key: 0.0 for key in ("weekend", "hour", "velocity", "forest")})
    second = train_and_register_anomaly_model(frame, uri, artifact_location=artifacts, params={"evidence": silent})
    assert not second.promoted and champion_version(uri, ANOMALY) == first.version
    model, version = load_champion(uri, ANOMALY)
    assert version == first.version
    from ml.anomaly import anomaly_input

    sample = anomaly_input(frame.head(3000))
    scored = model.score(sample.iloc[2000:], sample.iloc[:2000].assign(is_flagged=False))
    assert scored["anomaly_score"].between(0, 1).all() and len(scored) == 1000
