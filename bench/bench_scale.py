"""Scale: the whole pipeline at a small and a large volume, on fresh data folders, compared per transaction.

Targets: time per transaction at the large volume <= 1.5x that at the small one; peak memory <= 2 GiB (this
process, its children and PostgreSQL, sampled every 0.25 s). Each volume also prints its floor: COPY of the same
raw rows into Postgres and one SQL pass over them.

    .venv/bin/python bench/bench_scale.py [--small 10000] [--large 1000000] [--days 10]
"""

from __future__ import annotations

import argparse
import time

from harness import Bench


def floor_seconds() -> float:
    """COPY every landed raw record into a scratch table and aggregate it once: the least any pipeline could do."""
    from finflow_assets.sources.registry import SOURCES
    from finflow_assets.warehouse import connect

    with connect() as conn:
        started = time.perf_counter()
        conn.execute("create temp table floor_copy (record jsonb)")
        for spec in SOURCES:
            with conn.cursor().copy(f"copy raw.{spec.raw_table} (record) to stdout") as out:  # noqa: S608 - registry names
                rows = b"".join(out)
            with conn.cursor().copy("copy floor_copy (record) from stdin") as copy:
                copy.write(rows)
        conn.execute(
            "select record->>'currency', count(*), sum((record->>'amount')::numeric) from floor_copy group by 1"
        )
        return time.perf_counter() - started


def run(transactions: int, days: int) -> tuple[float, int, float]:
    bench = Bench(f"finflow-bench-scale-{transactions}-")
    per_day = max(1, transactions // days)
    started = time.perf_counter()
    sim = bench.simulate(days=days, per_day=per_day)
    print(
        f"\n== {sim.transactions:,} transactions ({days} days x {per_day:,}); simulated in "
        f"{time.perf_counter() - started:.1f} s (not counted)"
    )
    figures, result = bench.run(sim.api_dir)
    assert result.success, "the pipeline failed"
    figures.print(sim.transactions)
    floor = floor_seconds()
    raw = bench.count("select sum(rows_landed) from raw._loads")
    print(
        f"  floor (COPY of {raw:,} raw rows + one SQL pass): {floor:.2f} s -> pipeline / floor = "
        f"{figures.wall / floor:,.1f}x"
    )
    bench.close()
    return figures.wall / sim.transactions, figures.peak, figures.wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10, help="business days the large volume is spread over")
    args = parser.parse_args()
    small, small_peak, _ = run(args.small, 1)
    large, large_peak, wall = run(args.large, args.days)
    print(
        f"\nper transaction: {small * 1e3:.3f} ms at {args.small:,}, {large * 1e3:.3f} ms at {args.large:,} -> "
        f"ratio {large / small:.2f}x (target <= 1.5x); peak memory {large_peak / 2**30:.2f} GiB at "
        f"{args.large:,} (target <= 2 GiB), {small_peak / 2**30:.2f} GiB at {args.small:,}; "
        f"{args.large / wall:,.0f} transactions/s"
    )


if __name__ == "__main__":
    main()
