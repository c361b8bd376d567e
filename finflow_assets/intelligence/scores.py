"""The ``ml`` schema tables the scoring assets write, and the queries that feed the models.

``ml.transaction_categories``: one row per scored transaction. ``category`` is what is applied: the model's
prediction when its confidence reaches the champion's auto-apply threshold, else ``uncategorized`` with
``needs_review`` true (the prediction stays in ``predicted_category`` as the reviewer's suggestion). Rows a ledger
line already categorizes (the ERP's account -> category) are recorded as ``human`` with the ledger as the source.

``ml.transaction_anomalies``: one row per scored transaction: score in [0, 1], the flag at the threshold in force
when it was scored, human-readable reasons, and the model version.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from .review import EFFECTIVE_DECISIONS, ensure_review_tables

SCORES_DDL = """
create schema if not exists ml;
create table if not exists ml.transaction_categories (
    transaction_id text primary key,
    category text not null,
    confidence double precision not null,
    method text not null check (method in ('rule', 'ml', 'human')),
    model_name text,
    model_version text,
    scored_at timestamptz not null default now()
);
alter table ml.transaction_categories add column if not exists predicted_category text;
alter table ml.transaction_categories add column if not exists needs_review boolean not null default false;
alter table ml.transaction_categories add column if not exists auto_apply_threshold double precision;
-- the model's best categories with their probabilities, for rows that go to review: [{"category", "probability"}]
alter table ml.transaction_categories add column if not exists top_categories jsonb;
create table if not exists ml.transaction_anomalies (
    transaction_id text primary key,
    anomaly_score double precision not null check (anomaly_score between 0 and 1),
    is_anomaly boolean not null,
    anomaly_reasons text not null default '',
    threshold double precision not null,
    model_name text not null,
    model_version text not null,
    scored_at timestamptz not null default now()
);
-- dbt's incremental fct_transactions takes the rows scored since its last build
create index if not exists transaction_categories_scored_at on ml.transaction_categories (scored_at);
create index if not exists transaction_anomalies_scored_at on ml.transaction_anomalies (scored_at);
"""


def ensure_tables(conn: psycopg.Connection) -> None:
    """The ``ml`` tables the scoring assets write and the ``review`` tables (dbt reads both as sources)."""
    conn.execute(SCORES_DDL)
    ensure_review_tables(conn)


VALIDATED = "validation.int_transactions__validated"
RULES = "intermediate.int_transactions__rule_categorized"
DECISIONS = EFFECTIVE_DECISIONS  # reviewers' decisions in force (see review.py)
# the transactions of their own (fct_transactions); the same text as dbt's kept_transaction() macro, so a query
# written with it can use the partial indexes int_transactions__validated makes with it
KEPT = "validation_status <> 'quarantined' and duplicate_of is null"
LOOKBACK_DAYS = 60  # how far back the anomaly signals look (two monthly billing cycles); the cost grows with it
# the anomaly model learns from at most this many of the newest transactions (whole days, and at least the newest
# two): 60 days at 10,000 a day, or 5 days of a 100,000-a-day backlog; training memory stays under a gigabyte
MAX_TRAINING_ROWS = 500_000
TOP_CATEGORIES = 3  # the model's best categories kept for a reviewer
MAX_LISTED_UNSCORED = 20_000  # up to this many unscored ids go into the look-back query as a list (a tick's rows)


def read_frame(conn: psycopg.Connection, query: sql.Composable | str, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A query's rows through ``COPY ... TO STDOUT`` (CSV): an order of magnitude faster than fetching rows one by
    one for large frames. ``text_columns`` stay strings (empty text and NULL both become ""), held in pandas' compact
    string dtype. The CSV streams through a pipe into the parser while PostgreSQL still produces it (a tick's 400k
    look-back rows: ~0.1-0.15 s sooner than parsing after the copy), never held whole (a first run reads a million)."""
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(
        sql.SQL(query) if isinstance(query, str) else query
    )
    text = list(text_columns)
    source, sink = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(sink, "wb") as out, conn.cursor().copy(statement) as copy:
                for block in copy:
                    out.write(block)
        except BaseException as error:  # noqa: BLE001 - raised again in the reading thread
            failure.append(error)

    producer = threading.Thread(target=produce, name="copy-to-parser", daemon=True)
    producer.start()
    try:
        with open(source, "rb") as stream:  # (closed on a parse error: the producer's next write fails and it ends)
            frame = pd.read_csv(stream, dtype=dict.fromkeys(text, "str"), keep_default_na=False, na_values=[""])
    except Exception:
        producer.join()
        # the query failed (the parser only saw the CSV end early), unless the producer merely found the pipe
        # closed by the parser's own failure
        if failure and not isinstance(failure[0], BrokenPipeError):
            raise failure[0] from None
        raise
    producer.join()
    if failure:
        raise failure[0]
    for column in text:
        if column in frame.columns:
            frame[column] = frame[column].fillna("")
    return frame


def relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


# --------------------------------------------------------------------------------------------- categorizer


def unscored_transactions(conn: psycopg.Connection) -> pd.DataFrame:
    """Valid transactions that no analyst rule categorized and nothing has scored yet (incremental), with the
    fields the categorizer reads and, for ledger lines, the category the ledger booked them to."""
    # the few unscored ids first, from two id-ordered indexes (the kept transactions' partial index, the scores'
    # key) merged without reading the wide rows; then those rows alone (0.8 s -> 0.2 s after 60 days)
    return read_frame(
        conn,
        f"""
        with unscored as materialized (
            select v.transaction_id from {VALIDATED} v
            where {KEPT}
              and not exists (select from ml.transaction_categories c where c.transaction_id = v.transaction_id)
              and not exists (
                  select from {RULES} r where r.transaction_id = v.transaction_id and r.category is not null
              )
        )
        select t.transaction_id, t.source, t.description_raw as description, t.counterparty_raw as counterparty,
               t.reference, t.amount::float8 as amount, t.currency, t.transaction_type,
               case when t.source = 'erp_gl' then t.extra -> 'raw' ->> 'category' end as ledger_category
        from {VALIDATED} t
        where t.transaction_id = any(array(select transaction_id from unscored))  -- through the id index
        """,  # noqa: S608 - constants only
        text_columns=(
            "transaction_id",
            "source",
            "description",
            "counterparty",
            "reference",
            "currency",
            "transaction_type",
            "ledger_category",
        ),
    )


LABELED_TEXT_COLUMNS = (
    "description",
    "counterparty",
    "reference",
    "currency",
    "source",
    "transaction_type",
    "category",
)


def labeled_history(conn: psycopg.Connection) -> dict[str, pd.DataFrame]:
    """Labeled rows the warehouse holds: ledger lines with the category of the account they were booked to, and
    analysts' corrections (when the review tables exist). The ledger's own account fields are never inputs (they
    encode the answer); an unlinked ledger line has no source or type."""
    found: dict[str, pd.DataFrame] = {}
    if relation_exists(conn, VALIDATED):
        # a ledger line that reconciliation linked to the payment it mirrors (duplicate_of) labels that payment's
        # own row, with its source, type and counterparty: exactly what the model sees when scoring; an unlinked
        # ledger line labels its own text
        found["ledger"] = read_frame(
            conn,
            f"""
            select coalesce(p.booked_date, g.booked_date) as date,
                   coalesce(p.description_raw, g.description_raw) as description,
                   case when p.transaction_id is null then g.counterparty_raw else p.counterparty_raw end
                       as counterparty,
                   p.reference, coalesce(p.amount, g.amount)::float8 as amount,
                   coalesce(p.currency, g.currency) as currency, p.source, p.transaction_type,
                   g.extra -> 'raw' ->> 'category' as category
            from {VALIDATED} g
            left join {VALIDATED} p on p.transaction_id = g.duplicate_of and p.source <> 'erp_gl'
            where g.source = 'erp_gl' and g.validation_status <> 'quarantined' and g.booked_date is not null
              and g.extra -> 'raw' ->> 'category' is not null
            """,  # noqa: S608 - constants only
            text_columns=LABELED_TEXT_COLUMNS,
        )
    if relation_exists(conn, VALIDATED):
        # the latest category decision per transaction (recategorized, or a suggestion approved)
        found["corrections"] = read_frame(
            conn,
            f"""
            with latest as (
                select distinct on (transaction_id) transaction_id, category
                from {DECISIONS}
                where item_type = 'category' and transaction_id is not null
                order by transaction_id, decision_id desc
            )
            select t.booked_date as date, t.description_raw as description, t.counterparty_raw as counterparty,
                   t.reference, t.amount::float8 as amount, t.currency, t.source, t.transaction_type, d.category
            from latest d join {VALIDATED} t using (transaction_id)
            where t.booked_date is not null
            """,  # noqa: S608 - constants only
            text_columns=LABELED_TEXT_COLUMNS,
        )
    return found


