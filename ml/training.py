"""Training runs end to end: fit, evaluate on held-out days, log to MLflow, register, pass the champion gate.

The Dagster assets, the benchmark and the tests all call these two functions, so what they measure is what ships.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .anomaly import (
    ANOMALY_INPUT_COLUMNS,
    MAX_BATCH_ROWS,
    SIGNALS,
    AnomalyDetector,
    anomaly_input,
    configured_threshold,
    score_in_days,
)
from .anomaly import (
    SKOPS_TRUSTED_TYPES as ANOMALY_TRUSTED_TYPES,
)
from .categorizer import (
    HYPERPARAMETERS,
    MIN_THRESHOLD,
    CategorizerEvaluation,
    evaluate_categorizer,
    train_categorizer,
    vocabulary_id,
)
from .categorizer import (
    SKOPS_TRUSTED_TYPES as CATEGORIZER_TRUSTED_TYPES,
)
from .evaluation import detection_metrics, pr_curve_frame
from .features import CATEGORIZER_INPUT_COLUMNS
from .registry import Artifacts, Promotion, log_sklearn_model, promote_if_better

CATEGORIZER = "finflow-categorizer"
ANOMALY = "finflow-anomaly"
THRESHOLD_TAG = "auto_apply_threshold"
FIT_TO_TAG = "fit_to"  # the newest day the shipped model learned from
VOCABULARY_TAG = "vocabulary"  # vocabulary_id of the categories the version predicts (all in categories.json)


@dataclass
class TrainingOutcome:
    model_name: str
    version: str
    run_id: str
    promotion: Promotion
    metrics: dict[str, float]
    params: dict[str, object] = field(default_factory=dict)
    train_seconds: float = 0.0
    experiment_id: str = ""
    categories: list[str] = field(default_factory=list)  # the categorizer's vocabulary

    @property
    def promoted(self) -> bool:
        return self.promotion.promoted

    @property
    def champion_version(self) -> str:
        return self.promotion.champion_version


# ----------------------------------------------------------------------------------------------------- categorizer


def _short(name: str) -> str:
    """A category name short enough for a figure's tick label."""
    return name if len(name) <= 30 else name[:29] + "…"


def _categorizer_artifacts(evaluation: CategorizerEvaluation, categories: list[str]) -> Artifacts:
    routing = evaluation.routing
    threshold = evaluation.metrics["threshold"]

    def draw_routing(axes) -> None:  # noqa: ANN001 - matplotlib axes
        axes.plot(routing["coverage"], routing["accuracy"])
        applied = routing[routing["threshold"] >= threshold]
        if len(applied):
            axes.scatter([applied["coverage"].iloc[-1]], [applied["accuracy"].iloc[-1]], color="red", zorder=3)
        axes.set_xlabel("coverage (share auto-applied)")
        axes.set_ylabel("accuracy of auto-applied rows (precision)")
        axes.set_title(f"Confidence routing on held-out days (threshold {threshold:.2f} in red)")
        axes.grid(True, alpha=0.3)

    def draw_confusion(axes) -> None:  # noqa: ANN001
        matrix = evaluation.confusion.rename(index=_short, columns=_short)
        axes.imshow(np.log1p(matrix.to_numpy()), cmap="Blues")
        axes.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=90, fontsize=6)
        axes.set_yticks(range(len(matrix.index)), matrix.index, fontsize=6)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title("Confusion matrix (log counts)")

    def draw_pr(axes) -> None:  # noqa: ANN001
        for label, curve in evaluation.pr_curves.groupby("class"):
            axes.plot(curve["recall"], curve["precision"], linewidth=0.8, label=_short(str(label)))
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.set_title("Per-class precision-recall (one vs rest)")
        axes.legend(fontsize=5, ncol=2)

    return Artifacts(
        frames={
            "confusion_matrix.csv": evaluation.confusion,
            "per_class_metrics.csv": evaluation.per_class,
            "routing_curve.csv": routing,
            "pr_curves.csv": evaluation.pr_curves,
        },
        figures={"routing_curve.png": draw_routing, "confusion_matrix.png": draw_confusion, "pr_curves.png": draw_pr},
        texts={"categories.json": json.dumps(categories, ensure_ascii=False, indent=1)},
    )


def _gate_rows(tracking_uri: str, test: pd.DataFrame) -> pd.DataFrame:
    """The held-out rows the champion gate compares on: those newer than anything the champion learned from (it
    was refitted on every row it had), or all of them when the champion has seen them all or predates the tag."""
    from .registry import champion_version, version_tags

    version = champion_version(tracking_uri, CATEGORIZER)
    fit_to = version_tags(tracking_uri, CATEGORIZER, version).get(FIT_TO_TAG) if version else None
    if not fit_to:
        return test
    unseen = test[pd.to_datetime(test["date"]) > pd.Timestamp(fit_to)]
    return unseen if len(unseen) else test


