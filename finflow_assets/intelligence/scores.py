"""The ``ml`` schema tables the scoring assets write, and the queries that feed them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import psycopg

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
"""


def unscored_transactions(conn: psycopg.Connection) -> pd.DataFrame:
    """Valid transactions that no analyst rule categorized and the model has not scored yet (incremental)."""
    rows = conn.execute(
        """
        select t.transaction_id, t.description_raw as description, t.amount::float8 as amount
        from validation.int_transactions__validated t
        left join intermediate.int_transactions__rule_categorized r using (transaction_id)
        left join ml.transaction_categories c using (transaction_id)
        where t.validation_status <> 'quarantined' and t.duplicate_of is null
          and r.transaction_id is null and c.transaction_id is null
        """
    ).fetchall()
    return pd.DataFrame(rows, columns=["transaction_id", "description", "amount"])


def copy_scores(
    conn: psycopg.Connection, ids: Iterable[str], predictions: pd.DataFrame, model_name: str, version: str
) -> int:
    count = 0
    with conn.cursor().copy(
        "copy ml.transaction_categories (transaction_id, category, confidence, method, model_name, model_version)"
        " from stdin"
    ) as copy:
        for transaction_id, category, confidence in zip(
            ids, predictions["category"], predictions["confidence"], strict=True
        ):
            copy.write_row((transaction_id, category, float(confidence), "ml", model_name, version))
            count += 1
    return count