def top_categories(model: object, frame: pd.DataFrame, k: int = TOP_CATEGORIES) -> list[str]:
    """The model's ``k`` most probable categories per row, best first, as JSON ``[{"category", "probability"}]``
    (what a reviewer sees before the type-ahead). Only the model's public ``predict_proba`` and ``classes_`` are
    used, ``PREDICT_ROWS`` rows at a time."""
    from ml.categorizer import PREDICT_ROWS
    from ml.features import categorizer_input

    classes = np.asarray(model.classes_)
    out: list[str] = []
    for start in range(0, len(frame), PREDICT_ROWS):
        probabilities = model.predict_proba(categorizer_input(frame.iloc[start : start + PREDICT_ROWS]))
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        out += [
            json.dumps([{"category": str(classes[i]), "probability": round(float(row[i]), 4)} for i in order])
            for row, order in zip(probabilities, best, strict=True)
        ]
    return out


def copy_categories(conn: psycopg.Connection, rows: pd.DataFrame) -> int:
    """Append scored rows (columns: transaction_id, category, predicted_category, confidence, method, needs_review,
    model_name, model_version, auto_apply_threshold and, where known, top_categories) with COPY."""
    if "top_categories" not in rows.columns:
        rows = rows.assign(top_categories=None)
    columns = [
        "transaction_id",
        "category",
        "predicted_category",
        "confidence",
        "method",
        "needs_review",
        "model_name",
        "model_version",
        "auto_apply_threshold",
        "top_categories",
    ]
    return _copy(conn, "transaction_categories", rows, columns)


# --------------------------------------------------------------------------------------------- anomalies


def anomaly_frame(
    conn: psycopg.Connection,
    lookback_days: int = LOOKBACK_DAYS,
    training: bool = False,
    max_training_rows: int = MAX_TRAINING_ROWS,
) -> pd.DataFrame:
    """Every valid transaction from ``lookback_days`` before the oldest unscored one on (none when everything is
    scored), with the detector's inputs, its category (a reviewer's, else the rule's, else the model's prediction),
    whether it was scored and whether it was flagged (a flag a reviewer dismissed as not anomalous no longer counts:
    the row sets baselines again). ``training``: the last ``lookback_days`` of everything instead, no more than
    the newest whole days within ``max_training_rows`` (but at least two days)."""
    # the first day to read, found first and written into the query as a constant: from a CTE over the wide
    # validated rows the planner materialized all of them (450 MB on disk at 60 days) and spilled its joins
    # (4.9 s instead of 3.8 s to read a tick's 588k rows after 60 days)
    if training:
        day = conn.execute(
            f"""
            with days as (
                select booked_date as day, sum(count(*)) over (order by booked_date desc) as newer
                from {VALIDATED}
                where {KEPT} and booked_date is not null
                group by booked_date
            )
            select greatest(
                max(day) - %(lookback)s,
                -- the newest days within the cap, but at least the newest two
                least(
                    min(day) filter (where newer <= %(cap)s),
                    (select day from days order by day desc offset 1 limit 1)
                )
            )
            from days
            """,  # noqa: S608 - constants only
            {"lookback": int(lookback_days), "cap": int(max_training_rows)},
        ).fetchone()[0]
        unscored = None
    else:
        # the unscored ids, fetched up to one more than can be listed: a tick's few hundred are listed below; a
        # first run's backlog is not, and only its first day is read (an array_agg over a million ids, even one
        # discarded by a CASE, held ~1.1 GB in PostgreSQL's parallel workers: the 1M run's memory peak)
        unscored_query = f"""
            from {VALIDATED} v
            where {KEPT} and v.booked_date is not null
              and not exists (select from ml.transaction_anomalies a where a.transaction_id = v.transaction_id)
        """  # noqa: S608 - constants only
        rows = conn.execute(
            f"select v.transaction_id, v.booked_date {unscored_query} limit %(cap)s",  # noqa: S608 - constants only
            {"cap": MAX_LISTED_UNSCORED + 1},
        ).fetchall()
        if not rows:
            day, unscored = None, None
        elif len(rows) <= MAX_LISTED_UNSCORED:
            day, unscored = min(booked for _, booked in rows) - timedelta(days=int(lookback_days)), [i for i, _ in rows]
        else:
            day = conn.execute(
                f"select min(v.booked_date) - %(lookback)s {unscored_query}",  # noqa: S608 - constants only
                {"lookback": int(lookback_days)},
            ).fetchone()[0]
            unscored = None
    # "scored": a tick's few hundred unscored ids as a constant list (hashed) instead of a join with every score
    # (0.2 s of the 1.2 s query after 60 days); a first run's backlog is looked up score by score
    scored = (
        sql.SQL("t.transaction_id <> all({})").format(sql.Literal(unscored))
        if unscored is not None
        else sql.SQL("exists (select from ml.transaction_anomalies s where s.transaction_id = t.transaction_id)")
    )
    conn.execute("set local work_mem = '64MB'")  # the joins below hash a lookback's rows in memory, not on disk
    return read_frame(
        conn,
        anomaly_inputs_query(sql.SQL("t.booked_date >= {}").format(sql.Literal(day)), scored),
        text_columns=ANOMALY_TEXT_COLUMNS,
    )


