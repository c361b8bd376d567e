"""Where each API source's incremental pull stands: ``raw._watermarks``, one row per source.

``watermark`` is the source's high-water mark in data time (the newest ``created`` / ``updated_at`` landed, or the
end of the last date window pulled completely); ``cursor`` is the state of a pagination in progress (JSON text),
null between pulls; ``updated_at`` is when the row last changed (a successful pull touches it even when nothing
new arrived). The row is written inside the transaction that lands a page's rows, so it never runs ahead of them
and a restart resumes where the last committed page left off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_DDL = """
create schema if not exists raw;
create table if not exists raw._watermarks (
    source text primary key,
    watermark timestamptz,
    cursor text,
    updated_at timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class Watermark:
    source: str
    watermark: datetime | None = None
    cursor: str | None = None
    updated_at: datetime | None = None


def ensure_watermarks(conn: psycopg.Connection) -> None:
    conn.execute(_DDL)


def get_watermark(conn: psycopg.Connection, source: str) -> Watermark:
    row = conn.execute(
        "select watermark, cursor, updated_at from raw._watermarks where source = %s", (source,)
    ).fetchone()
    return Watermark(source) if row is None else Watermark(source, row[0], row[1], row[2])


def set_watermark(conn: psycopg.Connection, source: str, watermark: datetime | None, cursor: str | None) -> None:
    """Upsert the source's position; call it inside the transaction that lands the rows it accounts for."""
    conn.execute(
        "insert into raw._watermarks (source, watermark, cursor, updated_at) values (%s, %s, %s, now())"
        " on conflict (source) do update"
        " set watermark = excluded.watermark, cursor = excluded.cursor, updated_at = excluded.updated_at",
        (source, watermark, cursor),
    )


def reset_watermark(conn: psycopg.Connection, source: str) -> None:
    """Forget a source's position (the next pull starts from its initial lookback; landed rows stay skipped)."""
    conn.execute("delete from raw._watermarks where source = %s", (source,))
