"""The review queue and reviewers' decisions (plain psycopg: the Dagster asset and ``finflow review`` call this).

``review.review_queue`` is rebuilt after ``fct_transactions``: re-delivery conflicts (a later file of an account and
period that differs from what landed, without balances that check: ``sources/redeliveries.py``), flagged anomalies
still pending, categories the model was not sure enough of, and (when the reconciliation mart exists) unmatched or
partially matched reconciliation items, each with a reason. ``review.review_decisions`` is append-only: one row per
decision with who and when; the latest decision per item wins. ``fct_transactions`` applies them (a category
decision is applied as ``human``; an anomaly marked not anomalous is no longer flagged), the next categorizer
training learns from the categories and the anomaly model stops excluding dismissed rows from its baselines. A
re-delivery decision settles its conflict in ``raw._superseded`` in the same transaction.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..sources.raw_tables import ensure_raw_schema
from ..sources.redeliveries import reopen, resolve

REVIEW_DDL = """
create schema if not exists review;
create table if not exists review.review_decisions (
    decision_id bigserial primary key,
    item_type text not null constraint review_decisions_item_type_check
        check (item_type in ('category', 'anomaly', 'reconciliation', 'redelivery')),
    item_id text not null,
    transaction_id text,
    decision text not null constraint review_decisions_decision_check
        check (decision in ('approve', 'recategorize', 'not_anomalous', 'keep_earlier', 'link', 'undo')),
    category text,
    reviewer text not null check (reviewer <> ''),
    decided_at timestamptz not null default now(),
    note text not null default '',
    reverses bigint references review.review_decisions (decision_id),
    link_to text,
    constraint decision_fits_item check (
        (item_type = 'category' and decision in ('approve', 'recategorize') and coalesce(category, '') <> '')
        or (item_type = 'anomaly' and decision in ('approve', 'not_anomalous'))
        or (item_type = 'reconciliation' and decision = 'approve')
        or (item_type = 'reconciliation' and decision = 'link' and coalesce(link_to, '') not in ('', item_id))
        or (item_type = 'redelivery' and decision in ('approve', 'keep_earlier'))
        or (decision = 'undo' and reverses is not null)
    )
);

create index if not exists review_decisions_item on review.review_decisions (item_type, item_id, decision_id);
create index if not exists review_decisions_decided_at on review.review_decisions (decided_at);
create table if not exists review.review_queue (
    item_type text not null,
    item_id text not null,
    transaction_id text,
    source text,
    booked_date date,
    amount numeric,
    currency text,
    description text,
    score double precision,
    suggested_category text,
    reason text not null,
    model_version text,
    queued_at timestamptz not null default now(),
    primary key (item_type, item_id)
);
"""
# items come and go every tick: vacuumed after 2% of the queue changed, not autovacuum's default 20% (set once: the
# ALTER would wait for a running autovacuum on every call)
_QUEUE_VACUUM = "autovacuum_vacuum_scale_factor=0.02"

ITEM_TYPES = ("redelivery", "anomaly", "category", "reconciliation")
DECISIONS = ("approve", "recategorize", "not_anomalous", "keep_earlier", "link")
UNDO = "undo"  # an append-only reversal row: ``reverses`` names the decision it takes back
# the queue's order: money that may count twice first, then anomalies, categories, reconciliation
_ORDER = "array['redelivery', 'anomaly', 'category', 'reconciliation']"
RECONCILIATION = "marts.fct_reconciliation"
QUEUE_COLUMNS = (
    "item_type",
    "item_id",
    "transaction_id",
    "source",
    "booked_date",
    "amount",
    "currency",
    "description",
    "score",
    "suggested_category",
    "reason",
    "model_version",
)

# a decision counts unless it is an undo row or an undo row reverses it
EFFECTIVE = (
    "d.decision <> 'undo' and not exists (select 1 from review.review_decisions u where u.reverses = d.decision_id)"
)
# the decisions in force, for every reader (dbt's marts, training): undo rows and what they reverse left out
EFFECTIVE_DECISIONS = "review.effective_decisions"
# an item is decided by a decision on it or, for a reconciliation item, by a link to it from its counterpart
_UNDECIDED = (
    "not exists (select 1 from review.effective_decisions d where d.item_type = {0} and d.item_id = {1})"
    " and not exists (select 1 from review.effective_decisions d where d.link_to = {1} and d.item_type = {0})"
)

_ANOMALIES = """
select 'anomaly', t.transaction_id, t.transaction_id, t.source, t.booked_date, t.amount, t.currency,
       t.description_raw, t.anomaly_score, null::text,
       coalesce(t.anomaly_reasons, 'anomaly score ' || round(t.anomaly_score::numeric, 3)), t.anomaly_scored_by
