"""The categorizer on simulated data: time split, targets on held-out transactions, confidence routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.categorizer import (
    UNCATEGORIZED,
    evaluate_categorizer,
    predict_with_confidence,
    split_by_time,
    train_categorizer,
)
from ml.evaluation import choose_threshold, routing_curve, routing_metrics
from ml.features import CATEGORIZER_INPUT_COLUMNS, categorizer_features, categorizer_input


@pytest.fixture(scope="module")
def trained(simulated):
    return train_categorizer(simulated.labeled_history())


def test_time_split_keeps_whole_days_in_order():
    days = pd.date_range("2026-09-01", periods=20, freq="D")
    history = pd.DataFrame({"date": np.repeat(days, 3), "x": range(60)})
    train, validation, test = split_by_time(history)
    assert len(train) + len(validation) + len(test) == len(history)
    assert train["date"].max() < validation["date"].min() <= validation["date"].max() < test["date"].min()
    assert test["date"].max() == days[-1]
    with pytest.raises(ValueError, match="at least 3"):
        split_by_time(history[history["date"] < days[2]])


def test_features_tolerate_missing_fields():
    frame = pd.DataFrame({"description": ["UBER *TRIP 12345", None], "amount": [-12.5, 3000]})
    inputs = categorizer_input(frame)
    assert list(inputs.columns) == list(CATEGORIZER_INPUT_COLUMNS)
    features = categorizer_features(inputs)
    assert features.loc[0, "text"] == "~ UBER *TRIP 0"
    assert features.loc[0, "amount_band"].startswith("out:") and features.loc[1, "amount_band"].startswith("in:")
    assert features.loc[1, "party"] == "~ "


def test_trained_on_history_meets_targets_on_held_out_days(trained):
    """Trained on the history file and ledger lines; measured on the newest days nobody used for fitting."""
    metrics = trained.metrics
    assert trained.split["test_from"] > trained.split["validation_from"]
    assert metrics["accuracy"] >= 0.97, metrics
    assert metrics["auto_accuracy"] >= 0.995, metrics
    assert metrics["coverage"] >= 0.85, metrics
    assert 0.5 <= trained.threshold <= 1.0
    assert metrics["ece"] < 0.05  # probabilities are calibrated: confidence ~ accuracy


def test_meets_targets_on_every_source_of_the_simulated_days(simulated, trained):
    """Every source's transactions as the pipeline parses them (one row per true transaction)."""
    rows = simulated.primary.assign(date=simulated.primary["booked_date"])
    evaluation = evaluate_categorizer(trained.pipeline, rows, trained.threshold)
    metrics = evaluation.metrics
    assert metrics["accuracy"] >= 0.97, metrics
    assert metrics["auto_accuracy"] >= 0.995, metrics
    assert metrics["coverage"] >= 0.85, metrics
    assert metrics["macro_f1"] >= 0.9, metrics
    assert {"precision", "recall", "f1", "support"} <= set(evaluation.per_class.columns)
    assert evaluation.confusion.to_numpy().sum() == len(rows)


def test_confidence_routing_sends_low_confidence_to_review(simulated, trained):
    rows = simulated.primary.head(3000)
    plain = predict_with_confidence(trained.pipeline, rows)
    assert "needs_review" not in plain
    routed = predict_with_confidence(trained.pipeline, rows, threshold=0.999)
    assert (routed["needs_review"] == (routed["confidence"] < 0.999)).all()
    assert routed["needs_review"].any() and not routed["needs_review"].all()
    everything = predict_with_confidence(trained.pipeline, rows, threshold=1.01)
    assert everything["needs_review"].all()
    assert UNCATEGORIZED not in set(plain["category"])  # the model never proposes "uncategorized" itself


def test_threshold_choice_maximizes_coverage_at_the_target():
    confidence = np.array([0.99, 0.98, 0.97, 0.9, 0.85, 0.7, 0.6])
    correct = np.array([True, True, True, True, False, True, False])
    # 4/4 correct down to 0.9; 0.85 gives 4/5 = 0.8, 0.7 gives 5/6, 0.6 gives 5/7
    assert choose_threshold(correct, confidence, target_accuracy=0.95, min_threshold=0.5) == 0.9
    assert choose_threshold(correct, confidence, target_accuracy=0.8, min_threshold=0.5) == 0.7
    assert choose_threshold(correct, confidence, target_accuracy=0.8, min_threshold=0.95) == 0.95
    assert choose_threshold(np.zeros(3, bool), np.array([0.9, 0.8, 0.7]), 0.99) == 1.0
    routing = routing_metrics(correct, confidence, 0.9)
    assert routing["coverage"] == pytest.approx(4 / 7) and routing["auto_accuracy"] == 1.0
    curve = routing_curve(correct, confidence)
    assert curve["coverage"].iloc[-1] == 1.0 and curve["accuracy"].iloc[0] == 1.0
