"""Corrected re-deliveries: a later file for the same account and period that differs from what landed.

Rows with the source's own id are matched by that id downstream. Rows without one (most bank CSV exports) are
matched by content, so a re-exported statement in which one amount changed (4.03 → 400.03) would otherwise keep
both lines as valid money. When a delivery lands, its rows are aligned, per account, with each earlier delivery's
rows for the same period (by row position and neighbours: a difference must sit between or beside lines both
deliveries share, so an export that merely starts later in the day removes nothing). Where earlier lines were
changed or removed:

* the later delivery's balances check (opening + lines = closing on a statement, or an unbroken running balance):
  it supersedes them, and the earlier lines stop counting (blocking rule ``superseded_by_redelivery``);
* they do not check, or the file has no balances: the conflict goes to the review queue with both versions; the
  later lines are held (blocking rule ``redelivery_conflict``) and the earlier ones stay until a reviewer decides.

Never both as valid money. Lines a later delivery only adds are new transactions, as any new line is.
``raw._superseded`` (raw_tables.py) keeps the outcome per row (its transaction id, the one staging computes), and dbt's
validation reads it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any

import psycopg
from psycopg import sql

from .raw_tables import RAW_SCHEMA, ensure_raw_schema, identity_key


@dataclass
class Difference:
    """One later delivery against one earlier one, for one account."""

    earlier_load: str
    removed: list[dict[str, Any]]  # earlier rows (load_id, source_row, row_hash, record) changed or left out
    added: list[dict[str, Any]]  # later records that replace them


def transaction_id(source: str, row_hash: str) -> str:
    """The staged row's ``transaction_id`` (macros/stage_transactions.sql), computed the same way."""
    return hashlib.md5(f"{source}:{row_hash}".encode()).hexdigest()  # noqa: S324 - an id, not a secret