from marts.fct_transactions t
where t.anomaly_flagged and t.anomaly_review_status = 'pending'
  and not exists (
      select 1 from review.effective_decisions d where d.item_type = 'anomaly' and d.item_id = t.transaction_id
  )
"""

_CATEGORIES = """
select 'category', t.transaction_id, t.transaction_id, t.source, t.booked_date, t.amount, t.currency,
       t.description_raw, t.category_confidence, t.suggested_category,
       format('model confidence %s is below the auto-apply threshold %s; suggested %s',
              round(t.category_confidence::numeric, 3), round(c.auto_apply_threshold::numeric, 3),
              t.suggested_category),
       t.categorized_by
from marts.fct_transactions t
left join ml.transaction_categories c using (transaction_id)
where t.category_needs_review
  and not exists (
      select 1 from review.effective_decisions d where d.item_type = 'category' and d.item_id = t.transaction_id
  )
"""


_REDELIVERIES = """
select distinct on (s.conflict_id)
       'redelivery', s.conflict_id, s.transaction_id, s.source, s.booked_date::date, s.amount::numeric, s.currency,
       s.description, null::float8, null::text, s.reason, null::text
from raw._superseded s
where s.status in ('held', 'disputed')
  and not exists (
      select 1 from review.effective_decisions d where d.item_type = 'redelivery' and d.item_id = s.conflict_id
  )
order by s.conflict_id, s.side desc, s.source_row
"""

# decisions tables made before re-delivery conflicts and undo rows get the column and the wider checks (checked
# first: ALTER TABLE locks the table even when it changes nothing)
_WIDEN_CHECKS = """
alter table review.review_decisions
    drop constraint if exists review_decisions_item_type_check,
    drop constraint if exists review_decisions_decision_check,
    drop constraint if exists decision_fits_item,
    add constraint review_decisions_item_type_check
        check (item_type in ('category', 'anomaly', 'reconciliation', 'redelivery')),
    add constraint review_decisions_decision_check
        check (decision in ('approve', 'recategorize', 'not_anomalous', 'keep_earlier', 'link', 'undo')),
    add constraint decision_fits_item check (
        (item_type = 'category' and decision in ('approve', 'recategorize') and coalesce(category, '') <> '')
        or (item_type = 'anomaly' and decision in ('approve', 'not_anomalous'))
        or (item_type = 'reconciliation' and decision = 'approve')
        or (item_type = 'reconciliation' and decision = 'link' and coalesce(link_to, '') not in ('', item_id))
        or (item_type = 'redelivery' and decision in ('approve', 'keep_earlier'))
        or (decision = 'undo' and reverses is not null)
    )
"""


def ensure_review_tables(conn: psycopg.Connection) -> None:
    conn.execute(REVIEW_DDL)
    narrow = conn.execute(
        "select 1 from pg_constraint where conrelid = 'review.review_decisions'::regclass"
        " and conname = 'decision_fits_item' and pg_get_constraintdef(oid) not like '%%link_to%%'"
    ).fetchone()
    if narrow:
        conn.execute(
            "alter table review.review_decisions add column if not exists reverses bigint"
            " references review.review_decisions (decision_id), add column if not exists link_to text"
        )
        conn.execute(_WIDEN_CHECKS)
    conn.execute("create unique index if not exists review_decisions_reverses on review.review_decisions (reverses)")
    tuned = conn.execute(
        "select coalesce(reloptions @> array[%s], false) from pg_class where oid = 'review.review_queue'::regclass",
        (_QUEUE_VACUUM,),
    ).fetchone()[0]
    if not tuned:
        conn.execute(
            "alter table review.review_queue"
            " set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)"
        )
    if not relation_exists(conn, EFFECTIVE_DECISIONS):  # CREATE OR REPLACE VIEW would lock the table every call
        view = f"create view {EFFECTIVE_DECISIONS} as select d.* from review.review_decisions d where {EFFECTIVE}"  # noqa: S608 - constants only
        conn.execute(view)


def relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def columns_of(conn: psycopg.Connection, schema: str, table: str) -> set[str]:
    """A table's column names (none when it does not exist): tables built elsewhere may lack newer columns."""
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, table),
    ).fetchall()
    return {row[0] for row in rows}


