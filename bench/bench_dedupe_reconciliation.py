"""Deduplication and reconciliation against the simulator's ground truth.

Simulates business days with broken and re-delivered files, runs the whole pipeline (the API sources served over
local HTTP, as ``finflow demo`` does), then compares the warehouse with the truth the simulator wrote apart:

* raw rows lost: every rendered source row that is not malformed must be in raw (a byte-identical copy of a file
  already landed is skipped at landing and counted apart), and every raw row accounted for as kept, duplicate
  (exact re-delivery or duplicate_of) or quarantined;
* duplicates: rows marked as duplicates (exact re-delivery or duplicate_of) vs the truth's roles echo + redelivery,
  as precision and recall, plus duplicate_of pointing at a row of another true transaction;
* fct_transactions (the kept rows) vs the true transactions: missing, doubled, kept rows that are not primary;
* reconciliation: share of the matchable truth matches found as ``matched`` links, and false matches (links the
  truth does not have, or links of items whose counterpart had not arrived yet).

API rows join the truth by object id (= source_transaction_id), file rows by (source_file, source_row).

    .venv/bin/python bench/bench_dedupe_reconciliation.py [--days 5] [--per-day 2000] [--redelivery-rate 0.1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

API_SOURCES = ("stripe", "paypal", "billing", "expenses")

TARGETS = {
    "lost_rows": 0,
    "unaccounted_rows": 0,
    "duplicate_precision": 0.999,
    "duplicate_recall": 0.999,
    "missing_transactions": 0,
    "doubled_transactions": 0,
    "matched_share": 0.995,
    "false_matches": 0,
}

_TRUTH_TABLES = {
    "truth_source_rows": (
        "source_rows.csv",
        "source text, file text, row integer, object_id text, txn_id text, role text, booked_date date,"
        " amount numeric, currency text",
    ),
    "truth_matches": (
        "matches.csv",
        "match_id text, match_type text, left_source text, left_file text, left_row text, left_id text,"
        " right_source text, right_file text, right_row text, right_id text, amount numeric, currency text,"
        " matchable integer, txn_id text",
    ),
    "truth_transactions": (
        "transactions.csv",
        "txn_id text, booked_date date, amount numeric, currency text, counterparty text, description text,"
        " category text, is_anomaly integer, anomaly_kind text, source text, source_file text, source_row text,"
        " source_id text, group_id text",
    ),
}


@dataclass
class Figures:
    """What the comparison with the truth found (counts of rows, transactions and matches)."""

    raw_rows: int = 0
    raw_rows_without_truth: int = 0
    truth_rows: int = 0
    lost_rows: int = 0
    skipped_identical_rows: int = 0
    unaccounted_rows: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)
    duplicates_true_positive: int = 0
    duplicates_false_positive: int = 0
    duplicates_false_negative: int = 0
    duplicate_precision: float = 1.0
    duplicate_recall: float = 1.0
    duplicate_wrong_target: int = 0
    duplicate_errors: list[dict] = field(default_factory=list)
    true_transactions: int = 0
    kept_rows: int = 0
    missing_transactions: int = 0
    quarantined_transactions: int = 0
    doubled_transactions: int = 0
    kept_not_primary: int = 0
    matchable: int = 0
    matched: int = 0
    partially_matched: int = 0
    matched_share: float = 1.0
    false_matches: int = 0
    matches_by_type: dict[str, tuple[int, int]] = field(default_factory=dict)
    false_match_examples: list[dict] = field(default_factory=list)

    def failures(self) -> list[str]:
        """The targets this run misses (empty when all are met)."""
        out = []
        for name, target in TARGETS.items():
            value = getattr(self, name)
            ok = value >= target if isinstance(target, float) else value <= target
            if not ok:
                out.append(f"{name} = {value} (target {'>=' if isinstance(target, float) else '<='} {target})")
        return out


def load_truth(conn, truth_dir: Path) -> None:  # noqa: ANN001 - a psycopg connection
    """The truth CSVs as temporary tables of this session (COPY)."""
    for table, (name, columns) in _TRUTH_TABLES.items():
        conn.execute(f"drop table if exists {table}")
        conn.execute(f"create temp table {table} ({columns})")
        with (
            (truth_dir / name).open("rb") as handle,
            conn.cursor().copy(f"copy {table} from stdin with (format csv, header true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.execute(f"analyze {table}")


def _identical_to_landed(conn, landing: Path | None, rows: list[tuple[str, str, int]]) -> set[tuple[str, str]]:  # noqa: ANN001
    """(source, file) of truth files that were not landed because their bytes had landed under another name."""
    if landing is None:
        return set()
    landed = {
        (source, digest)
        for source, digest in conn.execute("select source, content_hash from raw._loads where status = 'landed'")
    }
    found = set()
    for source, file, _ in rows:
        for folder in (landing / source / "archive", landing / source):
            path = folder / file
            if path.is_file():
                if (source, hashlib.sha256(path.read_bytes()).hexdigest()) in landed:
                    found.add((source, file))
                break
    return found


def evaluate(conn, truth_dir: Path, landing: Path | None = None) -> Figures:  # noqa: ANN001, PLR0915
    """Compare the built warehouse (reconciliation, validation, marts schemas) with the simulator's truth."""
    load_truth(conn, truth_dir)
    f = Figures()
    # every raw row (all deliveries) with the truth row it renders
    conn.execute("drop table if exists bench_rows")
    conn.execute(
        """
        create temp table bench_rows as
        select d.raw_row_id, d.source, d.transaction_id, d.delivery_rank, d.source_file, d.source_row,
            d.source_transaction_id, t.role, t.txn_id, t.file as truth_file, t.row as truth_row, t.object_id
        from reconciliation.int_transactions__delivered as d
        left join truth_source_rows as t
            on t.source = d.source and t.object_id = d.source_transaction_id
        where d.source in ('stripe', 'paypal', 'billing', 'expenses')  -- API_SOURCES
        union all
        select d.raw_row_id, d.source, d.transaction_id, d.delivery_rank, d.source_file, d.source_row,
            d.source_transaction_id, t.role, t.txn_id, t.file, t.row, t.object_id
        from reconciliation.int_transactions__delivered as d
        left join truth_source_rows as t
            on t.source = d.source and t.file = d.source_file and t.row = d.source_row
        where d.source not in ('stripe', 'paypal', 'billing', 'expenses')
        """
    )
    conn.execute("create index on bench_rows (transaction_id)")
    conn.execute("create index on bench_rows (source, truth_file, truth_row)")
    conn.execute("analyze bench_rows")
    f.raw_rows, f.raw_rows_without_truth = conn.execute(
        "select count(*), count(*) filter (where role is null) from bench_rows"
    ).fetchone()
    f.truth_rows = conn.execute("select count(*) from truth_source_rows where role <> 'malformed'").fetchone()[0]

    # lost: rendered rows (not malformed) that never reached raw
    missing = conn.execute(
        """
        select t.source, t.file, t.row from truth_source_rows as t
        where t.role <> 'malformed' and not exists (
            select 1 from bench_rows as b
            where b.source = t.source and b.truth_file = t.file and b.truth_row = t.row
        )
        """
    ).fetchall()
    identical = _identical_to_landed(conn, landing, missing)
    f.skipped_identical_rows = sum((s, file) in identical for s, file, _ in missing)
    f.lost_rows = len(missing) - f.skipped_identical_rows

    # every raw row accounted for: raw tables vs delivered, first deliveries vs validated
    raw_total = sum(
        conn.execute(f"select count(*) from raw.{source}").fetchone()[0]  # noqa: S608 - registry names
        for (source,) in conn.execute("select distinct source from reconciliation.int_transactions__delivered")
    )
    missing_validated = conn.execute(
        """
        select count(*) from reconciliation.int_transactions__delivered as d
        where d.delivery_rank = 1 and not exists (
            select 1 from validation.int_transactions__validated as v where v.transaction_id = d.transaction_id
        )
        """
    ).fetchone()[0]
    f.unaccounted_rows = abs(raw_total - f.raw_rows) + missing_validated
    f.dispositions = dict(
        conn.execute(
            """
            select case
                    when d.delivery_rank > 1 then 'exact_redelivery'
                    when v.duplicate_of is not null then 'duplicate'
                    when v.validation_status = 'quarantined' then 'quarantined'
                    else 'kept'
                end, count(*)
            from reconciliation.int_transactions__delivered as d
            left join validation.int_transactions__validated as v
                on v.transaction_id = d.transaction_id and d.delivery_rank = 1
            group by 1
            """
        ).fetchall()
    )

    # duplicates: marked (exact re-delivery or duplicate_of) vs truth roles echo + redelivery
    conn.execute("drop table if exists bench_marked")
    conn.execute(
        """
        create temp table bench_marked as
        select b.*, v.duplicate_of, v.duplicate_reason, v.validation_status,
            b.delivery_rank > 1 or v.duplicate_of is not null as marked,
            b.role in ('echo', 'redelivery') as is_duplicate
        from bench_rows as b
        left join validation.int_transactions__validated as v
            on v.transaction_id = b.transaction_id and b.delivery_rank = 1
        where b.role in ('primary', 'echo', 'redelivery')
        """
    )
    f.duplicates_true_positive, f.duplicates_false_positive, f.duplicates_false_negative = conn.execute(
        "select count(*) filter (where marked and is_duplicate), count(*) filter (where marked and not is_duplicate),"
        " count(*) filter (where not marked and is_duplicate) from bench_marked"
    ).fetchone()
    tp, fp, fn = f.duplicates_true_positive, f.duplicates_false_positive, f.duplicates_false_negative
    f.duplicate_precision = tp / (tp + fp) if tp + fp else 1.0
    f.duplicate_recall = tp / (tp + fn) if tp + fn else 1.0
    f.duplicate_wrong_target = conn.execute(
        """
        select count(*) from bench_marked as m
        where m.duplicate_of is not null and not exists (
            select 1 from bench_rows as target
            where target.transaction_id = m.duplicate_of and target.txn_id = m.txn_id
        )
        """
    ).fetchone()[0]
    f.duplicate_errors = [
        dict(zip(("source", "file", "row", "role", "marked", "reason"), r, strict=True))
        for r in conn.execute(
            "select source, source_file, source_row, role, marked, duplicate_reason from bench_marked"
            " where marked <> is_duplicate order by 1, 2, 3 limit 10"
        )
    ]

    # the kept rows (what fct_transactions holds) vs the true transactions
    conn.execute("drop table if exists bench_kept")
    conn.execute(
        """
        create temp table bench_kept as
        select b.txn_id, b.role
        from validation.int_transactions__validated as v
        join bench_rows as b on b.transaction_id = v.transaction_id and b.delivery_rank = 1
        where v.validation_status <> 'quarantined' and v.duplicate_of is null
        """
    )
    f.true_transactions = conn.execute("select count(*) from truth_transactions").fetchone()[0]
    f.kept_rows = conn.execute("select count(*) from bench_kept").fetchone()[0]
    f.kept_not_primary = conn.execute(
        "select count(*) from bench_kept where role is distinct from 'primary'"
    ).fetchone()[0]
    f.doubled_transactions = conn.execute(
        "select count(*) from (select txn_id from bench_kept where txn_id is not null group by 1"
        " having count(*) > 1) as doubled"
    ).fetchone()[0]
    f.missing_transactions, f.quarantined_transactions = conn.execute(
        """
        with kept as (select distinct txn_id from bench_kept),
        quarantined as (select distinct txn_id from bench_marked where validation_status = 'quarantined')
        select count(*) filter (where quarantined.txn_id is null),
            count(*) filter (where quarantined.txn_id is not null)
        from truth_transactions as t
        left join kept on kept.txn_id = t.txn_id
        left join quarantined on quarantined.txn_id = t.txn_id
        where kept.txn_id is null
        """
    ).fetchone()

    # reconciliation: truth matches as (type, left item, right transaction_id) vs the links
    conn.execute("drop table if exists bench_truth_pairs")
    conn.execute(
        """
        create temp table bench_truth_pairs as
        select m.match_id, m.match_type, m.matchable,
            case when m.match_type = 'payroll_run' then m.left_id else l.transaction_id end as left_key,
            r.transaction_id as right_key
        from truth_matches as m
        left join (select distinct source, truth_file, truth_row, transaction_id from bench_rows) as l
            on l.source = m.left_source and l.truth_file = m.left_file and l.truth_row::text = m.left_row
        left join (select distinct source, truth_file, truth_row, transaction_id from bench_rows) as r
            on r.source = m.right_source and r.truth_file = m.right_file and r.truth_row::text = m.right_row
        """
    )
    conn.execute("drop table if exists bench_links")
    conn.execute(
        """
        create temp table bench_links as
        select match_type, status, coalesce(left_transaction_id, left_source_transaction_id) as left_key,
            right_transaction_id as right_key, left_source_file, left_source_row, right_source_file, right_source_row
        from marts.fct_reconciliation
        where status <> 'unmatched'
        """
    )
    by_type = conn.execute(
        """
        select t.match_type, count(*),
            count(*) filter (where l.status = 'matched'), count(*) filter (where l.status = 'partially_matched')
        from bench_truth_pairs as t
        left join bench_links as l
            on l.match_type = t.match_type and l.left_key = t.left_key and l.right_key = t.right_key
        where t.matchable = 1
        group by 1 order by 1
        """
    ).fetchall()
    f.matches_by_type = {row[0]: (row[2], row[1]) for row in by_type}
    f.matchable = sum(row[1] for row in by_type)
    f.matched = sum(row[2] for row in by_type)
    f.partially_matched = sum(row[3] for row in by_type)
    f.matched_share = f.matched / f.matchable if f.matchable else 1.0
    false = conn.execute(
        """
        select l.match_type, l.status, l.left_source_file, l.left_source_row, l.right_source_file, l.right_source_row
        from bench_links as l
        where not exists (
            select 1 from bench_truth_pairs as t
            where t.matchable = 1 and t.match_type = l.match_type and t.left_key = l.left_key
                and t.right_key = l.right_key
        )
        """
    ).fetchall()
    f.false_matches = len(false)
    f.false_match_examples = [
        dict(zip(("type", "status", "left_file", "left_row", "right_file", "right_row"), r, strict=True))
        for r in false[:10]
    ]
    return f