def record_redelivery(
    conn: psycopg.Connection,
    source: str,
    table: str,
    load_id: str,
    records: Sequence[dict[str, Any]],
    hashes: Sequence[str],
    statements: Sequence[dict[str, Any]],
) -> list[str]:
    """Compare a delivery being landed (inside its transaction) with what landed before; record what it supersedes
    or conflicts with in ``raw._superseded``. Returns one journal warning per difference found."""
    without_id = [(r, h) for r, h in zip(records, hashes, strict=True) if r.get("external_id") is None]
    if not without_id:
        return []
    by_account: dict[Any, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for record, digest in without_id:
        by_account[record.get("account")].append((record, digest))
    warnings = []
    for account, rows in by_account.items():
        rows.sort(key=lambda pair: pair[0]["row"])
        dates = sorted(str(r["booked_date"]) for r, _ in rows if r.get("booked_date"))
        if not dates:
            continue
        for difference in _differences(conn, source, table, load_id, account, rows, dates[0], dates[-1]):
            balances = _balances_check([r for r, _ in rows], statements, account)
            warnings.append(_record(conn, source, load_id, account, difference, balances, hashes_of(rows)))
    return warnings


def hashes_of(rows: Sequence[tuple[dict[str, Any], str]]) -> dict[int, str]:
    return {record["row"]: digest for record, digest in rows}


def _differences(
    conn: psycopg.Connection,
    source: str,
    table: str,
    load_id: str,
    account: Any,
    rows: list[tuple[dict[str, Any], str]],
    first_day: str,
    last_day: str,
) -> list[Difference]:
    earlier = conn.execute(
        sql.SQL(
            """
            select raw.load_id::text, raw.source_row, raw.row_hash, raw.record
            from {table} as raw
            inner join raw._loads as loads on loads.load_id = raw.load_id
            where raw.record ->> 'external_id' is null
              and raw.record ->> 'account' is not distinct from %s
              and raw.record ->> 'booked_date' between %s and %s
              and raw.load_id <> %s
              and not exists (
                  select from raw._superseded as s
                  where s.transaction_id = md5(%s || ':' || raw.row_hash) and s.status in ('superseded', 'held')
              )
            order by loads.finished_at, raw.load_id, raw.source_row
            """
        ).format(table=sql.Identifier(RAW_SCHEMA, table)),
        (account, first_day, last_day, load_id, source),
    ).fetchall()
    if not earlier:
        return []
    later_keys = [identity_key(record) for record, _ in rows]
    available = Counter(later_keys)
    by_load: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for load, source_row, row_hash, record in earlier:
        by_load[load].append({"load_id": load, "source_row": source_row, "row_hash": row_hash, "record": record})
    found = []
    for load, old_rows in by_load.items():
        old_keys = [identity_key(row["record"]) for row in old_rows]
        if not Counter(old_keys) - available:
            continue  # every earlier line is still there: the later delivery only adds (the usual case)
        removed, added = _align(old_keys, later_keys)
        moved = Counter(old_keys[i] for i in removed) & Counter(later_keys[j] for j in added)
        removed = _without(removed, old_keys, moved)
        added = _without(added, later_keys, moved)
        if removed:
            found.append(Difference(load, [old_rows[i] for i in removed], [rows[j][0] for j in added]))
    return found


def _without(indexes: list[int], keys: list[str], moved: Counter[str]) -> list[int]:
    """The indexes whose line is not one that merely moved (present on both sides of the difference)."""
    left = Counter(moved)
    kept = []
    for i in indexes:
        if left[keys[i]] > 0:
            left[keys[i]] -= 1
        else:
            kept.append(i)
    return kept


def _align(old: list[str], new: list[str]) -> tuple[list[int], list[int]]:
    """Indexes of earlier lines changed or removed, and of the later lines standing in their place.

    Only differences anchored by shared lines count: before the first shared line an earlier line is outside the
    later delivery's coverage unless a later line takes its place right there (a corrected first line); the same
    after the last shared line. With no shared line at all the deliveries are not the same statement."""
    opcodes = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    equal = [i for i, op in enumerate(opcodes) if op[0] == "equal"]
    if not equal:
        return [], []
    removed: list[int] = []
    added: list[int] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            continue
        if equal[0] < index < equal[-1]:  # between shared lines: every difference counts
            removed += range(i1, i2)
            added += range(j1, j2)
        elif tag == "replace":  # at an edge: the lines nearest the shared block pair up
            pairs = min(i2 - i1, j2 - j1)
            if index < equal[0]:
                removed += range(i2 - pairs, i2)
                added += range(j2 - pairs, j2)
            else:
                removed += range(i1, i1 + pairs)
                added += range(j1, j1 + pairs)
    return removed, added


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None and str(value).strip() != "" else None
    except InvalidOperation:
        return None


def _balances_check(records: list[dict[str, Any]], statements: Sequence[dict[str, Any]], account: Any) -> bool | None:
    """Whether the later delivery's balances add up for this account (None: it has none to check)."""
    own = [s for s in statements if s.get("account") == account or (account is None and len(statements) == 1)]
    checked = False
    for statement in own:
        opening, closing = _decimal(statement.get("opening_balance")), _decimal(statement.get("closing_balance"))
        if opening is None or closing is None:
            continue
        lines = [r for r in records if r.get("statement_id") == statement.get("statement_id")] or records
        amounts = [_decimal(r.get("amount")) for r in lines]
        if any(a is None for a in amounts) or opening + sum(amounts) != closing:  # type: ignore[arg-type]
            return False
        checked = True
    if checked:
        return True
    balances = [_decimal(r.get("balance_after")) for r in records]
    amounts = [_decimal(r.get("amount")) for r in records]
    if len(records) < 2 or any(b is None for b in balances) or any(a is None for a in amounts):
        return None
    # oldest first (each balance = the one before + this amount), or newest first (as many banks export)
    ascending = all(balances[i - 1] + amounts[i] == balances[i] for i in range(1, len(records)))  # type: ignore[operator]
    descending = all(balances[i] + amounts[i - 1] == balances[i - 1] for i in range(1, len(records)))  # type: ignore[operator]
    return ascending or descending


def _record(
    conn: psycopg.Connection,
    source: str,
    load_id: str,
    account: Any,
    difference: Difference,
    balances: bool | None,
    later_hashes: dict[int, str],
) -> str:
    conflict_id = str(uuid.uuid4())
    changed = ", ".join(
        f"row {row['source_row']} {row['record'].get('amount')} {row['record'].get('description') or ''}".strip()
        for row in difference.removed[:5]
    )
    replaced_by = ", ".join(f"row {r['row']} {r.get('amount')}" for r in difference.added[:5]) or "nothing"
    if balances:
        verdict, earlier_status, later_status = "its balances check, so it supersedes them", "superseded", None
    else:
        why = "its balances do not add up" if balances is False else "it has no balances to check"
        verdict = f"{why}: held for review with both versions"
        earlier_status, later_status = "disputed", "held"
    reason = (
        f"{len(difference.removed)} earlier line(s) of account {account or '(default)'} changed or left out by a"
        f" later delivery ({changed} → {replaced_by}); {verdict}"
    )
    rows = [
        (row["row_hash"], "earlier", earlier_status, row["load_id"], row["source_row"], row["record"])
        for row in difference.removed
    ]
    if later_status:
        rows += [(later_hashes[r["row"]], "later", later_status, load_id, r["row"], r) for r in difference.added]
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into raw._superseded (transaction_id, source, conflict_id, side, status, load_id, source_row,
                superseding_load_id, account, booked_date, amount, currency, description, reason)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (transaction_id) do update set
                conflict_id = excluded.conflict_id, side = excluded.side, status = excluded.status,
                superseding_load_id = excluded.superseding_load_id, reason = excluded.reason, recorded_at = now()
            """,
            [
                (
                    transaction_id(source, row_hash),
                    source,
                    conflict_id,
                    side,
                    status,
                    row_load,
                    source_row,
                    load_id,
                    account,
                    record.get("booked_date"),
                    record.get("amount"),
                    record.get("currency"),
                    record.get("description"),
                    reason,
                )
                for row_hash, side, status, row_load, source_row, record in rows
            ],
        )
    return reason


def resolve(conn: psycopg.Connection, conflict_id: str, accept_later: bool) -> int:
    """Apply a reviewer's decision on a conflict: the later delivery's lines replace the earlier ones, or the
    earlier ones stay and the later ones never count. Returns the rows changed (0: no such open conflict)."""
    ensure_raw_schema(conn)
    result = conn.execute(
        """
        update raw._superseded set
            status = case
                when side = 'earlier' then case when %(accept)s then 'superseded' else 'kept' end
                else case when %(accept)s then 'released' else 'superseded' end
            end,
            recorded_at = now()
        where conflict_id = %(conflict)s and status in ('held', 'disputed')
        """,
        {"accept": accept_later, "conflict": conflict_id},
    )
    return result.rowcount


def reopen(conn: psycopg.Connection, conflict_id: str) -> int:
    """Take a reviewer's decision on a conflict back (its undo): the earlier lines count again while the conflict
    waits (``disputed``), the later ones are held again; ``recorded_at`` moves so the next run re-validates them.
    Returns the rows changed (0: no decided conflict with this id, e.g. a later delivery has taken its lines over)."""
    ensure_raw_schema(conn)
    result = conn.execute(
        """
        update raw._superseded set
            status = case when side = 'earlier' then 'disputed' else 'held' end,
            recorded_at = now()
        where conflict_id = %(conflict)s
          and ((side = 'earlier' and status in ('superseded', 'kept'))
               or (side = 'later' and status in ('released', 'superseded')))
        """,
        {"conflict": conflict_id},
    )
    return result.rowcount
