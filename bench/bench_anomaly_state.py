"""A tick's anomaly scoring after 10 and 60 days of history: the whole look-back read (as before the kept state)
against the kept baselines (``finflow_assets/intelligence/baselines.py``), on the same warehouse, same ticks.

A fast path writes the simulated history straight into the tables scoring reads (validated transactions, rule
categories, earlier scores with the simulator's true anomaly flags) instead of running the pipeline over weeks of
data, builds the state once, then each tick lands ``--per-tick`` new transactions of the newest day and scores
them both ways (the full read first, rolled back; then the kept state, committed, as the asset does). Prints each
tick's seconds, the rows each read, and whether the two gave the same scores.

    .venv/bin/python bench/bench_anomaly_state.py [--per-day 10000] [--per-tick 400] [--days 10 60] [--ticks 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = """
create schema if not exists validation;
create schema if not exists intermediate;
create table if not exists validation.int_transactions__validated (
    transaction_id text primary key, source text, booked_date date, amount numeric, amount_base numeric,
    currency text, description_raw text, counterparty_raw text, extra jsonb, validation_status text,
    duplicate_of text, validated_at timestamptz not null default clock_timestamp()
);
create index if not exists validated_at on validation.int_transactions__validated (validated_at);
create index if not exists validated_day on validation.int_transactions__validated (booked_date);
create table if not exists intermediate.int_transactions__rule_categorized (
    transaction_id text primary key, category text, categorized_at timestamptz not null default clock_timestamp()
);
create index if not exists categorized_at on intermediate.int_transactions__rule_categorized (categorized_at);
"""


def _load(conn, rows: pd.DataFrame, scored: bool) -> None:  # noqa: ANN001
    """Rows straight into the tables scoring reads (COPY); ``scored``: with earlier scores (the truth's flags)."""
    with conn.cursor().copy(
        "copy validation.int_transactions__validated (transaction_id, source, booked_date, amount, amount_base,"
        " currency, description_raw, counterparty_raw, extra, validation_status) from stdin"
    ) as copy:
        for r in rows.itertuples():
            extra = {"card_last4": r.instrument or None}
            if not pd.isna(r.occurred_at):
                extra["created_at"] = r.occurred_at.isoformat()
            copy.write_row(
                (
                    r.transaction_id,
                    r.source,
                    r.booked_date.date(),
                    r.amount,
                    r.amount_base,
                    r.currency,
                    r.description,
                    r.counterparty or None,
                    json.dumps(extra),
                    "valid",
                )  # fmt: skip
            )
    with conn.cursor().copy(
        "copy intermediate.int_transactions__rule_categorized (transaction_id, category) from stdin"
    ) as copy:
        for r in rows.itertuples():
            copy.write_row((r.transaction_id, r.category))
    if scored:
        with conn.cursor().copy(
            "copy ml.transaction_anomalies (transaction_id, anomaly_score, is_anomaly, threshold, model_name,"
            " model_version) from stdin"
        ) as copy:
            for r in rows.itertuples():
                copy.write_row((r.transaction_id, float(r.truth_anomaly), bool(r.truth_anomaly), 0.95, "bench", "0"))
    conn.execute("analyze")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--per-tick", type=int, default=400)
    parser.add_argument("--days", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--folder", help="reuse (or keep) the simulated files here")
    args = parser.parse_args()

    from harness import Bench

    from finflow_assets.intelligence import baselines
    from finflow_assets.intelligence.scores import anomaly_frame, copy_anomalies, ensure_tables
    from finflow_assets.warehouse import connect
    from finflow_simulator import generate
    from ml.anomaly import AnomalyDetector, anomaly_input
    from ml.simulated import load_simulated

    root = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="finflow-bench-state-"))
    started = time.perf_counter()
    if not (root / "truth" / "transactions.csv").exists():
        generate(
            root / "landing", root / "truth", days=max(args.days) + 1, per_day=args.per_day, seed=11,
            history_dir=root / "history", history_days=5, api_dir=root / "api",
        )  # fmt: skip
    parsed = root / "parsed.pkl"  # the parsed views, kept beside the simulated files (parsing takes minutes)
    if parsed.exists():
        frame = pd.read_pickle(parsed)  # noqa: S301 - the bench's own cache
    else:
        frame = load_simulated(root / "landing", root / "truth", root / "api")
        frame.to_pickle(parsed)
    primary = frame[frame["role"] == "primary"]
    data = anomaly_input(primary).assign(
        category=primary["category"].to_numpy(), truth_anomaly=primary["is_anomaly"].astype(bool).to_numpy()
    )
    data["transaction_id"] = "t" + pd.Series(np.arange(len(data)), index=data.index).astype(str)
    days = np.sort(data["booked_date"].dt.normalize().unique())
    print(
        f"simulated and parsed {len(data):,} transactions over {len(days)} days "
        f"in {time.perf_counter() - started:.0f} s"
    )
    newest = data[data["booked_date"] >= days[-1]]
    model = AnomalyDetector().fit(data[data["booked_date"] < days[-1]].tail(50_000))
    bench = Bench("finflow-bench-state-")
    loaded_from = days[-1]
    tick_rows = iter(np.array_split(newest.index.to_numpy(), len(newest) // args.per_tick))
    with connect() as conn:
        ensure_tables(conn)
        conn.execute(TABLES)
        baselines.ensure_state(conn)
        conn.commit()
        for n in sorted(args.days):
            # the history grows to n days before the newest (the days not loaded yet, older ones first)
            first = days[-1 - n]
            more = data[(data["booked_date"] >= first) & (data["booked_date"] < loaded_from)]
            started = time.perf_counter()
            _load(conn, more, scored=True)
            loaded_from = first
            conn.commit()
            built = baselines.rebuild(conn, baselines.window_day([pd.Timestamp(days[-1]).date()]))
            conn.commit()
            print(
                f"\n{n} days of history: {len(more):,} rows loaded, state of {built:,} rows built in "
                f"{time.perf_counter() - started:.0f} s (the fast path; not part of a tick)"
            )
            for tick in range(1, args.ticks + 1):
                batch = data.loc[next(tick_rows)]
                _load(conn, batch, scored=False)
                conn.commit()
                ids = baselines.unscored_ids(conn, 100_000)
                started = time.perf_counter()
                full_frame = anomaly_frame(conn)
                for column in ("scored", "is_flagged"):
                    full_frame[column] = full_frame[column].astype(str).str.lower().isin(("t", "true", "1"))
                inputs = anomaly_input(full_frame)
                unscored = ~full_frame["scored"].to_numpy()
                full = model.score(inputs[unscored], inputs[~unscored], 0.95)
                full_seconds = time.perf_counter() - started
                full = full.set_index(inputs.loc[unscored, "transaction_id"].to_numpy())
                conn.rollback()
                started = time.perf_counter()
                parts: dict[str, float] = {}
                kept_batch, kept, history_rows = baselines.score_tick(conn, model, 0.95, ids, parts)
                rows = kept.assign(
                    transaction_id=kept_batch["transaction_id"].to_numpy(),
                    threshold=0.95,
                    model_name="bench",
                    model_version="0",
                )
                copy_anomalies(conn, rows)
                baselines.mark_flagged(conn, rows.loc[rows["is_anomaly"], "transaction_id"].tolist())
                conn.commit()
                kept_seconds = time.perf_counter() - started
                same = np.allclose(
                    rows.set_index("transaction_id").loc[full.index, "anomaly_score"].to_numpy(),
                    full["anomaly_score"].to_numpy(),
                    rtol=0,
                    atol=1e-9,
                )
                print(
                    f"  tick {tick} ({len(ids)} new): full look-back read {full_seconds:5.2f} s "
                    f"({int((~unscored).sum()):,} history rows); kept state {kept_seconds:5.2f} s "
                    f"({history_rows:,} family rows read); same scores: {same}"
                )
                print("    kept state by part: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    bench.close()


if __name__ == "__main__":
    main()