def train_and_register_categorizer(
    history: pd.DataFrame,
    tracking_uri: str,
    *,
    artifact_location: str | None = None,
    seed: int = 0,
    shuffle_labels: bool = False,
    sources: dict[str, int] | None = None,
    params: dict[str, object] | None = None,
    max_fit_rows: int | None = None,
) -> TrainingOutcome:
    """Train on labeled history, log the run, register ``finflow-categorizer`` and pass the champion gate: the new
    version becomes champion only if its held-out accuracy is at least the champion's on the same rows.
    ``params`` overrides the model's hyperparameters; ``max_fit_rows`` lowers the rows each fit samples (default:
    the categorizer's own cap)."""
    started = time.perf_counter()
    cap = {} if max_fit_rows is None else {"max_rows": max_fit_rows}
    trained = train_categorizer(history, seed, shuffle_labels=shuffle_labels, params=params, **cap)
    params = {
        **HYPERPARAMETERS,
        **(params or {}),
        **trained.split,
        "seed": seed,
        "min_threshold": MIN_THRESHOLD,
        "auto_apply_threshold": trained.threshold,
        "shuffle_labels": shuffle_labels,
        **cap,
        **{f"rows_from_{name}": count for name, count in (sources or {}).items()},
    }
    metrics = {**trained.metrics, "train_seconds": trained.train_seconds}
    categories = [str(name) for name in trained.pipeline.classes_]
    example = trained.test[list(CATEGORIZER_INPUT_COLUMNS)].head(5).reset_index(drop=True)
    registered = log_sklearn_model(
        tracking_uri,
        experiment=CATEGORIZER,
        model_name=CATEGORIZER,
        model=trained.pipeline,
        input_example=example,
        params=params,
        metrics=metrics,
        artifact_location=artifact_location,
        trusted_types=CATEGORIZER_TRUSTED_TYPES,
        artifacts=_categorizer_artifacts(trained.evaluation, categories),
        tags={
            THRESHOLD_TAG: f"{trained.threshold:.6f}",
            VOCABULARY_TAG: vocabulary_id(categories),
            FIT_TO_TAG: str(trained.split["fit_to"]),
            "categories": str(len(categories)),
        },
    )

    gate_rows = _gate_rows(tracking_uri, trained.test)

    def score_champion(model, tags: dict[str, str]) -> float:  # noqa: ANN001
        threshold = float(tags.get(THRESHOLD_TAG, MIN_THRESHOLD))
        return evaluate_categorizer(model, gate_rows, threshold).metrics["accuracy"]

    candidate = evaluate_categorizer(trained.evaluated, gate_rows, trained.threshold).metrics["accuracy"]
    promotion = promote_if_better(tracking_uri, CATEGORIZER, registered, candidate, score_champion)
    return TrainingOutcome(
        CATEGORIZER,
        registered.version,
        registered.run_id,
        promotion,
        metrics,
        params,
        time.perf_counter() - started,
        registered.experiment_id,
        categories,
    )


@dataclass(frozen=True)
class Champion:
    """The registry's ``champion`` categorizer, its version and the auto-apply threshold chosen with it."""

    model: object
    version: str
    threshold: float

    @property
    def categories(self) -> list[str]:
        """The categories the champion predicts (its vocabulary)."""
        return [str(name) for name in self.model.classes_]

    @property
    def vocabulary(self) -> str:
        return vocabulary_id(self.categories)


def load_categorizer_champion(tracking_uri: str) -> Champion:
    """Load ``finflow-categorizer@champion`` and its auto-apply threshold (a version tag); raises LookupError
    when there is none."""
    from .registry import load_champion, version_tags

    model, version = load_champion(tracking_uri, CATEGORIZER)
    threshold = float(version_tags(tracking_uri, CATEGORIZER, version).get(THRESHOLD_TAG, MIN_THRESHOLD))
    return Champion(model, version, threshold)


# ----------------------------------------------------------------------------------------------------- anomalies


