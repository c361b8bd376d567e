"""The transaction categorizer: one scikit-learn Pipeline from raw transaction fields to a category and confidence.

Training is time-based: the labeled history is split by day into train (oldest), validation and test (newest).
A model fitted on train chooses the confidence threshold on validation (the lowest one whose auto-applied rows
reach the target accuracy); the model that ships is refitted on train + validation and measured on test, which
neither it nor the threshold has seen. The test days are also where a candidate meets the current champion.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FunctionTransformer, Pipeline
from sklearn.preprocessing import OneHotEncoder

from .evaluation import (
    choose_threshold,
    classification_metrics,
    confusion_frame,
    expected_calibration_error,
    one_vs_rest_pr_curves,
    per_class_metrics,
    routing_curve,
    routing_metrics,
)
from .features import (
    CATEGORICAL_COLUMNS,
    CATEGORIZER_INPUT_COLUMNS,
    COUNTERPARTY_COLUMN,
    KIND_COLUMN,
    MERCHANT_COLUMN,
    MERCHANT_KEY_COLUMN,
    TEXT_COLUMN,
    categorizer_features,
    categorizer_input,
)

# Types beyond skops' defaults that the pipeline holds; MLflow saves with skops and loads only these extra types.
SKOPS_TRUSTED_TYPES = ["ml.features.categorizer_features"]

TARGET_AUTO_ACCURACY = 0.995  # accuracy the auto-applied rows must reach on validation data
# ... when the validation days hold fewer than VERIFIABLE_ROWS rows: 99.5% cannot be told from 98.5% on a few
# hundred rows (one error more or less), and demanding it there only sends nearly everything to review
SMALL_HISTORY_TARGET = 0.985
VERIFIABLE_ROWS = 2_000
MIN_THRESHOLD = 0.8  # never auto-apply a category the model gives less than this probability
UNCATEGORIZED = "uncategorized"
PREDICT_ROWS = 50_000  # rows predicted at once

HYPERPARAMETERS = {
    "char_ngrams": (2, 4),
    "word_ngrams": (1, 2),
    "min_df": 2,
    "C": 20.0,
    "max_iter": 200,
    "tol": 1e-3,
    "solver": "lbfgs",
    "class_weight": None,  # with one BLAS thread 2-3x less CPU than newton-cg on these sparse features
}


def vocabulary_id(categories: Iterable[str]) -> str:
    """A short fingerprint of a set of category names (order and duplicates ignored): two models, or a model and
    a file, speak the same vocabulary exactly when their ids are equal."""
    names = sorted({str(name) for name in categories})
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()[:12]


def describe_vocabulary(categories: Iterable[str], shown: int = 4) -> str:
    """``vocabulary 3f2a9c01b7de (12 categories: "A & B", "C", ...)`` for messages."""
    names = sorted({str(name) for name in categories})
    short = [name if len(name) <= 40 else name[:39] + "..." for name in names[:shown]]
    listed = ", ".join(f'"{name}"' for name in short) + (", ..." if len(names) > shown else "")
    return f"vocabulary {vocabulary_id(names)} ({len(names)} categories: {listed})"


def vocabulary_mismatch(expected: Iterable[str], model_categories: Iterable[str]) -> str | None:
    """None when ``expected`` names exactly the model's categories; else what differs (a few names each way)."""
    want = {str(name) for name in expected}
    have = {str(name) for name in model_categories}
    if want == have:
        return None
    missing = sorted(want - have)
    extra = sorted(have - want)
    parts = []
    if missing:
        parts.append(f"{len(missing)} expected categories the model does not know ({', '.join(missing[:5])})")
    if extra:
        parts.append(f"{len(extra)} model categories not expected ({', '.join(extra[:5])})")
    return "; ".join(parts)


CONTEST_ROWS = 10_000  # below this many labeled rows, min_df 1 and 2 are both tried on the validation days


def adapted_hyperparameters(rows: int) -> list[dict[str, object]]:
    """The hyper-parameters worth trying on a history of ``rows`` labeled rows, the default first (it wins ties):
    with a few hundred or thousand rows a merchant's word seen once is often the only evidence there is for it
    (min_df 1: on a 110-row public history 0.72 top-1 against 0.62 with min_df 2; on 1,504 New Zealand rows 0.854
    against 0.849 on the next days), but with many rows words seen once are mostly noise (reference fragments,
    typos) and cost training time. Which one a history gets is decided on its own validation days
    (:func:`train_categorizer`), never on the test days; from ``CONTEST_ROWS`` rows on, min_df 2 without a contest."""
    if rows >= CONTEST_ROWS:
        return [{"min_df": HYPERPARAMETERS["min_df"]}]
    return [{"min_df": 1}, {"min_df": 2}]


