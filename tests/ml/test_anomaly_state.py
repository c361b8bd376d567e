"""Anomaly baselines kept as state (``finflow_assets.intelligence.baselines``) score a tick exactly as a full read
of the look-back does: a multi-day simulated run on the real embedded PostgreSQL, two ticks a day, with late rows,
redeliveries superseding scored rows, reviewers' decisions and a rule recategorizing rows between ticks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finflow_assets.intelligence import baselines
from finflow_assets.intelligence.scores import anomaly_frame, copy_anomalies, ensure_tables
from ml.anomaly import AnomalyDetector, anomaly_input
from tests.conftest import fresh_database

TABLES = """
create schema if not exists validation;
create schema if not exists intermediate;
create table validation.int_transactions__validated (
    transaction_id text primary key, source text, booked_date date, amount numeric, amount_base numeric,
    currency text, description_raw text, counterparty_raw text, extra jsonb, validation_status text,
    duplicate_of text, validated_at timestamptz not null default clock_timestamp()
);
create table intermediate.int_transactions__rule_categorized (
    transaction_id text primary key, category text, categorized_at timestamptz not null default clock_timestamp()
);
"""
THRESHOLD = 0.95


def _insert(conn, rows: pd.DataFrame) -> None:  # noqa: ANN001
    with conn.cursor() as cur:
        cur.executemany(
            "insert into validation.int_transactions__validated (transaction_id, source, booked_date, amount,"
            " amount_base, currency, description_raw, counterparty_raw, extra, validation_status) values"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'valid')",
            [
                (
                    r.transaction_id,
                    r.source,
                    r.booked_date.date(),
                    r.amount,
                    r.amount_base,
                    r.currency,
                    r.description,
                    r.counterparty or None,
                    json.dumps(
                        {
                            "card_last4": r.instrument or None,
                            "created_at": None if pd.isna(r.occurred_at) else r.occurred_at.isoformat(),
                        }
                    ),
                )  # fmt: skip
                for r in rows.itertuples()
            ],
        )
        # a rule categorizes every row (the truth's category), so categories take part in the baselines
        cur.executemany(
            "insert into intermediate.int_transactions__rule_categorized (transaction_id, category) values (%s, %s)"
            " on conflict (transaction_id) do update set category = excluded.category,"
            " categorized_at = clock_timestamp()",
            [(r.transaction_id, r.category) for r in rows.itertuples()],
        )


def _full(conn, model, ids):  # noqa: ANN001, ANN202
    """The reference: the whole look-back read and scored (what the asset did before the state)."""
    frame = anomaly_frame(conn)
    for column in ("scored", "is_flagged"):
        frame[column] = frame[column].astype(str).str.lower().isin(("t", "true", "1"))
    data = anomaly_input(frame)
    unscored = ~frame["scored"].to_numpy()
    assert set(data.loc[unscored, "transaction_id"]) == set(ids)
    scores = model.score(data[unscored], data[~unscored], THRESHOLD)
    return scores.set_index(data.loc[unscored, "transaction_id"].to_numpy())


def _write(conn, ids, scores) -> None:  # noqa: ANN001
    rows = scores.reset_index(names="transaction_id").assign(
        threshold=THRESHOLD, model_name="finflow-anomaly", model_version="1"
    )
    copy_anomalies(conn, rows.assign(transaction_id=rows["transaction_id"].astype(str)))
    baselines.mark_flagged(conn, rows.loc[rows["is_anomaly"], "transaction_id"].tolist())


@pytest.fixture
def state_db(finflow_home):
    from finflow_assets.warehouse import connect

    with fresh_database("test_anomaly_state"), connect() as conn:
        ensure_tables(conn)
        conn.execute(TABLES)
        baselines.ensure_state(conn)
        conn.commit()
        yield conn


def test_kept_baselines_score_ticks_as_the_full_look_back_does(state_db, simulated):
    conn = state_db
    data = anomaly_input(simulated.primary).assign(category=simulated.primary["category"].to_numpy())
    data["transaction_id"] = "t" + pd.Series(range(len(data)), index=data.index).astype(str)
    days = np.sort(data["booked_date"].dt.normalize().unique())
    first = data[data["booked_date"] < days[3]]
    model = AnomalyDetector().fit(first)
    rng = np.random.default_rng(3)
    held = data["booked_date"].isin(days[4:-2]) & (rng.random(len(data)) < 0.02)  # delivered two days late

    # the first three days: scored from the full read, then the state built
    _insert(conn, first)
    ids = first["transaction_id"].tolist()
    _write(conn, ids, _full(conn, model, ids))
    baselines.rebuild(conn, baselines.window_day([first["booked_date"].max().date()]))
    conn.commit()

    compared, differing, flags_differing, state_ticks, late, superseded = 0, 0, 0, 0, 0, 0
    for number, day in enumerate(days[3:], start=3):
        today = data[(data["booked_date"] == day) & ~held]
        arrivals = [today.iloc[: len(today) // 2], today.iloc[len(today) // 2 :]]
        if number >= 6:  # rows held back two days ago arrive now
            arrivals[0] = pd.concat([arrivals[0], data[held & (data["booked_date"] == days[number - 2])]])
            late += int((held & (data["booked_date"] == days[number - 2])).sum())
        for tick, rows in enumerate(arrivals):
            if number >= 5 and tick == 1:
                # a redelivered file supersedes 20 scored rows of yesterday with corrected copies (new ids, amounts)
                old = conn.execute(
                    "select transaction_id from validation.int_transactions__validated where booked_date = %s"
                    " and duplicate_of is null order by transaction_id limit 20",
                    (pd.Timestamp(days[number - 1]).date(),),
                ).fetchall()
                old_ids = [t for (t,) in old]
                copies = data[data["transaction_id"].isin(old_ids)].copy()
                copies["transaction_id"] = copies["transaction_id"] + f"-r{number}"
                copies["amount"] = copies["amount"] * 1.5
                copies["amount_base"] = copies["amount_base"] * 1.5
                rows = pd.concat([rows, copies])
                conn.execute(
                    "update validation.int_transactions__validated set duplicate_of = transaction_id || %s,"
                    " validated_at = clock_timestamp() where transaction_id = any(%s)",
                    (f"-r{number}", old_ids),
                )
                superseded += len(old_ids)
                # reviewers: a flag dismissed, a transaction recategorized, and a rule change recategorizing rows
                flagged = conn.execute(
                    "select transaction_id from ml.transaction_anomalies where is_anomaly order by scored_at desc"
                    " limit 1"
                ).fetchone()
                if flagged:
                    conn.execute(
                        "insert into review.review_decisions (item_type, item_id, transaction_id, decision, reviewer)"
                        " values ('anomaly', %s, %s, 'not_anomalous', 'ana')",
                        (flagged[0], flagged[0]),
                    )
                some = data[data["booked_date"] == days[number - 1]]["transaction_id"].iloc[30:32].tolist()
                for transaction in some:
                    conn.execute(
                        "insert into review.review_decisions (item_type, item_id, transaction_id, decision, category,"
                        " reviewer) values ('category', %s, %s, 'recategorize', 'travel', 'ana')",
                        (transaction, transaction),
                    )
                conn.execute(
                    "update intermediate.int_transactions__rule_categorized set category = 'software_saas',"
                    " categorized_at = clock_timestamp() where transaction_id = any(%s)",
                    (data[data["booked_date"] == days[number - 2]]["transaction_id"].iloc[40:45].tolist(),),
                )
            _insert(conn, rows)
            conn.commit()
            ids = baselines.unscored_ids(conn, 100_000)
            full = _full(conn, model, ids)
            conn.rollback()
            scored = baselines.score_tick(conn, model, THRESHOLD, ids)
            assert scored is not None, f"day {number} tick {tick}: the state could not serve the tick"
            batch, scores, history_rows = scored
            state_ticks += 1
            kept = scores.set_index(batch["transaction_id"].to_numpy()).loc[full.index]
            difference = np.abs(kept["anomaly_score"].to_numpy() - full["anomaly_score"].to_numpy())
            compared += len(full)
            differing += int((difference > 1e-9).sum())
            flags_differing += int((kept["is_anomaly"] != full["is_anomaly"]).sum())
            _write(conn, ids, kept)
            conn.commit()
    assert late > 20 and superseded >= 80 and state_ticks >= 12
    # every score within 1e-9 of the full read's (PostgreSQL and numpy round a percentile's interpolation apart)
    assert differing == 0 and flags_differing == 0, (differing, flags_differing, compared)
    assert compared > 5000
