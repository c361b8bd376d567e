"""Anomaly scoring of one 15-minute tick against a growing history: the cost a tick pays once weeks of data are in.

The detector reads the transactions of the look-back window (60 days) as its baselines on every tick, so
``bench_tick.py`` (one day of history) cannot show how a tick's scoring grows as the window fills. This scores a
tick's worth of new transactions (the newest day's first ``--per-tick``) against 10, 30 and 60 business days of
simulated history at ``--per-day`` transactions a day, and prints seconds, history rows/s and peak Python memory.

    .venv/bin/python bench/bench_scoring_history.py [--per-day 10000] [--per-tick 400] [--days 10 30 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--per-tick", type=int, default=400)
    parser.add_argument("--days", type=int, nargs="+", default=[10, 30, 60])
    parser.add_argument("--folder", help="reuse (or keep) the simulated files here")
    args = parser.parse_args()

    import numpy as np

    from finflow_simulator import generate
    from ml.anomaly import AnomalyDetector, anomaly_input
    from ml.simulated import load_simulated

    root = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="finflow-bench-scoring-"))
    started = time.perf_counter()
    if not (root / "truth" / "transactions.csv").exists():
        generate(
            root / "landing", root / "truth", days=max(args.days) + 1, per_day=args.per_day, seed=11,
            history_dir=root / "history", history_days=5, api_dir=root / "api",
        )  # fmt: skip
    frame = load_simulated(root / "landing", root / "truth", root / "api")
    data = anomaly_input(frame[frame["role"] == "primary"])
    days = np.sort(data["booked_date"].dt.normalize().unique())
    seconds = time.perf_counter() - started
    print(f"simulated and parsed {len(data):,} transactions over {len(days)} days in {seconds:.0f} s")
    tick = data[data["booked_date"] >= days[-1]].head(args.per_tick)
    model = AnomalyDetector().fit(data[data["booked_date"] < days[-1]].tail(50_000))
    for n in sorted(args.days):
        window = (data["booked_date"] < days[-1]) & (data["booked_date"] >= days[-1 - n])
        history = data[window].assign(is_flagged=False)
        started = time.perf_counter()
        model.score(tick, history)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second pass: tracing slows allocations several-fold, so it is not the timed one
        model.score(tick, history)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"  {len(tick)} new against {n:>3} days ({len(history):>9,} rows): {seconds:6.2f} s "
            f"({len(history) / seconds:,.0f} history rows/s), peak {peak / 2**20:,.0f} MiB (Python allocations)"
        )


if __name__ == "__main__":
    main()