def build_categorizer(seed: int = 0, **overrides: object) -> Pipeline:
    """Into multinomial logistic regression: char n-grams and words of the merchant part of the description
    (:func:`~ml.features.clean_description`: no card, store or reference numbers, dates or processor prefixes),
    word n-grams of the description as written (its codes and payment words), words of the counterparty, the
    kinds of business the merchant's words name (what carries over to merchants never seen), the payee memory
    (a merchant key seen twice or more), the source, its transaction type, currency and amount band (direction
    and order of magnitude).

    Logistic regression's probabilities come from its log-loss objective and are already well calibrated here
    (expected calibration error ~0.1-0.3% on held-out days, logged as ``ece``); wrapping it in
    ``CalibratedClassifierCV`` made them worse (under-confident) and tripled the training time.
    """
    p = {**HYPERPARAMETERS, **overrides}
    vectorize = ColumnTransformer(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=p["char_ngrams"],
                    min_df=p["min_df"],
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
                MERCHANT_COLUMN,
            ),
            (
                "words",
                TfidfVectorizer(
                    ngram_range=p["word_ngrams"],
                    min_df=p["min_df"],
                    sublinear_tf=True,
                    dtype=np.float32,
                    token_pattern=r"[^\s]+",
                ),
                TEXT_COLUMN,
            ),
            (
                "merchant_words",
                TfidfVectorizer(min_df=1, sublinear_tf=True, dtype=np.float32, token_pattern=r"[^\s]+"),
                MERCHANT_COLUMN,
            ),
            (
                "party",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=1, sublinear_tf=True, token_pattern=r"[^\s]+", dtype=np.float32
                ),
                COUNTERPARTY_COLUMN,
            ),
            (
                "kinds",
                TfidfVectorizer(binary=True, use_idf=False, token_pattern=r"[^\s]+", dtype=np.float32),
                KIND_COLUMN,
            ),
            ("codes", OneHotEncoder(handle_unknown="ignore", dtype=np.float32), list(CATEGORICAL_COLUMNS)),
            # the payee memory: a merchant seen before (twice or more) is one strong feature of its own
            (
                "payee",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2, dtype=np.float32),
                [MERCHANT_KEY_COLUMN],
            ),
        ],
    )
    classifier = LogisticRegression(
        C=p["C"],
        max_iter=p["max_iter"],
        tol=p["tol"],
        solver=p["solver"],
        class_weight=p["class_weight"],
        random_state=seed,
    )
    return Pipeline(
        [
            ("features", FunctionTransformer(categorizer_features, validate=False)),
            ("vectorize", vectorize),
            ("classify", classifier),
        ]
    )


