"""Model benchmark: the categorizer and the anomaly model on simulated days, against the simulator's ground truth.

Simulates ``--days`` business days (and the labeled history a demo gets), parses every delivered file with the
project's own parsers (``ml.simulated``), then splits by time: the first half of the days is what the models learn
from, the second half is held out.

- categorizer: trained as the training asset trains it (history file + the payments ledger lines label, of the
  first half), then run as the pipeline runs it (analyst rules first, the model with confidence routing for the
  rest) on every source's transactions of the held-out days: overall accuracy, accuracy on auto-applied rows,
  coverage, macro-F1 (the model alone too), training time and scoring throughput.
- anomaly model: fitted on the first half, then each held-out day scored against everything before it (as the
  scoring asset does): precision, recall and queue share at the default threshold against the injected anomalies,
  per kind, and recall on the "observable" ones, which leaves out every ``amount_spike`` whose amount stays within
  the range normal transactions of its source and category reach. The simulator's spikes are 8-20x an ordinary
  amount of the counterparty and land above that counterparty's own range (``finflow_simulator.engine.spike_cents``:
  a x10 of a 10.00 card sale would be an ordinary 100.00 sale, which no data could tell apart); the ones left out
  belong to a payee whose range is narrow within its category (a 200.00 taxi ride among 1,000.00 flights) and show
  only against that payee's own history, so the figure is a conservative one.

    .venv/bin/python bench/bench_models.py [--days 20] [--per-day 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--per-day", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-days", type=int, default=40)
    parser.add_argument("--folder", help="reuse (or keep) the simulated files here")
    parser.add_argument(
        "--max-fit-rows", type=int, help="rows each categorizer fit samples at most (default: the categorizer's own)"
    )
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from finflow_simulator import generate
    from ml.anomaly import AnomalyDetector, anomaly_input, configured_threshold, score_in_days
    from ml.categorizer import categorize_frame, evaluate_categorizer, train_categorizer
    from ml.evaluation import classification_metrics, detection_metrics
    from ml.rules import load_rules
    from ml.simulated import load_history_files, load_simulated

    root = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="finflow-bench-models-"))
    t0 = time.perf_counter()
    if not (root / "truth" / "transactions.csv").exists():
        generate(
            root / "landing",
            root / "truth",
            days=args.days,
            per_day=args.per_day,
            seed=args.seed,
            history_dir=root / "history",
            history_days=args.history_days,
            api_dir=root / "api",
        )
    frame = load_simulated(root / "landing", root / "truth", root / "api")
    history_file = load_history_files(root / "history")
    print(f"simulated and parsed {len(frame):,} rows in {time.perf_counter() - t0:.1f} s ({root})")

    primary = frame[frame["role"] == "primary"]
    days = np.sort(primary["booked_date"].dt.normalize().unique())
    cutoff = days[len(days) // 2]
    early, later = primary[primary["booked_date"] < cutoff], primary[primary["booked_date"] >= cutoff]

    # ------------------------------------------------------------------------------------------- categorizer
    mirrored = set(frame.loc[frame["source"] == "erp_gl", "txn_id"])
    ledger = early[early["txn_id"].isin(mirrored) & (early["source"] != "erp_gl")]
    labeled = pd.concat(
        [history_file.assign(origin="history_files"), ledger.assign(date=ledger["booked_date"], origin="ledger")],
        ignore_index=True,
    )
    started = time.perf_counter()
    trained = train_categorizer(labeled, **({"max_rows": args.max_fit_rows} if args.max_fit_rows else {}))
    train_seconds = time.perf_counter() - started
    held_out = later[later["source"] != "erp_gl"]  # ledger lines carry their own category (method human)
    started = time.perf_counter()
    result = categorize_frame(held_out, trained.pipeline, trained.threshold, "bench", load_rules())
    score_seconds = time.perf_counter() - started
    truth = held_out["category"].to_numpy()
    applied = ~result["needs_review"].to_numpy()
    predicted = np.where(applied, result["category"], result["suggested_category"])
    overall = classification_metrics(truth, predicted)
    model_only = evaluate_categorizer(trained.pipeline, held_out, trained.threshold).metrics
    print(
        f"\ncategorizer: trained on {trained.split['fit_rows']:,} of {len(labeled):,} labeled rows in "
        f"{train_seconds:.1f} s (threshold {trained.threshold:.3f} chosen on validation days)\n"
        f"  held-out days {str(cutoff)[:10]}.., {len(held_out):,} transactions of {held_out['source'].nunique()} "
        f"sources, rules + model:\n"
        f"    accuracy {overall['accuracy']:.2%}   macro-F1 {overall['macro_f1']:.4f}\n"
        f"    auto-applied {applied.mean():.2%} (coverage) with accuracy {(predicted == truth)[applied].mean():.3%}\n"
        f"    by rule {(result['method'] == 'rule').mean():.1%}; review queue {(~applied).mean():.2%}\n"
        f"  model alone on the same rows: accuracy {model_only['accuracy']:.2%}, macro-F1 "
        f"{model_only['macro_f1']:.4f}, coverage {model_only['coverage']:.2%}, auto-applied accuracy "
        f"{model_only['auto_accuracy']:.3%}, ECE {model_only['ece']:.4f}\n"
        f"  scoring: {len(held_out) / score_seconds:,.0f} transactions/s (rules + model)"
    )

    # ------------------------------------------------------------------------------------------- anomalies
    threshold = configured_threshold()
    data = anomaly_input(primary)
    history, batch = data.loc[early.index], data.loc[later.index]
    started = time.perf_counter()
    model = AnomalyDetector(threshold=threshold).fit(history)
    fit_seconds = time.perf_counter() - started
    past = history.assign(is_flagged=model.score(history)["is_anomaly"].to_numpy())
    started = time.perf_counter()
    scored = score_in_days(model, batch, past, threshold)
    anomaly_seconds = time.perf_counter() - started
    rows = later.assign(flagged=scored["is_anomaly"].to_numpy(), score=scored["anomaly_score"].to_numpy())
    is_anomaly = rows["is_anomaly"].astype(bool).to_numpy()
    metrics = detection_metrics(is_anomaly, rows["flagged"].to_numpy())
    normal = primary[primary["is_anomaly"] == 0]
    ceiling = normal.assign(size=normal["amount_base"].abs()).groupby(["source", "category"])["size"].max()
    reach = [ceiling.get(key, 0.0) for key in zip(rows["source"], rows["category"], strict=True)]
    in_range = ((rows["anomaly_kind"] == "amount_spike") & (rows["amount_base"].abs() <= reach)).to_numpy()
    observable = detection_metrics(is_anomaly & ~in_range, rows["flagged"].to_numpy() & ~in_range)
    per_day = rows.groupby(rows["booked_date"].dt.normalize())["flagged"].agg(["mean", "size"])
    daily = per_day.loc[per_day["size"] >= per_day["size"].median() / 4, "mean"]  # business days, not a stray Saturday
    print(
        f"\nanomaly model (threshold {threshold}): fitted on {len(history):,} transactions in {fit_seconds:.1f} s; "
        f"held out {len(rows):,} transactions with {metrics['anomalies']} injected anomalies\n"
        f"  precision {metrics['precision']:.3f}   recall {metrics['recall']:.3f}   "
        f"queue share {metrics['queue_share']:.3%} (worst business day {daily.max():.3%})\n"
        f"  recall on observable anomalies {observable['recall']:.3f} (precision {observable['precision']:.3f}; "
        f"{int((in_range & is_anomaly).sum())} amount spikes inside the category's normal range left out)\n"
        f"  scoring: {len(rows) / anomaly_seconds:,.0f} transactions/s (day by day, each against all before it)"
    )
    kinds = rows[is_anomaly].assign(in_range=in_range[is_anomaly])
    print("  recall per kind:")
    for kind, group in kinds.groupby("anomaly_kind"):
        inside = int(group["in_range"].sum())
        caught = int(group.loc[group["in_range"], "flagged"].sum())
        note = f" ({inside} inside the category's normal range, {caught} of them flagged)" if inside else ""
        print(f"    {kind:<20}{group['flagged'].mean():>7.2f} of {len(group):>3}{note}")


if __name__ == "__main__":
    main()