ANOMALY_TEXT_COLUMNS = (
    "transaction_id",
    "source",
    "currency",
    "description",
    "counterparty",
    "category",
    "instrument",
    "occurred_at",
)


def anomaly_inputs_query(where: sql.Composable, scored: sql.Composable) -> sql.Composed:
    """The detector's inputs of the kept transactions ``where`` says (over ``t``, the validated rows): its category
    (a reviewer's, else the rule's, else the model's prediction), ``scored`` (an expression) and whether it is
    flagged (a flag a reviewer dismissed as not anomalous no longer counts: the row sets baselines again)."""
    return sql.SQL(
        f"""
        with decisions as (
            select distinct on (transaction_id, item_type) transaction_id, item_type, decision, category
            from {DECISIONS}
            where transaction_id is not null
            order by transaction_id, item_type, decision_id desc
        ),
        -- joined only where they say something: rules categorize a few percent of rows, the model flags ~1%
        rules as (select transaction_id, category from {RULES} where category is not null),
        flagged as (select transaction_id from ml.transaction_anomalies where is_anomaly)
        select t.transaction_id, t.source, t.booked_date, t.amount::float8 as amount,
               coalesce(t.amount_base, t.amount)::float8 as amount_base, t.currency,
               t.description_raw as description, t.counterparty_raw as counterparty,
               coalesce(dc.category, r.category, c.predicted_category, c.category, 'uncategorized') as category,
               t.extra ->> 'card_last4' as instrument,
               coalesce(t.extra ->> 'created_at', t.extra ->> 'initiated_at') as occurred_at,
               {{scored}} as scored,
               f.transaction_id is not null and da.decision is distinct from 'not_anomalous' as is_flagged
        from {VALIDATED} t
        left join rules r using (transaction_id)
        left join ml.transaction_categories c using (transaction_id)
        left join flagged f using (transaction_id)
        left join decisions dc on dc.transaction_id = t.transaction_id and dc.item_type = 'category'
        left join decisions da on da.transaction_id = t.transaction_id and da.item_type = 'anomaly'
        where {KEPT} and t.booked_date is not null and {{where}}
        """  # noqa: S608 - constants only; the conditions are composed
    ).format(where=where, scored=scored)


def copy_anomalies(conn: psycopg.Connection, rows: pd.DataFrame) -> int:
    """Append scored rows (transaction_id, anomaly_score, is_anomaly, anomaly_reasons, threshold, model_name,
    model_version) with COPY."""
    columns = [
        "transaction_id",
        "anomaly_score",
        "is_anomaly",
        "anomaly_reasons",
        "threshold",
        "model_name",
        "model_version",
    ]
    return _copy(conn, "transaction_anomalies", rows, columns)


def _copy(conn: psycopg.Connection, table: str, rows: pd.DataFrame, columns: list[str]) -> int:
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("ml", table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    values = rows[columns].astype(object).where(rows[columns].notna(), None)
    with conn.cursor().copy(statement) as copy:
        for record in values.itertuples(index=False, name=None):
            copy.write_row(tuple(_plain(value) for value in record))
    return len(rows)


def _plain(value: object) -> object:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