def report(f: Figures) -> str:
    """The figures as text, with the targets."""
    lines = [
        f"raw rows: {f.raw_rows:,} ({f.raw_rows_without_truth} without a truth row); rendered rows (not malformed):"
        f" {f.truth_rows:,}",
        f"raw rows lost: {f.lost_rows} (byte-identical copies skipped at landing: {f.skipped_identical_rows:,});"
        f" unaccounted: {f.unaccounted_rows}",
        "dispositions: " + ", ".join(f"{k} {v:,}" for k, v in sorted(f.dispositions.items())),
        f"duplicates: precision {f.duplicate_precision:.5f}, recall {f.duplicate_recall:.5f}"
        f" (tp {f.duplicates_true_positive:,}, fp {f.duplicates_false_positive}, fn {f.duplicates_false_negative});"
        f" duplicate_of pointing at another transaction: {f.duplicate_wrong_target}",
        f"true transactions {f.true_transactions:,}, kept rows {f.kept_rows:,}: missing {f.missing_transactions},"
        f" quarantined {f.quarantined_transactions}, doubled {f.doubled_transactions},"
        f" kept but not primary {f.kept_not_primary}",
        f"reconciliation: matched {f.matched:,} / {f.matchable:,} matchable = {f.matched_share:.5f}"
        f" (partially {f.partially_matched}); false matches {f.false_matches}",
        "  by type: " + ", ".join(f"{k} {m}/{n}" for k, (m, n) in sorted(f.matches_by_type.items())),
    ]
    if f.duplicate_errors:
        lines.append(f"  duplicate errors (first 10): {json.dumps(f.duplicate_errors, default=str)}")
    if f.false_match_examples:
        lines.append(f"  false matches (first 10): {json.dumps(f.false_match_examples, default=str)}")
    failures = f.failures()
    lines.append("targets: " + ("all met" if not failures else "MISSED " + "; ".join(failures)))
    return "\n".join(lines)


