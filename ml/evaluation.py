"""Evaluation as plain functions returning numbers (and small frames for the MLflow artifacts)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }


METRIC_KEY_CHARS = 60  # a class's part of a metric name at most (MLflow allows 250 for the whole name)


def metric_key(label: str) -> str:
    """A class name as MLflow accepts it in a metric name (alphanumerics and ``_ - . /``): accents folded, anything
    else to ``_``; a name that had to change, or was cut, gets a short hash of the real name so two classes never
    share a key. The real name stays with its key in ``per_class_metrics.csv`` (column ``metric_key``)."""
    folded = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9_\-./]+", "_", folded).strip("_") or "class"
    if safe == label and len(safe) <= METRIC_KEY_CHARS:
        return safe
    digest = hashlib.sha1(str(label).encode("utf-8")).hexdigest()[:8]
    return f"{safe[:METRIC_KEY_CHARS]}-{digest}"


def per_class_metrics(truth: Sequence[str], predicted: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (every class seen in either the truth or the predictions), and
    the class's ``metric_key`` (its name in the run's metrics)."""
    labels = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    return pd.DataFrame(
        {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "metric_key": [metric_key(label) for label in labels],
        },
        index=pd.Index(labels, name="class"),
    )


def confusion_frame(truth: Sequence[str], predicted: Sequence[str]) -> pd.DataFrame:
    """Confusion matrix with true classes as rows and predicted classes as columns."""
    labels = sorted(set(truth) | set(predicted))
    matrix = confusion_matrix(truth, predicted, labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def routing_metrics(correct: np.ndarray, confidence: np.ndarray, threshold: float) -> dict[str, float]:
    """Confidence routing at ``threshold``: share auto-applied (coverage) and accuracy on the auto-applied rows."""
    correct = np.asarray(correct, dtype=bool)
    applied = np.asarray(confidence) >= threshold
    return {
        "coverage": float(applied.mean()) if len(applied) else 0.0,
        "auto_accuracy": float(correct[applied].mean()) if applied.any() else 1.0,
        "review_accuracy": float(correct[~applied].mean()) if (~applied).any() else 1.0,
    }


def routing_curve(correct: np.ndarray, confidence: np.ndarray) -> pd.DataFrame:
    """Accuracy of the auto-applied rows against coverage for every confidence threshold (the routing PR curve).

    Read as a precision-recall curve where "precision" is the accuracy of what is applied without review and
    "recall" the share of rows applied.
    """
    order = np.argsort(-np.asarray(confidence), kind="stable")
    conf = np.asarray(confidence)[order]
    hits = np.cumsum(np.asarray(correct, dtype=float)[order])
    count = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]  # one point per distinct threshold
    return pd.DataFrame(
        {"threshold": conf[last], "coverage": count[last] / len(conf), "accuracy": hits[last] / count[last]}
    )


def choose_threshold(
    correct: np.ndarray, confidence: np.ndarray, target_accuracy: float, min_threshold: float = 0.5
) -> float:
    """The lowest confidence threshold whose auto-applied rows reach ``target_accuracy`` (most coverage), never
    below ``min_threshold``; 1.0 (everything to review) when no threshold reaches the target."""
    if len(confidence) == 0:
        return 1.0
    curve = routing_curve(correct, confidence)
    good = curve[(curve["accuracy"] >= target_accuracy)]
    if good.empty:
        return 1.0
    # the curve's accuracy is not monotone: take the largest coverage at which the target still holds
    return float(max(good["threshold"].min(), min_threshold))


def expected_calibration_error(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by the bin's share of rows."""
    correct = np.asarray(correct, dtype=float)
    confidence = np.asarray(confidence, dtype=float)
    if len(confidence) == 0:
        return 0.0
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        mask = index == b
        total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def one_vs_rest_pr_curves(truth: Sequence[str], probabilities: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Per-class precision-recall curves from the predicted probabilities (long format: class, threshold, P, R)."""
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(truth)
    parts = []
    for index, label in enumerate(classes):
        positive = truth == label
        if not positive.any():
            continue
        precision, recall, thresholds = precision_recall_curve(positive, probabilities[:, index])
        parts.append(
            pd.DataFrame(
                {"class": label, "threshold": np.r_[thresholds, 1.0], "precision": precision, "recall": recall}
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["class", "threshold", "precision", "recall"])
    )


def detection_metrics(is_anomaly: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of anomaly flags against the truth, and the share of rows flagged (queue share)."""
    truth = np.asarray(is_anomaly, dtype=bool)
    flags = np.asarray(flagged, dtype=bool)
    hits = int((truth & flags).sum())
    precision = hits / flags.sum() if flags.any() else 1.0
    recall = hits / truth.sum() if truth.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "queue_share": float(flags.mean()) if len(flags) else 0.0,
        "flagged": int(flags.sum()),
        "anomalies": int(truth.sum()),
    }


def pr_curve_frame(is_anomaly: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """The anomaly score's precision-recall curve (threshold, precision, recall, queue share)."""
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(is_anomaly, dtype=bool)
    score = np.asarray(score, dtype=float)
    if not truth.any():
        return pd.DataFrame(columns=["threshold", "precision", "recall", "queue_share"])
    precision, recall, thresholds = precision_recall_curve(truth, score)
    thresholds = np.r_[thresholds, 1.0]
    sorted_scores = np.sort(score)
    queue = 1.0 - np.searchsorted(sorted_scores, thresholds, side="left") / len(score)
    return pd.DataFrame({"threshold": thresholds, "precision": precision, "recall": recall, "queue_share": queue})
