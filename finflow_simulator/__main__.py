"""Generate a simulated dataset from the command line and report the generation throughput.

    .venv/bin/python -m finflow_simulator OUT_DIR [--days 100] [--per-day 10000] [--seed 7] [--faults] [--history]

writes ``OUT_DIR/landing``, ``OUT_DIR/api`` and ``OUT_DIR/truth`` (and ``OUT_DIR/history`` with ``--history``).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date
from pathlib import Path

from .generate import DEFAULT_START, generate, write_history


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m finflow_simulator", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--faults", action="store_true", help="also deliver a few broken files")
    parser.add_argument("--history", action="store_true", help="also write 40 days of labeled history (not timed)")
    args = parser.parse_args(argv)
    started, cpu = time.perf_counter(), time.process_time()
    result = generate(
        args.out / "landing",
        args.out / "truth",
        days=args.days,
        per_day=args.per_day,
        seed=args.seed,
        start=args.start,
        faults=args.faults,
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if args.history:
        write_history(
            args.out / "history", args.start, 40, min(args.per_day, 1000), args.seed + 1, world_per_day=args.per_day,
            world_seed=args.seed,
        )  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{result.transactions:,} true transactions over {len(result.days)} business days in {wall:.1f} s "
        f"({result.transactions / wall:,.0f}/s wall, {result.transactions / cpu:,.0f}/s cpu), peak RSS {peak:.0f} MiB"
    )
    for source, rows in sorted(result.rows.items()):
        print(f"  {source:15} {rows:>10,} rows")


if __name__ == "__main__":
    main()