def _timed_dbt_build(home: Path) -> tuple[float, float]:
    """A standalone ``dbt build`` of the whole project (models, seeds, tests) on the bench's data: wall seconds and
    dbt's own elapsed time."""
    from finflow_assets.transform.project import dbt_executable
    from finflow_assets.warehouse import dbt_env

    target = home / "dbt_target"
    env = {**os.environ, **dbt_env()}
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    args = [dbt_executable(), "build", "--target-path", str(target), "--log-path", str(home / "dbt_logs")]
    subprocess.run([*args[:1], "parse", *args[2:]], cwd=project, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run(args, cwd=project, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return wall, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redelivery-rate", type=float, default=0.1)
    parser.add_argument("--home", help="data folder (default: a new temporary one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="finflow-bench-recon-"))
    os.environ["FINFLOW_HOME"] = str(home)
    os.environ.pop("FINFLOW_DATABASE_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from finflow_assets.cli import materialize_everything
    from finflow_assets.settings import paths
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
        seed=args.seed,
        history_dir=folders.history,
        api_dir=folders.simulator / "api",
        faults=True,
        redelivery_rate=args.redelivery_rate,
    )
    t_sim = time.perf_counter() - t0
    with serve(sim.api_dir) as server:
        os.environ.update(server.env())
        t1 = time.perf_counter()
        result = materialize_everything()
        wall = time.perf_counter() - t1
    if not result.success:
        print("pipeline failed", file=sys.stderr)
        sys.exit(1)
    dbt_steps = {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS" and event.step_key and "dbt" in event.step_key
    }
    dbt_wall, dbt_elapsed = _timed_dbt_build(home)
    with connect(autocommit=True) as conn:
        t2 = time.perf_counter()
        figures = evaluate(conn, sim.truth_file.parent, folders.landing)
        t_eval = time.perf_counter() - t2

    print(
        f"simulated {sim.transactions:,} transactions ({args.days} day(s) x {args.per_day:,}, faults on,"
        f" redelivery rate {args.redelivery_rate}) in {t_sim:.1f} s; data folder {home}"
    )
    print(f"pipeline wall {wall:.1f} s; dbt steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in dbt_steps.items()))
    print(f"standalone dbt build (all models + tests): {dbt_wall:.1f} s wall, {dbt_elapsed:.1f} s dbt elapsed")
    print(f"evaluation {t_eval:.1f} s")
    print(report(figures))
    if args.json:
        print(json.dumps(asdict(figures), default=str, indent=1))
    embedded.stop()
    sys.exit(1 if figures.failures() else 0)


if __name__ == "__main__":
    main()
