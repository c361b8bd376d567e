"""End-to-end benchmark: the demo's first day (``finflow demo``'s run config) through every stage, on a fresh data
folder: the dbt project parsed for it, the categorizer trained, every source landed, built, scored and reported.

Prints wall time, transactions per second, the time of each stage and step (from Dagster's step events) and peak
memory, plus a floor measured in the same run: COPY of the same raw rows into Postgres and one SQL pass over them.

    .venv/bin/python bench/bench_demo_day.py [--per-day 10000] [--days 1]
"""

from __future__ import annotations

import argparse

from bench_scale import floor_seconds
from harness import Bench

from finflow_assets.cli import DEMO_OPS_CONFIG


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--per-day", type=int, default=10_000)
    args = parser.parse_args()

    bench = Bench("finflow-bench-day-")
    sim = bench.simulate(days=args.days, per_day=args.per_day)
    figures, result = bench.run(sim.api_dir, ops_config=DEMO_OPS_CONFIG)
    assert result.success, "pipeline failed"
    rows = bench.count("select count(*) from marts.fct_transactions")
    raw = bench.count("select sum(rows_landed) from raw._loads")
    print(
        f"transactions: {sim.transactions:,} ({args.days} day(s) x {args.per_day:,});"
        f" raw rows {raw:,}; fct rows {rows:,}"
    )
    figures.print(sim.transactions, "demo's first day (target <= 30 s)")
    floor = floor_seconds()
    print(
        f"floor (COPY of {raw:,} raw rows + one SQL pass): {floor:.2f} s"
        f" -> pipeline / floor = {figures.wall / floor:,.1f}x"
    )
    bench.close()


if __name__ == "__main__":
    main()
