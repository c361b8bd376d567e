"""The categorizer on public labeled bank transactions nobody here wrote, against two strong baselines.

For each set in ``bench/data/README.md``: a time-based split where the set has dates (the newest ``--test-share``
of days held out, whole days), else a fixed stratified split; FinFlow's categorizer trained exactly as
``finflow train`` trains it (``train_categorizer``: its own inner time split for the auto-apply threshold, then the
refit on every training row), and, on the same split, TF-IDF word n-grams + logistic regression and TF-IDF char
n-grams + LinearSVC on the raw description. Prints top-1 accuracy, macro-F1, coverage (share auto-applied) and
accuracy on the auto-applied rows; the baselines' coverage is at confidence >= 0.8 (logistic regression) and
none for the SVC (no probabilities). Then the training time on ``--rows`` rows.

The sets are read from local mirrors of their public repositories (nothing here redistributes them: see the
README for sources and licences): ``FINFLOW_BENCH_MIRROR`` (default ``/work/.mirror``) holds ``owner+name/repo``
git directories, or ``bench/data/<name>/<file>`` a plain copy.

    .venv/bin/python bench/bench_categorizer_real.py [--sets nz_bank_lines,fr_bank_lines] [--rows 5000]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class PublicSet:
    name: str
    repo: str  # owner/name on GitHub
    commit: str
    path: str
    load: Callable[[bytes], pd.DataFrame]  # file bytes -> date, description, amount, currency, category


def _nz(raw: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw))
    return pd.DataFrame(
        {
            "date": frame["Date"],
            "description": frame["Description"].astype(str),
            "amount": frame["Amount"].astype(float),
            "currency": "NZD",
            "category": frame["Category"].astype(str),
        }
    )


def _fr(raw: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw), sep=";", encoding="latin-1", dtype=str)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(frame["Date"], format="%d/%m/%Y"),
            "description": frame["Detail_de_ecriture"].str.strip(),
            "amount": frame["Montant_de_operation"].str.replace(",", ".", regex=False).astype(float),
            "currency": frame["Devise"],
            "category": frame["Class"].str.strip(),
        }
    )


def _uk(raw: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw), skipinitialspace=True, dtype=str).dropna(subset=["Category"])
    return pd.DataFrame(
        {
            "date": pd.to_datetime(frame["Date"], format="%d/%m/%Y", errors="coerce"),
            "description": frame["Description"].str.strip() + " " + frame["Location"].fillna("").str.strip(),
            "amount": -frame["Amount"].astype(float),
            "currency": "USD",
            "category": frame["Category"].str.strip(),
        }
    ).dropna(subset=["date"])


SETS = (
    PublicSet(
        "nz_bank_lines",
        "natchezl/Bank-Transaction-Categorisation",
        "ce870f790396b1e189f5bc8277f22802933ca8c9",
        "output/final_model/output.csv",
        _nz,
    ),
    PublicSet(
        "fr_bank_lines",
        "cheumeni-commit/Bank-Transaction-Classification",
        "2e369efba2db4d1d837de389f83e5bbba40e095a",
        "data/inputs/BT.csv",
        _fr,
    ),
    PublicSet(
        "us_toy_ledger",
        "alokkulkarni/transactions",
        "68d1924bb4c30c494819293907453e6a876d7e4c",
        "transactions.csv",
        _uk,
    ),
)


class SetMissing(LookupError):
    """A set that is not redistributed here and has no local copy: the bench names it and goes on."""


def read_set(public: PublicSet) -> pd.DataFrame:
    """The set's rows from a plain copy under ``bench/data/<name>/`` or the repository's local mirror."""
    copy = DATA / public.name / Path(public.path).name
    if copy.is_file():
        return public.load(copy.read_bytes())
    mirror = Path(os.environ.get("FINFLOW_BENCH_MIRROR", "/work/.mirror")) / public.repo.replace("/", "+") / "repo"
    if not mirror.is_dir():
        raise SetMissing(
            f"{public.name}: no copy at {copy} and no mirror at {mirror}; clone https://github.com/{public.repo} "
            f"(commit {public.commit}) and copy {public.path} to {copy}"
        )
    raw = subprocess.run(
        ["git", "--git-dir", str(mirror), "show", f"{public.commit}:{public.path}"], capture_output=True, check=True
    ).stdout
    return public.load(raw)


def split(frame: pd.DataFrame, test_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Newest whole days held out when the set has dates over enough days, else a stratified split."""
    dates = pd.to_datetime(frame["date"], errors="coerce")
    if dates.notna().all() and dates.dt.normalize().nunique() >= 10:
        days = np.sort(dates.dt.normalize().unique())
        cut = days[int(len(days) * (1 - test_share))]
        return frame[dates < cut], frame[dates >= cut], f"time (test from {pd.Timestamp(cut).date()})"
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=test_share, random_state=seed, stratify=frame["category"])
    return train, test, "stratified"


