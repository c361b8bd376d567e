"""The append-only ``raw`` schema: one table per source plus the load journal.

Each raw row keeps the parsed record as received (``record`` jsonb) with lineage: which load, which file or
API page, which row, when, and a ``row_hash`` that is equal for the same record delivered twice.
All SQL is composed with ``psycopg.sql`` identifiers; data only ever travels as parameters or COPY.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

RAW_SCHEMA = "raw"

_LOADS_DDL = """
create schema if not exists raw;
create table if not exists raw._loads (
    load_id uuid primary key,
    source text not null,
    origin text not null,              -- file name or API cursor/page
    content_hash text not null,        -- sha256 of the file bytes or page body
    status text not null check (status in ('landed', 'quarantined')),
    rows_landed integer not null default 0,
    error text,
    warnings text[] not null default '{}',  -- harmless deviations read past, text cleaned: one line each
    started_at timestamptz not null,
    finished_at timestamptz not null default now()
);
create unique index if not exists _loads_landed_once
    on raw._loads (source, content_hash) where status = 'landed';
create table if not exists raw._superseded (
    transaction_id text primary key,   -- md5(source || ':' || row_hash), as staging computes it
    source text not null,
    conflict_id text not null,         -- one later delivery against one earlier one: what a reviewer decides
    side text not null check (side in ('earlier', 'later')),
    -- superseded: not money (a later delivery replaced it); held: a later line waiting for review;
    -- disputed: an earlier line still counting while its conflict waits; kept / released: decided, counts
    status text not null check (status in ('superseded', 'held', 'disputed', 'kept', 'released')),
    load_id uuid not null,
    source_row integer not null,
    superseding_load_id uuid not null,
    account text,
    booked_date text,
    amount text,
    currency text,
    description text,
    reason text not null,
    recorded_at timestamptz not null default now()
);
create index if not exists _superseded_recorded_at on raw._superseded (recorded_at);
create index if not exists _superseded_conflict on raw._superseded (conflict_id);
create table if not exists raw._statements (
    load_id uuid not null references raw._loads (load_id),
    source text not null,
    statement jsonb not null
);
"""

_RAW_COLUMNS = ("load_id", "origin", "source_row", "row_hash", "record")
# What identifies a transaction's content; position, statement numbering and extras are left out so the same
# transaction in an overlapping or re-numbered statement hashes the same.
_IDENTITY_FIELDS = (
    "account",
    "booked_date",
    "value_date",
    "amount",
    "currency",
    "description",
    "counterparty",
    "reference",
    "transaction_type",
    "external_id",
)


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    conn.execute(_LOADS_DDL)
    # journals made before warnings were kept get the column (checked first: ALTER locks the table even as a no-op)
    has_warnings = conn.execute(
        "select 1 from information_schema.columns"
        " where table_schema = 'raw' and table_name = '_loads' and column_name = 'warnings'"
    ).fetchone()
    if not has_warnings:
        conn.execute("alter table raw._loads add column if not exists warnings text[] not null default '{}'")


def ensure_raw_table(conn: psycopg.Connection, table: str) -> None:
    conn.execute(
        sql.SQL(
            """
            create table if not exists {table} (
                load_id uuid not null references raw._loads (load_id),
                origin text not null,
                source_row integer not null,
                ingested_at timestamptz not null default now(),
                row_hash text not null,
                record jsonb not null
            );
            create index if not exists {index} on {table} (row_hash);
            -- dbt's incremental int_transactions__unioned takes new rows by load
            create index if not exists {load_index} on {table} (load_id);
            -- a delivery without the source's own ids is compared with earlier ones over its period (redeliveries.py)
            create index if not exists {date_index} on {table} ((record ->> 'booked_date'))
                where record ->> 'external_id' is null
            """
        ).format(
            table=sql.Identifier(RAW_SCHEMA, table),
            index=sql.Identifier(f"{table}_row_hash"),
            load_index=sql.Identifier(f"{table}_load_id"),
            date_index=sql.Identifier(f"{table}_booked_date"),
        )
    )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row_hashes(records: Sequence[dict[str, Any]]) -> list[str]:
    """A hash per record that ignores its position, so a re-delivered row hashes the same.

    Identical records inside one delivery (two equal coffees on one day) are distinct transactions, so the
    n-th occurrence of a record is part of its hash: a re-delivery of both still matches both, once each.
    """
    seen: Counter[str] = Counter()
    hashes = []
    for record in records:
        body = identity_key(record)
        seen[body] += 1
        hashes.append(hashlib.sha256(f"{body}#{seen[body]}".encode()).hexdigest())
    return hashes


def identity_key(record: dict[str, Any]) -> str:
    """What identifies a record's content (its identity fields as JSON): equal for the same line in two files."""
    return json.dumps([record.get(name) for name in _IDENTITY_FIELDS], default=str)


def already_landed(conn: psycopg.Connection, source: str, digest: str) -> bool:
    row = conn.execute(
        "select 1 from raw._loads where source = %s and content_hash = %s and status = 'landed'", (source, digest)
    ).fetchone()
    return row is not None


def copy_records(
    conn: psycopg.Connection,
    table: str,
    load_id: str,
    origin: str,
    records: Sequence[dict[str, Any]],
    hashes: Sequence[str] | None = None,
) -> int:
    """Bulk-insert records with COPY (two orders of magnitude faster than INSERTs); ``hashes`` are their
    ``row_hashes`` when the caller has them already."""
    hashes = row_hashes(records) if hashes is None else hashes
    statement = sql.SQL("copy {table} ({columns}) from stdin").format(
        table=sql.Identifier(RAW_SCHEMA, table), columns=sql.SQL(", ").join(map(sql.Identifier, _RAW_COLUMNS))
    )
    with conn.cursor().copy(statement) as copy:
        for record, digest in zip(records, hashes, strict=True):
            copy.write_row((load_id, origin, record["row"], digest, json.dumps(record, default=str)))
    return len(records)


def record_statements(
    conn: psycopg.Connection, load_id: str, source: str, statements: Iterable[dict[str, Any]]
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw._statements (load_id, source, statement) values (%s, %s, %s)",
            [(load_id, source, json.dumps(s, default=str)) for s in statements],
        )