def _reconciliation_query(conn: psycopg.Connection) -> sql.Composable | None:
    """Unmatched and partially matched items of ``marts.fct_reconciliation`` when that mart exists (it is built
    beside this one); only ``status`` is required, the other columns are used when present. An unmatched item
    whose counterpart may still arrive (``within_window``) is not queued yet."""
    if not relation_exists(conn, RECONCILIATION):
        return None
    columns = columns_of(conn, "marts", "fct_reconciliation")
    if "status" not in columns:
        return None

    def col(name: str, fallback: str = "null") -> sql.Composable:
        return sql.SQL("r.{}").format(sql.Identifier(name)) if name in columns else sql.SQL(fallback)

    sides = [c for c in ("left_transaction_id", "right_transaction_id") if c in columns]
    transaction = (
        sql.SQL("coalesce({})").format(sql.SQL(", ").join(col(c) for c in sides)) if sides else sql.SQL("null")
    )
    item_id = col("reconciliation_id", "md5(r::text)")
    waiting = sql.SQL(" and r.within_window is not true") if "within_window" in columns else sql.SQL("")
    detail = [sql.SQL("r.status")]
    if "match_type" in columns:
        detail.append(sql.SQL("r.match_type"))
    reason = sql.SQL("concat_ws(' ', replace({}, '_', ' '), {}, {}, {})").format(
        sql.SQL(" || ' ' || ").join(detail),
        sql.SQL("'item'"),
        sql.SQL("'off by ' || r.amount_difference") if "amount_difference" in columns else sql.SQL("null"),
        sql.SQL("'(' || r.age_days || ' days old)'") if "age_days" in columns else sql.SQL("null"),
    )
    return sql.SQL(
        """
        select 'reconciliation', {item_id}::text, t.transaction_id, t.source, t.booked_date,
               coalesce(t.amount, {expected}), t.currency, t.description_raw, null::float8, null::text,
               {reason}, null::text
        from {table} r
        left join marts.fct_transactions t on t.transaction_id = {transaction}
        where (r.status = 'unmatched'{waiting} or r.status = 'partially_matched')
          and {undecided}
        """
    ).format(
        item_id=item_id,
        expected=col("expected_amount"),
        reason=reason,
        table=sql.SQL(RECONCILIATION),
        transaction=transaction,
        waiting=waiting,
        undecided=sql.SQL(_UNDECIDED).format(sql.Literal("reconciliation"), item_id),
    )


def rebuild_queue(conn: psycopg.Connection) -> dict[str, int]:
    """Bring the queue to what is pending now (one transaction): items no longer pending leave, new ones come in,
    changed ones are updated, and the rest are not written at all (a tick changes a few dozen of thousands of
    items; rewriting them all left as many dead rows for autovacuum every tick). An item keeps the ``queued_at``
    of when it first came in. Returns the count per item type."""
    ensure_review_tables(conn)
    ensure_raw_schema(conn)  # raw._superseded: re-delivery conflicts, recorded when files land
    parts: list[sql.Composable] = [
        sql.SQL("({})").format(sql.SQL(_REDELIVERIES)),
        sql.SQL(_ANOMALIES),
        sql.SQL(_CATEGORIES),
    ]
    reconciliation = _reconciliation_query(conn)
    if reconciliation is not None:
        parts.append(reconciliation)
    columns = sql.SQL(", ").join(map(sql.Identifier, QUEUE_COLUMNS))
    values = [c for c in QUEUE_COLUMNS if c not in ("item_type", "item_id")]
    with conn.transaction():
        conn.execute("create temp table if not exists pending_queue (like review.review_queue including defaults)")
        conn.execute("truncate pending_queue")
        conn.execute(sql.SQL("insert into pending_queue ({}) {}").format(columns, sql.SQL(" union all ").join(parts)))
        conn.execute(
            "delete from review.review_queue q where not exists"
            " (select from pending_queue p where p.item_type = q.item_type and p.item_id = q.item_id)"
        )
        conn.execute(
            sql.SQL(
                "insert into review.review_queue ({columns}) select {columns} from pending_queue"
                " on conflict (item_type, item_id) do update set ({values}) = ({new})"
                " where ({old}) is distinct from ({new})"
            ).format(
                columns=columns,
                values=sql.SQL(", ").join(map(sql.Identifier, values)),
                new=sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in values),
                old=sql.SQL(", ").join(sql.SQL("review_queue.{}").format(sql.Identifier(c)) for c in values),
            )
        )
        conn.execute("truncate pending_queue")
    counts = dict(conn.execute("select item_type, count(*) from review.review_queue group by 1").fetchall())
    return {item: int(counts.get(item, 0)) for item in ITEM_TYPES}


