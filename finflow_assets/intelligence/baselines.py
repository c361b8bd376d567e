"""The anomaly model's baselines kept as state, so a tick reads its new rows and their keys' baselines instead of
the whole 60-day look-back.

``ml.anomaly_baseline_rows`` holds, for every kept and scored transaction of the look-back (plus a margin before
it), what the signals group by: the detector's inputs, the counterparty key and its family (first word), the
category in force, whether it is flagged, and the derived values the wide baselines aggregate (``ml.anomaly``'s
``baseline_rows``). A tick then

1. brings the state up to date with what changed since the last tick, for the rows touched alone: transactions
   revalidated (a late correction, a redelivery superseding a row, a duplicate found), recategorized by a rule
   change, or decided by a reviewer (a category, a dismissed flag) are taken out and read again;
2. adds the batch (unflagged, as the full recomputation counts it) and computes its counterparty keys;
3. reads the wide baselines (per source, source and category, category; the booking days) as SQL aggregates
   over the state, and the history of the batch's payee families alone;
4. scores, and marks the flagged rows.

Counterparty keys depend on which words appear in more than one distinct description of the look-back (see
``counterparty_keys``), so when a change flips that for a word (a second description with it arrives, or the last
other one leaves the window), the rows of the descriptions with that word get their keys again: the keys stay
those a full recomputation would give. ``ml.anomaly_description_words`` indexes the words of the descriptions of
rows without a counterparty. A late row older than the state's margin, a backlog or a missing state fall back to
the full recomputation, which rebuilds the state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from .scores import ANOMALY_TEXT_COLUMNS, KEPT, LOOKBACK_DAYS, VALIDATED, anomaly_inputs_query, read_frame

STATE = "ml.anomaly_baseline_rows"
WORDS = "ml.anomaly_description_words"
MARKS = "ml.anomaly_baseline_marks"
MARGIN_DAYS = 14  # rows kept before the look-back, so a late row up to this many days older needs no rebuild
RULES_TABLE = "intermediate.int_transactions__rule_categorized"

STATE_DDL = f"""
create table if not exists {STATE} (
    transaction_id text primary key,
    booked_date date not null,
    source text not null,
    category text not null,
    direction smallint not null,
    abs_base double precision not null,
    weekend boolean not null,
    hour smallint,
    is_round boolean not null,
    flagged boolean not null,
    party text not null,
    family text not null,
    clean_description text not null default '',
    amount double precision,
    amount_base double precision,
    currency text,
    description text,
    counterparty text,
    instrument text,
    occurred_at text
) with (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
create index if not exists anomaly_baseline_rows_family on {STATE} (family, booked_date);
create index if not exists anomaly_baseline_rows_day on {STATE} (booked_date);
create index if not exists anomaly_baseline_rows_description on {STATE} (clean_description)
    where clean_description <> '';
create table if not exists {WORDS} (word text, description text, primary key (word, description));
create table if not exists {MARKS} (
    id int primary key default 1 check (id = 1),
    covered_from date not null,  -- the state holds every kept scored row booked on or after this day
    window_day date not null,    -- the look-back's first day the counterparty keys are right for
    validated_at timestamptz,
    categorized_at timestamptz,
    decision_id bigint
);
"""

STATE_COLUMNS = (
    "transaction_id",
    "booked_date",
    "source",
    "category",
    "direction",
    "abs_base",
    "weekend",
    "hour",
    "is_round",
    "flagged",
    "party",
    "family",
    "clean_description",
    "amount",
    "amount_base",
    "currency",
    "description",
    "counterparty",
    "instrument",
    "occurred_at",
)
INPUT_COLUMNS = (
    "transaction_id",
    "source",
    "booked_date",
    "amount",
    "amount_base",
    "currency",
    "description",
    "counterparty",
    "category",
    "instrument",
    "occurred_at",
)


@dataclass(frozen=True)
class Marks:
    covered_from: date
    window_day: date
    validated_at: object
    categorized_at: object
    decision_id: int | None


def ensure_state(conn: psycopg.Connection) -> None:
    conn.execute(STATE_DDL)


def marks(conn: psycopg.Connection) -> Marks | None:
    row = conn.execute(
        f"select covered_from, window_day, validated_at, categorized_at, decision_id from {MARKS}"  # noqa: S608
    ).fetchone()
    return Marks(*row) if row else None


def window_day(batch_days: Iterable[date]) -> date:
    """The look-back's first day for a batch: ``LOOKBACK_DAYS`` before its oldest booking day (as the full read)."""
    return min(batch_days) - timedelta(days=LOOKBACK_DAYS)


def _flags(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].astype(str).str.lower().isin(("t", "true", "1")).to_numpy()


def inputs_by_id(conn: psycopg.Connection, ids: list[str], scored_only: bool) -> pd.DataFrame:
    """The detector's inputs of the given kept transactions (``scored_only``: those already scored)."""
    where = sql.SQL("t.transaction_id = any({})").format(sql.Literal(ids))
    if scored_only:
        where = sql.SQL(
            "{} and exists (select from ml.transaction_anomalies s where s.transaction_id = t.transaction_id)"
        ).format(where)
    frame = read_frame(conn, anomaly_inputs_query(where, sql.SQL("true")), text_columns=ANOMALY_TEXT_COLUMNS)
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    from ml.anomaly import anomaly_input

    out = anomaly_input(frame)
    out["is_flagged"] = _flags(frame, "is_flagged") if "is_flagged" in frame else False
    out["occurred_text"] = frame["occurred_at"].to_numpy() if len(frame) else np.array([], dtype=object)
    return out


# --------------------------------------------------------------------------------------------- keys and words


def _words_of(descriptions: Iterable[str]) -> set[str]:
    from ml.anomaly import description_words

    found: set[str] = set()
    for description in descriptions:
        if description:
            found |= description_words(description)
    return found


def _word_counts(conn: psycopg.Connection, words: Iterable[str], day: date) -> dict[str, int]:
    """In how many distinct descriptions of the state's rows from ``day`` on each word appears, counted up to 2
    (all that matters: a word names a payee when it appears in more than one)."""
    words = sorted(set(words))
    if not words:
        return {}
    rows = conn.execute(
        f"""
        select q.word, (
            select count(*) from (
                select from {WORDS} w
                where w.word = q.word
                  and exists (select from {STATE} s where s.clean_description = w.description
                              and s.booked_date >= %(day)s)
                limit 2
            ) two
        )
        from unnest(%(words)s::text[]) as q(word)
        """,  # noqa: S608 - constants only
        {"words": words, "day": day},
    ).fetchall()
    return dict(rows)


def _rekey(conn: psycopg.Connection, descriptions: Iterable[str], day: date) -> None:
    """Counterparty keys again for the state's rows (without a counterparty) with these cleaned descriptions."""
    from ml.anomaly import counterparty_keys, families

    descriptions = sorted({d for d in descriptions if d})
    if not descriptions:
        return
    pairs = conn.execute(
        f"select distinct source, clean_description from {STATE} where clean_description = any(%s)",  # noqa: S608
        (descriptions,),
    ).fetchall()
    if not pairs:
        return
    frame = pd.DataFrame(pairs, columns=["source", "description"]).assign(counterparty="")
    counts = _word_counts(conn, _words_of(frame["description"]), day)
    party = counterparty_keys(frame, frame["description"].to_numpy(dtype=object), word_counts=counts)
    conn.execute(
        f"""
        update {STATE} s set party = u.party, family = u.family
        from unnest(%s::text[], %s::text[], %s::text[], %s::text[]) as u(source, description, party, family)
        where s.clean_description = any(%s)  -- (the rows through the description index, not a scan of the state)
          and s.clean_description = u.description and s.source = u.source and s.party is distinct from u.party
        """,  # noqa: S608 - constants only
        (
            frame["source"].tolist(),
            frame["description"].tolist(),
            list(party),
            list(families(party)),
            sorted(set(frame["description"])),
        ),
    )


def _flipped(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {w for w in set(before) | set(after) if (before.get(w, 0) > 1) != (after.get(w, 0) > 1)}


def _descriptions_with(conn: psycopg.Connection, words: set[str]) -> list[str]:
    if not words:
        return []
    return [
        d
        for (d,) in conn.execute(
            f"select distinct description from {WORDS} where word = any(%s)",  # noqa: S608
            (sorted(words),),
        ).fetchall()
    ]


# --------------------------------------------------------------------------------------------- changes


def _insert(conn: psycopg.Connection, rows: pd.DataFrame) -> None:
    """Rows (typed detector inputs with ``is_flagged``) into the state, with keys computed on themselves alone:
    the caller gives rows without a counterparty their keys again (``_rekey``) once their words are counted."""
    from ml.anomaly import baseline_rows

    if rows.empty:
        return
    derived = baseline_rows(rows.drop(columns=["is_flagged", "occurred_text"]))
    table = pd.DataFrame(
        {
            "transaction_id": rows["transaction_id"].to_numpy(),
            "booked_date": rows["booked_date"].dt.date.to_numpy(),
            **{c: derived[c].to_numpy() for c in ("source", "category", "direction", "abs_base", "weekend")},
            "hour": pd.array(derived["hour"].to_numpy(), dtype="Int64").astype(object),
            "is_round": derived["is_round"].to_numpy(),
            "flagged": rows["is_flagged"].to_numpy(dtype=bool),
            **{c: derived[c].to_numpy() for c in ("party", "family", "clean_description")},
            "amount": rows["amount"].to_numpy(),
            "amount_base": rows["amount_base"].to_numpy(),
            **{c: rows[c].to_numpy() for c in ("currency", "description", "counterparty", "instrument")},
            "occurred_at": rows["occurred_text"].to_numpy(),
        }
    )
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.SQL(STATE), sql.SQL(", ").join(sql.Identifier(c) for c in STATE_COLUMNS)
    )
    with conn.cursor().copy(statement) as copy:
        for record in table.itertuples(index=False, name=None):
            copy.write_row(tuple(_plain(v) for v in record))
    words = [
        (word, description)
        for description in set(table["clean_description"]) - {""}
        for word in _words_of([description])
    ]
    if words:  # (COPY into a scratch table, then one insert: a rebuild brings a million pairs)
        conn.execute("create temp table if not exists new_description_words (word text, description text)")
        conn.execute("truncate new_description_words")
        with conn.cursor().copy("copy new_description_words (word, description) from stdin") as copy:
            for pair in words:
                copy.write_row(pair)
        conn.execute(
            f"insert into {WORDS} (word, description) select distinct word, description from new_description_words"  # noqa: S608
            " on conflict do nothing"
        )


def _plain(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _descriptions_of(conn: psycopg.Connection, ids: list[str]) -> list[str]:
    if not ids:
        return []
    query = f"select distinct clean_description from {STATE} where transaction_id = any(%s) and clean_description <> ''"  # noqa: S608
    return [d for (d,) in conn.execute(query, (ids,)).fetchall()]


def _replace(conn: psycopg.Connection, remove: list[str], add: pd.DataFrame, day: date) -> None:
    """Take rows out of the state and put rows in, then give the rows whose counterparty key that changes (their
    words now in one description more or fewer) their keys again."""
    from ml.anomaly import baseline_rows

    gone = _descriptions_of(conn, remove)
    added = (
        set(baseline_rows(add.drop(columns=["is_flagged", "occurred_text"]))["clean_description"])
        if len(add)
        else set()
    )
    added.discard("")
    words = _words_of(gone) | _words_of(added)
    before = _word_counts(conn, words, day)
    if remove:
        conn.execute(f"delete from {STATE} where transaction_id = any(%s)", (remove,))  # noqa: S608
    _insert(conn, add)
    after = _word_counts(conn, words, day)
    _rekey(conn, set(added) | set(_descriptions_with(conn, _flipped(before, after))), day)


# --------------------------------------------------------------------------------------------- the tick


def rebuild(conn: psycopg.Connection, day: date) -> int:
    """The state from scratch: every kept scored transaction booked from ``MARGIN_DAYS`` before ``day`` on, with
    the counterparty keys a full recomputation of the look-back from ``day`` gives. Returns the rows."""
    from ml.anomaly import counterparty_keys

    ensure_state(conn)
    stamps = _stamps(conn)
    covered = day - timedelta(days=MARGIN_DAYS)
    conn.execute(f"truncate {STATE}, {WORDS}")  # noqa: S608 - constants only
    scored = sql.SQL("exists (select from ml.transaction_anomalies s where s.transaction_id = t.transaction_id)")
    frame = read_frame(
        conn,
        anomaly_inputs_query(
            sql.SQL("t.booked_date >= {} and {}").format(sql.Literal(covered), scored), sql.SQL("true")
        ),
        text_columns=ANOMALY_TEXT_COLUMNS,
    )
    rows = _typed(frame)
    in_window = rows["booked_date"].dt.date.to_numpy() >= day
    party = np.empty(len(rows), dtype=object)
    if in_window.any():
        party[in_window] = counterparty_keys(rows[in_window])
    if (~in_window).any():
        party[~in_window] = counterparty_keys(rows[~in_window])  # keyed again when the window reaches back
    _insert(conn, rows.assign(party=party))
    conn.execute(
        f"""
        insert into {MARKS} (id, covered_from, window_day, validated_at, categorized_at, decision_id)
        values (1, %s, %s, %s, %s, %s)
        on conflict (id) do update set covered_from = excluded.covered_from, window_day = excluded.window_day,
            validated_at = excluded.validated_at, categorized_at = excluded.categorized_at,
            decision_id = excluded.decision_id
        """,  # noqa: S608 - constants only
        (covered, day, *stamps),
    )
    return len(rows)


def _stamps(conn: psycopg.Connection) -> tuple:
    return conn.execute(
        f"""
        select (select max(validated_at) from {VALIDATED}),
               (select max(categorized_at) from {RULES_TABLE}),
               (select max(decision_id) from review.review_decisions)
        """  # noqa: S608 - constants only
    ).fetchone()


def can_update(conn: psycopg.Connection, day: date) -> bool:
    """Whether the state can be brought to a look-back from ``day`` by updates (else: rebuild)."""
    ensure_state(conn)
    current = marks(conn)
    return current is not None and day >= current.covered_from


def update(conn: psycopg.Connection, day: date) -> dict[str, int]:
    """Bring the state to what changed since the last tick and to a look-back from ``day`` (see the module)."""
    current = marks(conn)
    assert current is not None and day >= current.covered_from
    stamps = _stamps(conn)
    # 1. the rows whose inputs, category or flag may have changed since: read again (kept and scored ones)
    touched = [
        t
        for (t,) in conn.execute(
            f"""
            select transaction_id from {VALIDATED} where validated_at > %(v)s
            union select transaction_id from {RULES_TABLE} where categorized_at > %(r)s
            union select transaction_id from review.review_decisions
                where decision_id > %(d)s and transaction_id is not null
            union select r.transaction_id from review.review_decisions u
                join review.review_decisions r on r.decision_id = u.reverses
                where u.decision_id > %(d)s and r.transaction_id is not null
            """,  # noqa: S608 - constants only
            {
                "v": current.validated_at or date.min,
                "r": current.categorized_at or date.min,
                "d": current.decision_id or 0,
            },
        ).fetchall()
    ]
    present = [
        t
        for (t,) in conn.execute(
            f"select transaction_id from {STATE} where transaction_id = any(%s)",  # noqa: S608
            (touched,),
        ).fetchall()
    ]
    again = inputs_by_id(conn, touched, scored_only=True) if touched else _typed(pd.DataFrame(columns=INPUT_COLUMNS))
    again = again[again["booked_date"].dt.date.to_numpy() >= current.covered_from]
    _replace(conn, present, again, current.window_day)
    # 2. the look-back moved: rows between the two first days came in or left; keys again for them (kept for a
    # window that did not hold them) and for the descriptions of the words that now name a payee or no longer do
    if day != current.window_day:
        low, high = sorted((day, current.window_day))
        band = [
            d
            for (d,) in conn.execute(
                f"select distinct clean_description from {STATE} where booked_date >= %s and booked_date < %s"  # noqa: S608
                " and clean_description <> ''",
                (low, high),
            ).fetchall()
        ]
        words = _words_of(band)
        flipped = _flipped(_word_counts(conn, words, current.window_day), _word_counts(conn, words, day))
        _rekey(conn, set(band) | set(_descriptions_with(conn, flipped)), day)
    covered = max(current.covered_from, day - timedelta(days=MARGIN_DAYS))
    pruned = conn.execute(f"delete from {STATE} where booked_date < %s", (covered,)).rowcount  # noqa: S608
    if pruned:
        conn.execute(
            f"delete from {WORDS} w where not exists (select from {STATE} s where s.clean_description = w.description)"  # noqa: S608
        )
    conn.execute(
        f"update {MARKS} set covered_from = %s, window_day = %s, validated_at = %s, categorized_at = %s,"  # noqa: S608
        " decision_id = %s",
        (covered, day, *stamps),
    )
    return {"touched": len(touched), "reread": len(again), "pruned": pruned}


def add_batch(conn: psycopg.Connection, batch: pd.DataFrame, day: date) -> pd.DataFrame:
    """Put the batch (typed detector inputs) into the state, unflagged as the full recomputation counts it, and
    return it with its counterparty keys (``party``)."""
    _replace(conn, [], batch.assign(is_flagged=False), day)
    keys = dict(
        conn.execute(
            f"select transaction_id, party from {STATE} where transaction_id = any(%s)",  # noqa: S608
            (batch["transaction_id"].tolist(),),
        ).fetchall()
    )
    return batch.assign(party=batch["transaction_id"].map(keys).to_numpy())


def family_history(conn: psycopg.Connection, families: Iterable[str], day: date, batch_ids: list[str]) -> pd.DataFrame:
    """The state's rows from ``day`` on of the given payee families, the batch left out: the narrow baselines'
    history, as detector inputs with ``is_flagged`` and ``party``."""
    frame = read_frame(
        conn,
        sql.SQL(
            f"""
            select transaction_id, source, booked_date, amount, amount_base, currency, description, counterparty,
                   category, instrument, occurred_at, flagged as is_flagged, party
            from {STATE}
            where family = any({{families}}) and booked_date >= {{day}}
              and transaction_id <> all({{batch}})
            """  # noqa: S608 - constants only
        ).format(families=sql.Literal(sorted(set(families))), day=sql.Literal(day), batch=sql.Literal(batch_ids)),
        text_columns=(*ANOMALY_TEXT_COLUMNS, "party"),
    )
    from ml.anomaly import anomaly_input

    out = anomaly_input(frame)
    out["is_flagged"] = _flags(frame, "is_flagged") if len(frame) else np.array([], dtype=bool)
    out["party"] = frame["party"].to_numpy(dtype=object) if len(frame) else np.array([], dtype=object)
    return out


def wide_state(conn: psycopg.Connection, day: date):  # noqa: ANN201 - ml.anomaly.WideBaselines
    """The wide baselines over the state's rows from ``day`` on, as SQL aggregates (see ``WideBaselines``)."""
    from ml.anomaly import WideBaselines

    where = f"from {STATE} where booked_date >= %(day)s"
    ref = f"{where} and not flagged"
    args = {"day": day}

    def frame(query: str, columns: list[str], index: list[str]) -> pd.DataFrame:
        rows = conn.execute(query, args).fetchall()
        table = pd.DataFrame(rows, columns=columns)
        for column in columns:
            if column not in ("source", "category"):
                table[column] = pd.to_numeric(table[column])
        return table.set_index(index)

    amounts = conn.execute(
        f"""
        select source, category, direction, grouping(category) as by_source,
               percentile_cont(0.98) within group (order by abs_base) as q98,
               percentile_cont(0.95) within group (order by abs_base) as q95,
               count(distinct abs_base) as distinct, count(*) as n
        {ref}
        group by grouping sets ((source, category, direction), (source, direction))
        """,  # noqa: S608 - constants only
        args,
    ).fetchall()
    table = pd.DataFrame(
        amounts, columns=["source", "category", "direction", "by_source", "q98", "q95", "distinct", "n"]
    )
    table = table.astype({"direction": int, "q98": float, "q95": float, "distinct": float, "n": float})
    by_category = (
        table[table["by_source"] == 0].drop(columns="by_source").set_index(["source", "category", "direction"])
    )
    tops = frame(
        f"""
        select source, category, direction, max(abs_base) filter (where rank = 1) as top1,
               max(abs_base) filter (where rank = 2) as top2
        from (
            select source, category, direction, abs_base,
                   row_number() over (partition by source, category, direction order by abs_base desc) as rank
            {ref}
        ) ranked
        where rank <= 2
        group by source, category, direction
        """,  # noqa: S608 - constants only
        ["source", "category", "direction", "top1", "top2"],
        ["source", "category", "direction"],
    )
    by_category = by_category.join(tops)
    by_source = (
        table[table["by_source"] == 1].drop(columns=["by_source", "category"]).set_index(["source", "direction"])
    )
    days = [d for (d,) in conn.execute(f"select distinct booked_date {where} order by 1", args).fetchall()]  # noqa: S608
    return WideBaselines(
        amounts=by_category,
        source_amounts=by_source,
        categories=frame(
            f"select category, count(*) filter (where is_round), count(*) {ref} group by category",  # noqa: S608
            ["category", "round", "n"],
            ["category"],
        ),
        sources=frame(
            f"select source, count(*), count(*) filter (where weekend), count(hour) {ref} group by source",  # noqa: S608
            ["source", "n", "weekend", "timed"],
            ["source"],
        ),
        hours=frame(
            f"select source, hour, count(*) {ref} and hour is not null group by source, hour",  # noqa: S608
            ["source", "hour", "n"],
            ["source", "hour"],
        ),
        days=np.array(days, dtype="datetime64[ns]"),
    )


def mark_flagged(conn: psycopg.Connection, ids: list[str]) -> None:
    if ids:
        conn.execute(f"update {STATE} set flagged = true where transaction_id = any(%s)", (ids,))  # noqa: S608


def unscored_ids(conn: psycopg.Connection, cap: int) -> list[str]:
    """Up to ``cap`` kept transactions not scored yet (a tick's few hundred; more means a backlog)."""
    rows = conn.execute(
        f"""
        select v.transaction_id from {VALIDATED} v
        where {KEPT} and v.booked_date is not null
          and not exists (select from ml.transaction_anomalies a where a.transaction_id = v.transaction_id)
        limit %s
        """,  # noqa: S608 - constants only
        (cap,),
    ).fetchall()
    return [t for (t,) in rows]


def tick_inputs(conn: psycopg.Connection, ids: list[str], timings: dict[str, float] | None = None):  # noqa: ANN201
    """A tick's scoring inputs from the state: (batch with keys, its payee families' history, the wide baselines,
    the look-back's first day); None when the state cannot be brought to the batch's look-back (then: full read
    and ``rebuild``). ``timings``: filled with each part's seconds."""
    from ml.anomaly import families

    clock = _Clock(timings)
    batch = inputs_by_id(conn, ids, scored_only=False)
    clock("read_new_rows")
    if batch.empty:
        return None
    day = window_day(batch["booked_date"].dt.date)
    if not can_update(conn, day):
        return None
    update(conn, day)
    clock("update_state")
    batch = add_batch(conn, batch, day)
    clock("add_batch")
    wide = wide_state(conn, day)
    clock("wide_baselines")
    history = family_history(conn, families(batch["party"]), day, batch["transaction_id"].tolist())
    clock("family_history")
    return batch.drop(columns="occurred_text"), history, wide, day


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = round(now - self.last, 3)
        self.last = now


def score_tick(  # noqa: ANN201
    conn: psycopg.Connection,
    model,
    threshold: float,
    ids: list[str],
    timings: dict[str, float] | None = None,  # noqa: ANN001
):
    """Score a tick's unscored transactions (``ids``) against the kept state: (batch, scores, history rows), or
    None when the state cannot serve this batch. The caller writes the scores and ``mark_flagged`` in the same
    transaction."""
    prepared = tick_inputs(conn, ids, timings)
    if prepared is None:
        return None
    batch, history, wide, _ = prepared
    started = time.perf_counter()
    scores = model.score(batch, history, threshold, wide=wide)
    if timings is not None:
        timings["score"] = round(time.perf_counter() - started, 3)
    return batch, scores, len(history)