def baselines(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict[str, float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from ml.evaluation import classification_metrics, routing_metrics

    text_train, text_test = train["description"].str.lower(), test["description"].str.lower()
    truth = test["category"].to_numpy()
    out = {}
    logistic = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10.0, max_iter=2000)
    )
    logistic.fit(text_train, train["category"])
    probabilities = logistic.predict_proba(text_test)
    predicted = logistic.classes_[probabilities.argmax(axis=1)]
    routing = routing_metrics(predicted == truth, probabilities.max(axis=1), 0.8)
    out["tfidf+logreg"] = {**classification_metrics(truth, predicted), **routing}
    svc = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True), LinearSVC(C=1.0))
    svc.fit(text_train, train["category"])
    out["tfidf-char+linearsvc"] = classification_metrics(truth, svc.predict(text_test))
    return out


def finflow(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> tuple[dict[str, float], float]:
    from ml.categorizer import evaluate_categorizer, train_categorizer

    started = time.perf_counter()
    trained = train_categorizer(train, seed)
    seconds = time.perf_counter() - started
    metrics = evaluate_categorizer(trained.pipeline, test, trained.threshold).metrics
    return {**metrics, "min_df_tried": trained.split["min_df_tried"]}, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(s.name for s in SETS))
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--rows", type=int, default=5000, help="rows for the training-time figure")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    wanted = args.sets.split(",")
    print(f"{'set':<15} {'split':<28} {'model':<22} {'top-1':>6} {'macroF1':>7} {'cover':>6} {'auto-acc':>8}")
    largest = None
    for public in SETS:
        if public.name not in wanted:
            continue
        try:
            frame = read_set(public)
        except SetMissing as missing:
            print(f"skipped {missing}")
            continue
        train, test, how = split(frame, args.test_share, args.seed)
        label = f"{how} {len(train)}/{len(test)} rows"
        ours, seconds = finflow(train, test, args.seed)
        rows = {"finflow": ours, **baselines(train, test)}
        for model, m in rows.items():
            cover = f"{m['coverage']:.1%}" if "coverage" in m else "-"
            auto = f"{m['auto_accuracy']:.1%}" if "coverage" in m else "-"
            print(
                f"{public.name:<15} {label:<28} {model:<22} {m['accuracy']:>6.3f} {m['macro_f1']:>7.3f} "
                f"{cover:>6} {auto:>8}"
            )
            label = ""
        print(
            f"{'':<15} {frame['category'].nunique()} categories; finflow trained in {seconds:.1f} s "
            f"(validation accuracy by min_df {ours['min_df_tried']})"
        )
        if largest is None or len(frame) > len(largest):
            largest = frame

    if largest is not None and args.rows:
        sample = largest.sample(args.rows, replace=len(largest) < args.rows, random_state=args.seed)
        started, cpu = time.perf_counter(), time.process_time()
        from ml.categorizer import train_categorizer

        train_categorizer(sample, args.seed)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        # CPU seconds beside the wall time: on a shared machine the wall time is mostly waiting for a core
        print(f"training on {args.rows:,} labeled rows (drawn from the largest set): {seconds:.1f} s ({cpu:.1f} s CPU)")


if __name__ == "__main__":
    main()