def list_queue(conn: psycopg.Connection, item_type: str | None = None, limit: int = 50) -> list[dict]:
    """Pending items: re-delivery conflicts, then the highest anomaly scores, the least confident categories and
    the oldest reconciliation items; items decided since the queue was built are left out."""
    ensure_review_tables(conn)
    where = sql.SQL("where {}").format(sql.SQL(_UNDECIDED).format(sql.SQL("q.item_type"), sql.SQL("q.item_id")))
    if item_type:
        where = sql.SQL("{} and q.item_type = {}").format(where, sql.Literal(item_type))
    query = sql.SQL(
        """
        select {columns} from review.review_queue q {where}
        order by array_position({order}, q.item_type),
                 case when q.item_type = 'anomaly' then -q.score else q.score end nulls last, q.booked_date, q.item_id
        limit {limit}
        """
    ).format(
        columns=sql.SQL(", ").join(sql.SQL("q.{}").format(sql.Identifier(c)) for c in QUEUE_COLUMNS),
        where=where,
        order=sql.SQL(_ORDER),
        limit=sql.Literal(int(limit)),
    )
    with conn.cursor() as cursor:
        cursor.execute(query)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# the queue page's sort keys (whitelisted: a request names one of these, never SQL)
SORTS = {
    "queue": sql.SQL(
        "array_position(" + _ORDER + ", q.item_type), "
        "case when q.item_type = 'anomaly' then -q.score else q.score end nulls last, q.booked_date, q.item_id"
    ),
    "score": sql.SQL("q.score desc nulls last, q.item_id"),
    "amount": sql.SQL("abs(q.amount) desc nulls last, q.item_id"),
    "date": sql.SQL("q.booked_date nulls last, q.item_id"),
    "newest": sql.SQL("q.booked_date desc nulls last, q.item_id"),
}


