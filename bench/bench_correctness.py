"""End-to-end correctness under faults: 30 simulated business days with broken, re-delivered and overlapping files,
API errors, timeouts and truncated pages, and a pipeline run killed (SIGKILL) part-way and run again; then the final
``fct_transactions`` against the simulator's ground truth.

Counts, per true transaction: missing, doubled, wrong amount, date or sign (against what its source row says), and
wrong category (an applied category, by rule, model or reviewer, that differs from the truth; rows still waiting
for review are counted apart). Money: the kept amounts against the truth's, per currency. Targets: <= 0.03% wrong
records, zero lost or doubled money.

    .venv/bin/python bench/bench_correctness.py [--days 30] [--per-day 2000] [--kill-after 25]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench_dedupe_reconciliation import evaluate, report
from harness import Bench

RUN_EVERYTHING = "from finflow_assets.cli import materialize_everything; materialize_everything()"


def killed_run(env: dict[str, str], seconds: float) -> None:
    """The pipeline in a process of its own, killed without warning part-way (as a crash or an OOM kill would)."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_EVERYTHING],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=seconds)
        print(f"(the first run finished within {seconds:.0f} s, before the kill)")
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        print(f"first run killed with SIGKILL after {seconds:.0f} s")


def record_errors(conn) -> dict[str, int]:  # noqa: ANN001 - a psycopg connection
    """Kept rows (fct_transactions) vs the truth: amount, date, sign per source row; category per transaction."""
    row = conn.execute(
        """
        with kept as (
            select f.transaction_id, f.amount, f.booked_date, f.category, f.category_method, b.txn_id,
                t.amount as true_amount, t.booked_date as true_date
            from marts.fct_transactions as f
            join bench_rows as b on b.transaction_id = f.transaction_id and b.delivery_rank = 1
            left join truth_source_rows as t
                on t.source = b.source and t.file = b.truth_file and t.row = b.truth_row
        )
        select
            count(*) filter (where k.true_amount is not null and k.amount <> k.true_amount
                and sign(k.amount) = sign(k.true_amount)) as wrong_amount,
            count(*) filter (where k.true_amount is not null and sign(k.amount) <> sign(k.true_amount)) as wrong_sign,
            count(*) filter (where k.true_date is not null and k.booked_date <> k.true_date) as wrong_date,
            count(*) filter (
                where k.category_method in ('rule', 'ml', 'human') and k.category <> 'uncategorized'
                and k.category <> tt.category
            )
                as wrong_category,
            count(*) filter (where k.category_method is null or k.category = 'uncategorized') as awaiting_review,
            count(*) filter (where k.true_amount is null) as without_truth_row
        from kept as k
        left join truth_transactions as tt on tt.txn_id = k.txn_id
        """
    ).fetchone()
    return dict(
        zip(
            ("wrong_amount", "wrong_sign", "wrong_date", "wrong_category", "awaiting_review", "without_truth_row"),
            row,
            strict=True,
        )
    )


def money(conn) -> list[tuple[str, object, object]]:  # noqa: ANN001
    """Per currency: the kept rows' total vs the truth's primary rows' total (quarantined ones excluded on both)."""
    return conn.execute(
        """
        with truth as (
            select t.currency, sum(t.amount) as total from truth_source_rows as t
            where t.role = 'primary' and not exists (
                select 1 from bench_rows as b
                join validation.int_transactions__validated as v using (transaction_id)
                where b.source = t.source and b.truth_file = t.file and b.truth_row = t.row
                    and v.validation_status = 'quarantined'
            )
            group by 1
        ),
        kept as (select currency, sum(amount) as total from marts.fct_transactions group by 1)
        select coalesce(truth.currency, kept.currency), truth.total, kept.total
        from truth full join kept using (currency) order by 1
        """
    ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--kill-after", type=float, default=25.0, help="seconds into the first run")
    args = parser.parse_args()

    from finflow_assets.warehouse import connect
    from finflow_simulator.api_server import FaultConfig, serve

    bench = Bench("finflow-bench-correctness-")
    sim = bench.simulate(days=args.days, per_day=args.per_day, faults=True)
    print(f"simulated {sim.transactions:,} transactions over {args.days} days, faults on; data folder {bench.home}")
    faults = FaultConfig(seed=3, rate_limit=0.03, server_error=0.03, truncate=0.02, retry_after=0.05)
    with serve(sim.api_dir, faults) as server:
        killed_run({**os.environ, **server.env()}, args.kill_after)
    started = time.perf_counter()
    figures, result = bench.run(sim.api_dir, faults=faults)
    print(
        f"rerun after the kill: {'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f} s"
    )
    figures.print(sim.transactions, "rerun")

    with connect(autocommit=True) as conn:
        found = evaluate(conn, Path(sim.truth_file).parent, bench.paths.landing)
        errors = record_errors(conn)
        totals = money(conn)
    print(report(found))
    wrong = (
        found.missing_transactions
        + found.doubled_transactions
        + errors["wrong_amount"]
        + errors["wrong_sign"]
        + errors["wrong_date"]
        + errors["wrong_category"]
    )
    share = wrong / found.true_transactions
    print(
        f"records: {found.true_transactions:,} true transactions; missing {found.missing_transactions}, "
        f"doubled {found.doubled_transactions}, held by blocking rules {found.quarantined_transactions}, "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in errors.items())
    )
    print(f"wrong records: {wrong:,} = {share:.4%} (target <= 0.03%)")
    for currency, truth, kept in totals:
        print(f"money {currency}: truth {truth:,.2f}, kept {kept:,.2f}, difference {(kept or 0) - (truth or 0):,.2f}")
    bench.close()


if __name__ == "__main__":
    main()