def split_by_time(
    history: pd.DataFrame, validation_share: float = 0.15, test_share: float = 0.15
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train on the earliest days, choose the threshold on the next ones, test on the newest (whole days each side:
    a random split would leak the future and put one day's near-identical rows on both sides)."""
    dates = pd.to_datetime(history["date"]).dt.normalize()
    days = np.sort(dates.unique())
    if len(days) < 3:
        raise ValueError(f"labeled history spans {len(days)} day(s); a time split needs at least 3")
    n_test = max(1, round(len(days) * test_share))
    n_validation = max(1, round(len(days) * validation_share))
    n_test = min(n_test, len(days) - 2)
    n_validation = min(n_validation, len(days) - n_test - 1)
    test_from = days[len(days) - n_test]
    validation_from = days[len(days) - n_test - n_validation]
    return (
        history[dates < validation_from],
        history[(dates >= validation_from) & (dates < test_from)],
        history[dates >= test_from],
    )


def predict_with_confidence(pipeline: Pipeline, frame: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
    """Best category and its probability per row; with ``threshold``, ``needs_review`` marks the rows below it.
    Predicts ``PREDICT_ROWS`` rows at a time: the text features of a million rows at once would take gigabytes."""
    best = np.empty(len(frame), dtype=np.int64)
    confidence = np.empty(len(frame), dtype=float)
    for start in range(0, len(frame), PREDICT_ROWS):
        part = slice(start, start + PREDICT_ROWS)
        probabilities = pipeline.predict_proba(categorizer_input(frame.iloc[part]))
        best[part] = np.argmax(probabilities, axis=1)
        confidence[part] = probabilities[np.arange(len(probabilities)), best[part]]
    out = pd.DataFrame({"category": pipeline.classes_[best], "confidence": confidence}, index=frame.index)
    if threshold is not None:
        out["needs_review"] = confidence < threshold
    return out


def route_predictions(pipeline: Pipeline, frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Confidence routing: ``category`` is the prediction where its confidence reaches ``threshold`` and
    ``uncategorized`` where it does not (``needs_review``: to the review queue, with the prediction kept in
    ``predicted_category`` as the reviewer's suggestion); ``confidence`` is the prediction's probability."""
    predictions = predict_with_confidence(pipeline, frame, threshold)
    review = predictions["needs_review"].to_numpy()
    return pd.DataFrame(
        {
            "category": predictions["category"].where(~review, UNCATEGORIZED),
            "predicted_category": predictions["category"],
            "confidence": predictions["confidence"],
            "needs_review": review,
        },
        index=frame.index,
    )


def categorize_frame(
    frame: pd.DataFrame,
    pipeline: Pipeline,
    threshold: float,
    model_version: str,
    rules: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Categories for any frame of transactions (columns as :func:`categorizer_input` reads them): the analysts'
    rules first (method ``rule``, confidence 1), the model for the rest (method ``ml``; under ``threshold`` the row
    stays ``uncategorized`` with ``needs_review`` and the prediction as ``suggested_category``). Columns: category,
    confidence, method, suggested_category, needs_review, categorized_by."""
    from .rules import apply_rules

    ruled = (
        apply_rules(frame, rules)
        if rules is not None
        else pd.DataFrame({"category": "", "rule_id": ""}, index=frame.index)
    )
    by_rule = (ruled["category"] != "").to_numpy()
    out = pd.DataFrame(
        {
            "category": ruled["category"].astype(object),
            "confidence": 1.0,
            "method": "rule",
            "suggested_category": "",
            "needs_review": False,
            "categorized_by": ruled["rule_id"].astype(object),
        },
        index=frame.index,
    )
    if (~by_rule).any():
        rest = frame[~by_rule]
        routed = route_predictions(pipeline, rest, threshold)
        out.loc[rest.index, "category"] = routed["category"].to_numpy()
        out.loc[rest.index, "confidence"] = routed["confidence"].to_numpy()
        out.loc[rest.index, "method"] = "ml"
        out.loc[rest.index, "suggested_category"] = routed["predicted_category"].where(routed["needs_review"], "")
        out.loc[rest.index, "needs_review"] = routed["needs_review"].to_numpy()
        out.loc[rest.index, "categorized_by"] = f"finflow-categorizer@{model_version}"
    return out


@dataclass
class CategorizerEvaluation:
    """How a fitted model does on labeled rows at a given auto-apply threshold."""

    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    routing: pd.DataFrame
    pr_curves: pd.DataFrame


def evaluate_categorizer(pipeline: Pipeline, labeled: pd.DataFrame, threshold: float) -> CategorizerEvaluation:
    """Overall accuracy and macro-F1, accuracy on the auto-applied rows and their share (coverage), calibration
    error, per-class precision/recall/F1, the confusion matrix and the precision-recall curves."""
    probabilities = pipeline.predict_proba(categorizer_input(labeled))
    best = np.argmax(probabilities, axis=1)
    predicted = pipeline.classes_[best]
    confidence = probabilities[np.arange(len(best)), best]
    truth = labeled["category"].astype(str).to_numpy()
    correct = predicted == truth
    metrics = {
        **classification_metrics(truth, predicted),
        **routing_metrics(correct, confidence, threshold),
        "ece": expected_calibration_error(correct, confidence),
        "threshold": float(threshold),
        "rows": float(len(labeled)),
    }
    per_class = per_class_metrics(truth, predicted)
    for _, row in per_class.iterrows():
        for name in ("precision", "recall", "f1"):
            metrics[f"class_{row['metric_key']}_{name}"] = float(row[name])
    return CategorizerEvaluation(
        metrics=metrics,
        per_class=per_class,
        confusion=confusion_frame(truth, predicted),
        routing=routing_curve(correct, confidence),
        pr_curves=one_vs_rest_pr_curves(truth, probabilities, list(pipeline.classes_)),
    )


@dataclass
class TrainedCategorizer:
    pipeline: Pipeline  # what ships
    evaluated: Pipeline  # what the figures measure (not fitted on the test days; the same object without refit)
    threshold: float
    evaluation: CategorizerEvaluation
    test: pd.DataFrame  # the held-out rows (newest days), for comparing with the champion on the same data
    split: dict[str, object] = field(default_factory=dict)
    train_seconds: float = 0.0

    @property
    def metrics(self) -> dict[str, float]:
        return self.evaluation.metrics


HUMAN_WEIGHT = 10.0  # a reviewer's decision outweighs this many history rows that say otherwise
MAX_FIT_ROWS = 15_000  # rows the shipped model's fit samples at most (stratified): accuracy is flat above ~10k
THRESHOLD_FIT_ROWS = 8_000  # ... and the first fit, which only chooses the threshold on the validation days
MIN_ROWS_PER_CLASS = 50  # the sample keeps at least this many rows of every category (or all it has)


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Labeled rows with a date, a category and at least a description or counterparty; inputs normalized.

    An optional ``origin`` column names where each row came from; rows from ``corrections`` (reviewers' decisions)
    are marked ``human`` (see :func:`train_categorizer`).
    """
    missing = {"date", "category", "description", "amount"} - set(history.columns)
    if missing:
        raise ValueError(f"labeled history lacks columns: {sorted(missing)}")
    rows = history[history["category"].notna() & history["date"].notna()].copy()
    rows["category"] = rows["category"].astype(str).str.strip()
    rows = rows[(rows["category"] != "") & (rows["category"] != UNCATEGORIZED)]
    inputs = categorizer_input(rows)
    has_text = (inputs["description"].str.strip() != "") | (inputs["counterparty"].str.strip() != "")
    origin = rows["origin"] if "origin" in rows.columns else pd.Series("history", index=rows.index)
    out = pd.concat([inputs, rows[["date", "category"]], origin.rename("origin")], axis=1)[has_text]
    out["date"] = pd.to_datetime(out["date"], format="mixed")
    out["human"] = out["origin"].eq("corrections")
    if out["category"].nunique() < 2:
        raise ValueError(
            f"labeled history has {out['category'].nunique()} category ({', '.join(out['category'].unique()[:1])}); "
            f"a categorizer needs at least 2"
        )
    return out.sort_values("date", kind="stable")


def cap_rows(frame: pd.DataFrame, cap: int | None, seed: int = 0) -> pd.DataFrame:
    """At most ``cap`` rows (about), sampled per category in proportion, keeping every category's rarest rows
    (``MIN_ROWS_PER_CLASS``) and every human-decided row."""
    if cap is None or len(frame) <= cap:
        return frame
    human = frame[frame["human"]]
    rest = frame[~frame["human"]]
    share = max(0.0, (cap - len(human)) / max(len(rest), 1))
    rng = np.random.default_rng(seed)
    parts = [human]
    for _, group in rest.groupby("category", sort=True):
        keep = min(len(group), max(int(np.ceil(len(group) * share)), MIN_ROWS_PER_CLASS))
        parts.append(group.iloc[np.sort(rng.choice(len(group), keep, replace=False))])
    return pd.concat(parts).sort_values("date", kind="stable")


def _fit(rows: pd.DataFrame, labels: np.ndarray, seed: int, params: dict[str, object]) -> Pipeline:
    """One fit, human decisions weighted, on one BLAS thread: on a shared 2-core machine extra BLAS threads spin
    and contend (2x the CPU for no gain in wall time)."""
    from threadpoolctl import threadpool_limits

    weights = np.where(rows["human"].to_numpy(), HUMAN_WEIGHT, 1.0)
    with threadpool_limits(limits=1, user_api="blas"):
        return build_categorizer(seed, **params).fit(
            rows[list(CATEGORIZER_INPUT_COLUMNS)], labels, classify__sample_weight=weights
        )


def train_categorizer(
    history: pd.DataFrame,
    seed: int = 0,
    *,
    target_accuracy: float | None = None,
    min_threshold: float = MIN_THRESHOLD,
    shuffle_labels: bool = False,
    params: dict[str, object] | None = None,
    max_rows: int | None = MAX_FIT_ROWS,
    refit_all: bool = True,
) -> TrainedCategorizer:
    """Fit on labeled history (columns date, description, amount, category; optionally counterparty, currency,
    source, transaction_type, reference, origin), choose the auto-apply threshold on validation days, measure on
    test days.

    Reviewers' decisions (``origin`` ``corrections``) are always fitted on, never held out, with ``HUMAN_WEIGHT``:
    they are usually about the newest days (what the test split holds) and must teach the next model. The
    shipped model's fit samples at most ``max_rows`` rows (``None``: all), the threshold's at most
    ``THRESHOLD_FIT_ROWS``. ``shuffle_labels`` permutes the training labels (a
    deliberately bad model, for testing the promotion gate); ``params`` overrides ``HYPERPARAMETERS`` and the
    candidates of :func:`adapted_hyperparameters`, of which the most accurate on the validation days is kept.

    The figures are those of the model fitted without the test days (``evaluated``); with ``refit_all`` the model
    that ships (``pipeline``) is then fitted again on every labeled row, newest days included, so what a user
    labeled yesterday is known today.
    """
    started = time.perf_counter()
    rows = prepare_history(history)
    candidates = [{**candidate, **(params or {})} for candidate in adapted_hyperparameters(len(rows))]
    candidates = [c for n, c in enumerate(candidates) if c not in candidates[:n]]  # ``params`` may fix them all
    human = rows[rows["human"]]
    train, validation, test = split_by_time(rows[~rows["human"]])

    def labels(frame: pd.DataFrame) -> np.ndarray:
        values = frame["category"].to_numpy()
        return np.random.default_rng(seed).permutation(values) if shuffle_labels else values

    first_rows = cap_rows(pd.concat([train, human]), min(max_rows or len(rows), THRESHOLD_FIT_ROWS), seed)
    tried = []  # (validation accuracy, -order: ties to the first, candidate, each row right?, its confidence)
    for candidate in candidates:  # the validation days choose the hyper-parameters and then the threshold
        first = _fit(first_rows, labels(first_rows), seed, candidate)
        probabilities = first.predict_proba(validation[list(CATEGORIZER_INPUT_COLUMNS)])
        best = np.argmax(probabilities, axis=1)
        correct = first.classes_[best] == validation["category"].to_numpy()
        tried.append((correct.mean(), -len(tried), candidate, correct, probabilities[np.arange(len(best)), best]))
    _, _, params, correct, confidence = max(tried, key=lambda t: (t[0], t[1]))
    if target_accuracy is None:
        target_accuracy = TARGET_AUTO_ACCURACY if len(validation) >= VERIFIABLE_ROWS else SMALL_HISTORY_TARGET
    threshold = choose_threshold(correct, confidence, target_accuracy, min_threshold)

    fitted = cap_rows(pd.concat([train, validation, human]), max_rows, seed)
    evaluated = _fit(fitted, labels(fitted), seed, params)
    evaluation = evaluate_categorizer(evaluated, test, threshold)
    pipeline = evaluated
    if refit_all:  # what ships has learned the newest days too (the test days were only lent to the evaluation)
        fitted = cap_rows(rows, max_rows, seed)
        pipeline = _fit(fitted, labels(fitted), seed, params)
    split = {
        "train_rows": len(train),
        "validation_rows": len(validation),
        "test_rows": len(test),
        "human_rows": len(human),
        "fit_rows": len(fitted),
        "validation_from": str(validation["date"].min().date()),
        "test_from": str(test["date"].min().date()),
        "test_to": str(test["date"].max().date()),
        "fit_to": str(fitted["date"].max().date()),
        "refit_all": refit_all,
        "target_auto_accuracy": target_accuracy,
        "min_df": params["min_df"],
        "min_df_tried": ",".join(f"{c['min_df']}:{accuracy:.4f}" for accuracy, _, c, _, _ in tried),
        "classes": len(pipeline.classes_),
    }
    return TrainedCategorizer(
        pipeline=pipeline,
        evaluated=evaluated,
        threshold=threshold,
        evaluation=evaluation,
        test=test,
        split=split,
        train_seconds=time.perf_counter() - started,
    )