def search_queue(
    conn: psycopg.Connection,
    *,
    item_type: str | None = None,
    item_id: str | None = None,
    source: str | None = None,
    text: str | None = None,
    account: str | None = None,
    date_from: object = None,
    date_to: object = None,
    amount_min: float | None = None,
    amount_max: float | None = None,
    sort: str = "queue",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict], int, dict[str, int]]:
    """A page of pending items with filters (all bound as parameters) and the transaction's account, base amount
    and, for a category item, the model's top categories with their probabilities; returns (rows, rows matching
    the filters, pending items per type)."""
    ensure_review_tables(conn)
    has_facts = relation_exists(conn, "marts.fct_transactions")
    fact_columns = columns_of(conn, "marts", "fct_transactions") if has_facts else set()
    extra = {name: (f"t.{name}" if name in fact_columns else "null") for name in ("account_id", "amount_base")}
    join = "left join marts.fct_transactions t on t.transaction_id = q.transaction_id" if has_facts else ""
    conditions = [sql.SQL(_UNDECIDED).format(sql.SQL("q.item_type"), sql.SQL("q.item_id"))]
    params: list[object] = []
    filters = (
        ("q.item_type = %s", item_type),
        ("q.item_id = %s", item_id),
        ("q.source = %s", source),
        ("q.description ilike '%%' || %s || '%%'", text),
        (f"{extra['account_id']} ilike '%%' || %s", account),
        ("q.booked_date >= %s", date_from),
        ("q.booked_date <= %s", date_to),
        ("abs(q.amount) >= %s", amount_min),
        ("abs(q.amount) <= %s", amount_max),
    )
    for condition, value in filters:
        if value not in (None, ""):
            conditions.append(sql.SQL(condition))
            params.append(value)
    where = sql.SQL(" and ").join(conditions)
    base = sql.SQL("from review.review_queue q {join} where {where}").format(join=sql.SQL(join), where=where)
    columns = sql.SQL(", ").join(
        [sql.SQL("q.{}").format(sql.Identifier(c)) for c in QUEUE_COLUMNS]
        + [sql.SQL(f"{expr} as {name}") for name, expr in extra.items()]
        + [sql.SQL("current_date - q.booked_date as age_days")]
    )
    query = sql.SQL("select {columns} {base} order by {order} limit %s offset %s").format(
        columns=columns, base=base, order=SORTS.get(sort, SORTS["queue"])
    )
    with conn.cursor() as cursor:
        cursor.execute(query, [*params, int(limit), int(offset)])
        names = [d.name for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    _add_top_categories(conn, rows)
    total = conn.execute(sql.SQL("select count(*) {base}").format(base=base), params).fetchone()[0]
    counts = dict(
        conn.execute(
            sql.SQL("select q.item_type, count(*) from review.review_queue q where {} group by 1").format(
                sql.SQL(_UNDECIDED).format(sql.SQL("q.item_type"), sql.SQL("q.item_id"))
            )
        ).fetchall()
    )
    return rows, int(total), {item: int(counts.get(item, 0)) for item in ITEM_TYPES}


def _add_top_categories(conn: psycopg.Connection, rows: list[dict]) -> None:
    """The model's top categories for the page's category items, looked up by key (joined in the page's query,
    the planner picked a plan twenty times slower while the decisions' statistics lagged a bulk decision)."""
    wanted = [row["transaction_id"] for row in rows if row["item_type"] == "category" and row["transaction_id"]]
    found = {}
    if wanted and "top_categories" in columns_of(conn, "ml", "transaction_categories"):
        found = dict(
            conn.execute(
                "select transaction_id, top_categories from ml.transaction_categories where transaction_id = any(%s)",
                (wanted,),
            ).fetchall()
        )
    for row in rows:
        row["top_categories"] = found.get(row["transaction_id"]) if row["item_type"] == "category" else None


class DecisionError(ValueError):
    """A decision that does not fit its item (unknown item, wrong decision for its type, missing category)."""


_DECISION_COLUMNS = (
    "decision_id",
    "item_type",
    "item_id",
    "transaction_id",
    "decision",
    "category",
    "reviewer",
    "decided_at",
    "note",
    "reverses",
    "link_to",
)
_RETURNING = sql.SQL(", ").join(map(sql.Identifier, _DECISION_COLUMNS))


def record_decision(
    conn: psycopg.Connection,
    item_id: str,
    decision: str,
    reviewer: str,
    *,
    item_type: str | None = None,
    category: str | None = None,
    note: str = "",
    link_to: str | None = None,
) -> dict:
    """Record one decision and return it. ``item_type`` defaults to the item's type in the queue (or ``category``
    for a transaction that is not queued: any transaction's category can be corrected). ``approve`` on a category
    records the suggested category it approves; ``link`` joins an unmatched reconciliation item (with its left side) to
    the unmatched item ``link_to`` (a right side only): ``fct_reconciliation`` shows them as one matched item."""
    ensure_review_tables(conn)
    with conn.transaction():  # the decision and what it settles commit together, or neither does
        return _record(
            conn, item_id, decision, reviewer, item_type=item_type, category=category, note=note, link_to=link_to
        )


def record_decisions(
    conn: psycopg.Connection,
    items: list[tuple[str | None, str]],
    decision: str,
    reviewer: str,
    *,
    category: str | None = None,
    note: str = "",
) -> list[dict]:
    """One decision on many ``(item_type, item_id)`` items (a reviewer's bulk action) in one transaction: every
    one is recorded or, when one does not fit, none is (the error names it)."""
    ensure_review_tables(conn)
    with conn.transaction():
        return [
            _record(conn, item_id, decision, reviewer, item_type=item_type, category=category, note=note)
            for item_type, item_id in items
        ]


def undo_last(conn: psycopg.Connection, reviewer: str, note: str = "") -> dict:
    """Take back ``reviewer``'s latest decision still in force (see ``undo_decision``)."""
    ensure_review_tables(conn)
    with conn.transaction():
        last = conn.execute(
            sql.SQL(
                "select decision_id from review.review_decisions d"
                " where d.reviewer = %s and {} order by d.decision_id desc limit 1"
            ).format(sql.SQL(EFFECTIVE)),
            (reviewer,),
        ).fetchone()
        if last is None:
            raise DecisionError(f"{reviewer} has no decision to undo")
        return _undo(conn, last[0], reviewer, note)


def undo_decision(conn: psycopg.Connection, decision_id: int, reviewer: str, note: str = "") -> dict:
    """Take back one decision (e.g. unlink a manual reconciliation match) by appending an ``undo`` row that reverses
    it: the table stays append-only, the item returns to the queue and the next run stops applying it. Undoing a
    re-delivery decision reopens its conflict in ``raw._superseded`` in the same transaction (the later lines held,
    the earlier ones counting, as before the decision)."""
    ensure_review_tables(conn)
    with conn.transaction():
        return _undo(conn, decision_id, reviewer, note)


def _undo(conn: psycopg.Connection, decision_id: int, reviewer: str, note: str) -> dict:
    target = conn.execute(
        sql.SQL(
            "select decision_id, item_type, item_id, transaction_id from review.review_decisions d"
            " where d.decision_id = %s and {} for update of d"
        ).format(sql.SQL(EFFECTIVE)),
        (decision_id,),
    ).fetchone()
    if target is None:
        raise DecisionError(f"decision {decision_id} is not in force (unknown, an undo, or already undone)")
    if target[1] == "redelivery" and not reopen(conn, target[2]):
        raise DecisionError(
            f"decision {decision_id} settled re-delivery conflict {target[2]}, whose lines a later delivery has"
            " taken over since: there is nothing to reopen"
        )
    try:
        row = conn.execute(
            sql.SQL(
                "insert into review.review_decisions (item_type, item_id, transaction_id, decision, reviewer, note,"
                " reverses) values (%s, %s, %s, 'undo', %s, %s, %s) returning {}"
            ).format(_RETURNING),
            (target[1], target[2], target[3], reviewer, note, target[0]),
        ).fetchone()
    except psycopg.errors.UniqueViolation as error:  # undone at the same moment by someone else
        raise DecisionError(f"decision {decision_id} was already undone") from error
    return dict(zip(_DECISION_COLUMNS, row, strict=True))


def _check_link(conn: psycopg.Connection, item_id: str, link_to: str | None) -> None:
    """A link joins an unmatched item with a left side to an unmatched item with only a right side."""
    if not link_to:
        raise DecisionError("a link needs the counterpart item (link_to)")
    if not relation_exists(conn, RECONCILIATION):
        raise DecisionError(f"{RECONCILIATION} does not exist yet")
    sides = dict(
        conn.execute(
            "select reconciliation_id, left_transaction_id is not null from marts.fct_reconciliation"
            " where reconciliation_id in (%s, %s) and status = 'unmatched'",
            (item_id, link_to),
        ).fetchall()
    )
    if sides.get(item_id) is not True or sides.get(link_to) is not False:
        raise DecisionError(
            f"{item_id} must be an unmatched item with its left side and {link_to} an unmatched item with only a"
            " right side"
        )


def reconciliation_candidates(conn: psycopg.Connection, reconciliation_id: str, limit: int = 10) -> list[dict]:
    """For an unmatched reconciliation item: the unmatched items on the other side in the same currency, closest
    in amount then in date first, with their differences (``link_to`` candidates)."""
    if not relation_exists(conn, RECONCILIATION):
        return []
    with conn.cursor() as cursor:
        cursor.execute(
            """
            with item as (
                select * from marts.fct_reconciliation where reconciliation_id = %s and status = 'unmatched'
            ),
            candidates as (
            select c.reconciliation_id, c.match_type,
                   coalesce(c.right_transaction_id, c.left_transaction_id) as transaction_id,
                   coalesce(c.right_source, c.left_source) as source,
                   coalesce(c.right_booked_date, c.left_booked_date) as booked_date,
                   coalesce(c.right_amount, c.left_amount) as amount, c.currency,
                   coalesce(c.right_description, c.left_description) as description,
                   case when i.left_transaction_id is not null then c.right_amount - i.expected_amount
                        else i.right_amount - c.expected_amount end as amount_difference,
                   case when i.left_transaction_id is not null then c.right_booked_date - i.left_booked_date
                        else i.right_booked_date - c.left_booked_date end as days_apart,
                   case when i.left_transaction_id is null then c.reconciliation_id else i.reconciliation_id end
                       as left_item,
                   case when i.left_transaction_id is null then i.reconciliation_id else c.reconciliation_id end
                       as right_item
            from item i
            join marts.fct_reconciliation c
              on c.status = 'unmatched' and c.currency is not distinct from i.currency
             and c.reconciliation_id <> i.reconciliation_id
             and (c.left_transaction_id is null) = (i.left_transaction_id is not null)
            )
            select * from candidates
            order by abs(amount_difference) nulls last, abs(days_apart) nulls last, reconciliation_id
            limit %s
            """,
            (reconciliation_id, int(limit)),
        )
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _record(
    conn: psycopg.Connection,
    item_id: str,
    decision: str,
    reviewer: str,
    *,
    item_type: str | None,
    category: str | None,
    note: str,
    link_to: str | None = None,
) -> dict:
    if decision not in DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    if not reviewer.strip():
        raise DecisionError("a decision needs a reviewer (--by)")
    queued = conn.execute(
        sql.SQL(
            """
            select item_type, transaction_id, suggested_category from review.review_queue
            where item_id = %s and item_type = coalesce(%s, item_type)
            order by array_position({order}, item_type)
            """
        ).format(order=sql.SQL(_ORDER)),
        (item_id, item_type),
    ).fetchall()
    if item_type is None:
        if decision == "not_anomalous":
            item_type = "anomaly"
        elif decision == "keep_earlier":
            item_type = "redelivery"
        elif decision == "recategorize":
            item_type = "category"
        elif decision == "link":
            item_type = "reconciliation"
        elif queued:
            item_type = queued[0][0]
        else:
            raise DecisionError(f"{item_id} is not in the review queue")
        queued = [row for row in queued if row[0] == item_type]
    transaction_id = queued[0][1] if queued else None
    if item_type in ("category", "anomaly") and transaction_id is None:
        found = conn.execute(
            "select transaction_id from marts.fct_transactions where transaction_id = %s", (item_id,)
        ).fetchone()
        if found is None:
            raise DecisionError(f"no transaction {item_id} in marts.fct_transactions")
        transaction_id = item_id
    if decision == "approve" and item_type == "category":
        category = category or (queued[0][2] if queued else None)
        if not category:
            raise DecisionError(f"{item_id} has no suggested category to approve; use --category")
    if decision == "recategorize" and not (category or "").strip():
        raise DecisionError("recategorize needs the category (--category)")
    if decision == "link":
        _check_link(conn, item_id, link_to)
    try:
        with conn.transaction():
            row = conn.execute(
                sql.SQL(
                    "insert into review.review_decisions"
                    " (item_type, item_id, transaction_id, decision, category, reviewer, note, link_to)"
                    " values (%s, %s, %s, %s, %s, %s, %s, %s) returning {}"
                ).format(_RETURNING),
                (item_type, item_id, transaction_id, decision, category, reviewer, note, link_to),
            ).fetchone()
            if item_type == "redelivery" and not resolve(conn, item_id, accept_later=decision == "approve"):
                raise DecisionError(f"{item_id} is not an open re-delivery conflict")
    except psycopg.errors.CheckViolation as error:
        raise DecisionError(f"{decision} does not apply to a {item_type} item") from error
    return dict(zip(_DECISION_COLUMNS, row, strict=True))


def decisions_since(conn: psycopg.Connection, decision_id: int = 0) -> tuple[int, int, int]:
    """(latest decision id, decisions after ``decision_id``, category or anomaly decisions among them)."""
    if not relation_exists(conn, "review.review_decisions"):
        return 0, 0, 0
    row = conn.execute(
        """
        select coalesce(max(decision_id), 0), count(*) filter (where decision_id > %s),
               count(*) filter (where decision_id > %s and item_type in ('category', 'anomaly'))
        from review.review_decisions
        """,
        (decision_id, decision_id),
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