def split_days(frame: pd.DataFrame, holdout_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Older days to learn from, the newest ``holdout_share`` of days (at least one) to evaluate on."""
    days = pd.to_datetime(frame["booked_date"]).dt.normalize()
    unique = np.sort(days.unique())
    if len(unique) < 2:
        raise ValueError("anomaly training needs transactions on at least 2 days")
    n_holdout = min(len(unique) - 1, max(1, round(len(unique) * holdout_share)))
    cutoff = unique[len(unique) - n_holdout]
    return frame[days < cutoff], frame[days >= cutoff]


INJECTED_KINDS = ("amount_spike", "duplicate", "round_amount", "new_counterparty")


def inject_anomalies(frame: pd.DataFrame, seed: int = 0, rate: float = 0.005) -> pd.DataFrame:
    """A copy of ``frame`` with synthetic anomalies (column ``injected``: the kind, or ""): tenfold amounts,
    next-day repeats of a payment, round 25,000.00 payments and large payments to a payee never seen. Lets a
    model be measured, and two models compared, on days nobody has labeled."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["injected"] = ""
    amount = pd.to_numeric(out["amount"], errors="coerce").fillna(0.0)
    candidates = np.flatnonzero((amount < 0).to_numpy())
    if len(candidates) == 0:
        return out
    count = max(len(INJECTED_KINDS), int(len(frame) * rate))
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    extra_rows = []
    for number, position in enumerate(chosen):
        kind = INJECTED_KINDS[number % len(INJECTED_KINDS)]
        index = out.index[position]
        ratio = None
        if kind == "amount_spike":
            ratio = 10.0
        elif kind == "round_amount":
            ratio = -25_000.0 / min(-0.01, float(out.at[index, "amount"]))
        elif kind == "new_counterparty":
            ratio = 20.0
            out.at[index, "counterparty"] = f"INJECTED PAYEE {number} LLC"
            out.at[index, "description"] = f"WIRE OUT INJECTED PAYEE {number} LLC"
        elif kind == "duplicate":
            copy = out.loc[index].copy()
            copy["booked_date"] = pd.to_datetime(copy["booked_date"]) + pd.Timedelta(days=1)
            copy["transaction_id"] = f"{copy['transaction_id']}:injected"
            copy["injected"] = kind
            extra_rows.append(copy)
            continue
        for column in ("amount", "amount_base"):
            if column in out.columns:
                out.at[index, column] = round(float(out.at[index, column]) * ratio, 2)
        out.at[index, "injected"] = kind
    if extra_rows:
        added = pd.DataFrame(extra_rows)
        added.index = [f"injected-{i}" for i in range(len(added))]
        out = pd.concat([out, added])
        out = out.sort_values("booked_date", kind="stable")
    return out


@dataclass
class AnomalyEvaluation:
    metrics: dict[str, float]
    scored: pd.DataFrame  # held-out rows with anomaly_score, is_anomaly, anomaly_reasons (and truth if known)
    pr_curve: pd.DataFrame


def evaluate_anomaly_model(
    model: AnomalyDetector,
    history: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    threshold: float,
    truth: pd.Series | None = None,
    seed: int = 0,
) -> AnomalyEvaluation:
    """Score the held-out days one at a time against everything before (as the pipeline does) and measure the
    queue share; with ``truth`` (is_anomaly per held-out row) precision, recall and the PR curve; always the recall
    and precision on injected synthetic anomalies (the gate's measure when nothing is labeled)."""
    # the history's own flags (they keep flagged rows out of the baselines), in runs of days to bound memory
    history_flags = score_in_days(model, history, threshold=threshold, max_rows=MAX_BATCH_ROWS)["is_anomaly"]
    past = history.assign(is_flagged=history_flags.to_numpy())
    started = time.perf_counter()
    scored = score_in_days(model, holdout, past, threshold)
    seconds = time.perf_counter() - started
    days = max(1, pd.to_datetime(holdout["booked_date"]).dt.normalize().nunique())
    flagged = scored["is_anomaly"].to_numpy()
    metrics = {
        "holdout_rows": float(len(holdout)),
        "queue_share": float(flagged.mean()) if len(flagged) else 0.0,
        "flagged_per_day": float(flagged.sum()) / days,
        "score_p99": float(np.quantile(scored["anomaly_score"], 0.99)) if len(scored) else 0.0,
        "scoring_rows_per_second": len(holdout) / seconds if seconds > 0 else 0.0,
        "threshold": threshold,
    }
    scored = scored.join(holdout[["transaction_id", "source", "booked_date", "amount", "description"]])
    pr_curve = pd.DataFrame()
    if truth is not None:
        labels = truth.reindex(holdout.index).fillna(0).astype(bool).to_numpy()
        detection = detection_metrics(labels, flagged)
        metrics.update({f"truth_{key}": float(value) for key, value in detection.items()})
        pr_curve = pr_curve_frame(labels, scored["anomaly_score"].to_numpy())
        scored["truth"] = labels
    injected = inject_anomalies(holdout, seed=seed)
    injected_scores = score_in_days(model, injected.drop(columns=["injected"]), past, threshold)
    positives = (injected["injected"] != "").to_numpy().copy()
    if truth is not None:
        positives |= truth.reindex(injected.index).fillna(0).astype(bool).to_numpy()
    synthetic = detection_metrics(positives, injected_scores["is_anomaly"].to_numpy())
    metrics.update({f"injected_{key}": float(value) for key, value in synthetic.items()})
    if truth is None:
        pr_curve = pr_curve_frame(positives, injected_scores["anomaly_score"].to_numpy())
    return AnomalyEvaluation(metrics, scored, pr_curve)


def _anomaly_artifacts(evaluation: AnomalyEvaluation) -> Artifacts:
    curve = evaluation.pr_curve
    scored = evaluation.scored
    frames = {"pr_curve.csv": curve}
    flagged = scored[scored["is_anomaly"]].sort_values("anomaly_score", ascending=False)
    frames["flagged_sample.csv"] = flagged.head(200)
    if "truth" in scored.columns:
        matrix = pd.crosstab(
            scored["truth"].rename("true_anomaly"), scored["is_anomaly"].rename("flagged"), dropna=False
        )
        frames["confusion_matrix.csv"] = matrix

    def draw_pr(axes) -> None:  # noqa: ANN001
        if len(curve):
            axes.plot(curve["recall"], curve["precision"])
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        labels = "truth" if "truth" in scored.columns else "injected anomalies"
        axes.set_title(f"Anomaly score precision-recall on held-out days ({labels})")
        axes.grid(True, alpha=0.3)

    return Artifacts(frames=frames, figures={"pr_curve.png": draw_pr})


def train_and_register_anomaly_model(
    frame: pd.DataFrame,
    tracking_uri: str,
    *,
    artifact_location: str | None = None,
    seed: int = 0,
    truth_column: str | None = None,
    params: dict[str, object] | None = None,
) -> TrainingOutcome:
    """Fit the detector on all but the newest days, evaluate on those, log, register ``finflow-anomaly`` and pass
    the gate: F1 on the held-out days (against ``truth_column`` when given, plus injected synthetic anomalies)
    at least the champion's on the same rows and injections."""
    started = time.perf_counter()
    params = params or {}
    threshold = configured_threshold()
    truth = frame[truth_column].astype(bool) if truth_column else None
    history, holdout = split_days(anomaly_input(frame))
    model = AnomalyDetector(seed=seed, threshold=threshold, **params).fit(history)
    fit_seconds = time.perf_counter() - started
    evaluation = evaluate_anomaly_model(model, history, holdout, threshold=threshold, truth=truth, seed=seed)
    metrics = {**evaluation.metrics, "fit_seconds": fit_seconds, "history_rows": float(len(history))}
    fired = evaluation.scored["anomaly_reasons"].str.len().gt(0)
    metrics["explained_share"] = float(fired.mean()) if len(fired) else 0.0
    run_params = {
        "n_estimators": model.n_estimators,
        "max_samples": model.max_samples,
        "threshold": threshold,
        "seed": seed,
        "signals": ",".join(SIGNALS),
        "history_from": str(pd.to_datetime(history["booked_date"]).min().date()),
        "holdout_from": str(pd.to_datetime(holdout["booked_date"]).min().date()),
        "labels": truth_column or "injected",
        **{f"evidence_{key}": value for key, value in (params.get("evidence") or {}).items()},
    }
    example = holdout[list(ANOMALY_INPUT_COLUMNS)].head(5).reset_index(drop=True)
    registered = log_sklearn_model(
        tracking_uri,
        experiment=ANOMALY,
        model_name=ANOMALY,
        model=model,
        input_example=example,
        params=run_params,
        metrics=metrics,
        artifact_location=artifact_location,
        trusted_types=ANOMALY_TRUSTED_TYPES,
        artifacts=_anomaly_artifacts(evaluation),
        tags={"threshold": f"{threshold:.4f}"},
    )
    gate_metric = "injected_f1"

    def score_champion(champion, tags: dict[str, str]) -> float:  # noqa: ANN001
        other = evaluate_anomaly_model(champion, history, holdout, threshold=threshold, truth=truth, seed=seed)
        return other.metrics[gate_metric]

    promotion = promote_if_better(tracking_uri, ANOMALY, registered, metrics[gate_metric], score_champion)
    return TrainingOutcome(
        ANOMALY,
        registered.version,
        registered.run_id,
        promotion,
        metrics,
        run_params,
        time.perf_counter() - started,
        registered.experiment_id,
    )
