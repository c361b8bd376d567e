"""End-to-end benchmark: one simulated business day through every stage, on a fresh data folder.

Prints wall time, transactions per second and the time of each stage (from Dagster's step events), plus a
floor measured in the same run: COPY of the same rows into Postgres and one SQL pass over them.

    .venv/bin/python bench/bench_demo_day.py [--per-day 10000] [--days 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--per-day", type=int, default=10_000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="finflow-bench-"))
    os.environ["FINFLOW_HOME"] = str(home)
    os.environ.pop("FINFLOW_DATABASE_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from finflow_assets.cli import materialize_everything
    from finflow_assets.settings import paths
    from finflow_assets.sources.registry import SOURCES
    from finflow_assets.warehouse import connect, embedded
    from finflow_simulator import generate
    from finflow_simulator.api_server import serve

    folders = paths().ensure()
    embedded.start()
    t0 = time.perf_counter()
    sim = generate(
        folders.landing,
        folders.simulator / "truth",
        days=args.days,
        per_day=args.per_day,
        history_dir=folders.history,
        api_dir=folders.simulator / "api",
    )
    t_sim = time.perf_counter() - t0

    with serve(folders.simulator / "api") as server:
        os.environ.update(server.env())
        t1 = time.perf_counter()
        result = materialize_everything()
        wall = time.perf_counter() - t1
    assert result.success, "pipeline failed"

    stages: dict[str, float] = defaultdict(float)
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS" and event.step_key:
            stages[event.step_key] += event.event_specific_data.duration_ms / 1000

    with connect() as conn:
        rows = conn.execute("select count(*) from marts.fct_transactions").fetchone()[0]
        raw_counts = {
            spec.name: conn.execute(f"select count(*) from raw.{spec.raw_table}").fetchone()[0]  # noqa: S608
            for spec in SOURCES
        }
        records = [
            r[0]
            for spec in SOURCES
            for r in conn.execute(f"select record::text from raw.{spec.raw_table}").fetchall()  # noqa: S608
        ]
        # the floor: bulk-load the same parsed rows into Postgres and make one SQL pass over them
        floor_start = time.perf_counter()
        conn.execute("create temp table floor_copy (record jsonb)")
        with conn.cursor().copy("copy floor_copy (record) from stdin") as copy:
            for record in records:
                copy.write_row((record,))
        conn.execute(
            "select record->>'currency', count(*), sum((record->>'amount')::numeric) from floor_copy group by 1"
        ).fetchall()
        floor = time.perf_counter() - floor_start

    print(f"transactions: {sim.transactions:,} ({args.days} day(s) x {args.per_day:,}); fct rows: {rows:,}")
    print("raw rows per source: " + ", ".join(f"{k} {v:,}" for k, v in raw_counts.items()))
    print(f"simulate: {t_sim:.2f} s (not counted)")
    print(f"pipeline wall: {wall:.2f} s  ->  {sim.transactions / wall:,.0f} transactions/s  (target <= 60 s/day)")
    for step, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  stage {step:<40} {seconds:7.2f} s")
    print(
        f"floor (COPY of {len(records):,} raw rows + one SQL pass): {floor:.2f} s"
        f"  ->  pipeline / floor = {wall / floor:,.1f}x"
    )
    embedded.stop()


if __name__ == "__main__":
    main()
