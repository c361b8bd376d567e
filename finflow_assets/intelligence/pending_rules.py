"""Proposed categorization rules waiting for an analyst (table ``review.pending_rules``).

A reviewer's decision ("always categorize this merchant as …", from the review workspace) or FinFlow itself, when
reviewers have put the same merchant in the same category ``min_decisions`` times and never in another
(:func:`propose_from_decisions`, run by ``finflow rules pending``), add a pending row with its expected effect
measured on ``marts.fct_transactions`` when it was proposed: how many transactions the rule would match, how many of
those would change category, and how many reviewers' decisions it contradicts. A rule never overrides a human
decision: ``fct_transactions`` applies human > rule > model, so contradicted decisions stay as decided, and the
count says so before anyone accepts the rule. ``finflow rules accept``
appends the rule to ``dbt_project/seeds/categorization_rules.csv`` (the analysts' rules, applied by dbt before the
model), so every rule still lives in the one seed file and goes through review in git.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import psycopg

from ..settings import DBT_PROJECT_DIR

RULES_SEED = Path(DBT_PROJECT_DIR) / "seeds" / "categorization_rules.csv"
SEED_COLUMNS = ("rule_id", "priority", "category", "source", "transaction_type", "pattern")
PROPOSED_PRIORITY = 50  # after the shipped rules (10-40): a proposal never overrides an analyst's rule

PENDING_DDL = """
create schema if not exists review;
create table if not exists review.pending_rules (
    rule_id text primary key check (rule_id ~ '^[a-z0-9_]+$'),
    priority int not null default 50,
    category text not null check (category <> ''),
    source text,
    transaction_type text,
    pattern text not null check (pattern <> ''),
    proposed_by text not null check (proposed_by <> ''),
    origin text not null default 'reviewer' check (origin in ('reviewer', 'model')),
    from_decision_id bigint,
    expected_matches bigint,
    expected_changes bigint,
    human_conflicts bigint,
    proposed_at timestamptz not null default now(),
    status text not null default 'pending' check (status in ('pending', 'accepted', 'rejected')),
    decided_by text,
    decided_at timestamptz
);
alter table review.pending_rules add column if not exists human_conflicts bigint;
"""
MIN_DECISIONS = 3  # reviewers' decisions putting one merchant in one category before FinFlow proposes a rule
PROPOSER = "finflow"


class RuleError(ValueError):
    """A proposal or acceptance that cannot be made (bad pattern, unknown or already decided rule)."""


def ensure_pending_rules(conn: psycopg.Connection) -> None:
    conn.execute(PENDING_DDL)


def merchant_pattern(description: str) -> str:
    """A pattern for "this merchant": the description's leading words before digits and references, escaped."""
    words = []
    for word in re.split(r"\s+", description.strip()):
        if not word or re.search(r"\d", word) or len(words) == 3:
            break
        words.append(word)
    text = " ".join(words) or description.strip()
    if not text:
        raise RuleError("an empty description makes no rule")
    return "^" + re.escape(text).replace("\\ ", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "rule"


def propose_rule(
    conn: psycopg.Connection,
    *,
    category: str,
    pattern: str,
    proposed_by: str,
    source: str | None = None,
    origin: str = "reviewer",
    from_decision_id: int | None = None,
) -> dict:
    """Add a pending rule with its expected effect on today's transactions; returns the row."""
    ensure_pending_rules(conn)
    try:
        re.compile(pattern)
    except re.error as error:
        raise RuleError(f"pattern {pattern!r} is not a regular expression: {error}") from error
    # what a human decided stays (human > rule in fct_transactions): those rows are not changes but conflicts
    effect = conn.execute(
        """
        select count(*),
               count(*) filter (where category is distinct from %s and category_method is distinct from 'human'),
               count(*) filter (where category is distinct from %s and category_method = 'human')
        from marts.fct_transactions
        where (%s::text is null or source = %s)
          and concat_ws(' ', description_raw, counterparty) ~* %s  -- as the rules read them (counterparty_raw)
        """,
        (category, category, source, source, pattern),
    ).fetchone()
    base = f"{_slug(pattern)}_{_slug(category)}"
    taken = {row[0] for row in conn.execute("select rule_id from review.pending_rules").fetchall()}
    taken |= {row["rule_id"] for row in seed_rules()}
    rule_id, n = base, 1
    while rule_id in taken:
        n += 1
        rule_id = f"{base}_{n}"
    row = conn.execute(
        """
        insert into review.pending_rules (rule_id, priority, category, source, pattern, proposed_by, origin,
                                          from_decision_id, expected_matches, expected_changes, human_conflicts)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        returning rule_id, category, source, pattern, expected_matches, expected_changes, human_conflicts, status
        """,
        (rule_id, PROPOSED_PRIORITY, category, source, pattern, proposed_by, origin, from_decision_id, *effect),
    ).fetchone()
    return dict(
        zip(
            (
                "rule_id",
                "category",
                "source",
                "pattern",
                "expected_matches",
                "expected_changes",
                "human_conflicts",
                "status",
            ),
            row,
            strict=True,
        )
    )


def list_pending(conn: psycopg.Connection) -> list[dict]:
    ensure_pending_rules(conn)
    with conn.cursor() as cursor:
        cursor.execute(
            "select rule_id, category, source, pattern, origin, proposed_by, proposed_at, expected_matches,"
            " expected_changes, human_conflicts from review.pending_rules where status = 'pending'"
            " order by proposed_at, rule_id"
        )
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def propose_from_decisions(
    conn: psycopg.Connection, min_decisions: int = MIN_DECISIONS, proposed_by: str = PROPOSER
) -> list[dict]:
    """Propose a rule for every merchant reviewers have put in one category at least ``min_decisions`` times (the
    latest decision in force per transaction, approvals and recategorizations alike) and never in another; none
    when a rule with that pattern is already pending, decided or in the seed. Returns the new proposals."""
    if min_decisions < 1:
        raise RuleError(f"min_decisions must be at least 1, not {min_decisions}")
    ensure_pending_rules(conn)
    decided = conn.execute(
        """
        select t.description_raw, d.category, d.decision_id
        from (
            select distinct on (transaction_id) transaction_id, category, decision_id
            from review.effective_decisions
            where item_type = 'category' and transaction_id is not null and coalesce(category, '') <> ''
            order by transaction_id, decision_id desc
        ) d
        join marts.fct_transactions t using (transaction_id)
        where coalesce(t.description_raw, '') ~ '[A-Za-z]'
        """
    ).fetchall()
    by_merchant: dict[str, dict[str, list[int]]] = {}
    for description, category, decision_id in decided:
        try:
            pattern = merchant_pattern(description)
        except RuleError:
            continue
        by_merchant.setdefault(pattern, {}).setdefault(category, []).append(decision_id)
    known = {row[0] for row in conn.execute("select pattern from review.pending_rules").fetchall()}
    known |= {row["pattern"] for row in seed_rules()}
    proposed = []
    for pattern, categories in sorted(by_merchant.items()):
        if len(categories) != 1 or pattern in known:  # reviewers disagree on this merchant: no rule to propose
            continue
        ((category, decisions),) = categories.items()
        if len(decisions) >= min_decisions:
            proposed.append(
                propose_rule(
                    conn,
                    category=category,
                    pattern=pattern,
                    proposed_by=f"{proposed_by} ({len(decisions)} decisions)",
                    origin="model",
                    from_decision_id=max(decisions),
                )
            )
    return proposed


def seed_rules(seed: Path = RULES_SEED) -> list[dict]:
    """The analysts' categorization rules as the seed file has them."""
    with seed.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def accept_rule(conn: psycopg.Connection, rule_id: str, accepted_by: str, seed: Path = RULES_SEED) -> dict:
    """Append a pending rule to the seed file and mark it accepted (the row is marked only if the file was
    written; the next ``dbt build`` applies it)."""
    ensure_pending_rules(conn)
    with conn.transaction():
        row = conn.execute(
            "select rule_id, priority, category, source, transaction_type, pattern from review.pending_rules"
            " where rule_id = %s and status = 'pending' for update",
            (rule_id,),
        ).fetchone()
        if row is None:
            raise RuleError(f"no pending rule {rule_id!r} (finflow rules pending lists them)")
        if any(existing["rule_id"] == rule_id for existing in seed_rules(seed)):
            raise RuleError(f"{seed} already has a rule {rule_id!r}")
        conn.execute(
            "update review.pending_rules set status = 'accepted', decided_by = %s, decided_at = now()"
            " where rule_id = %s",
            (accepted_by, rule_id),
        )
        text = seed.read_text(encoding="utf-8")
        with seed.open("a", newline="", encoding="utf-8") as handle:
            if text and not text.endswith("\n"):
                handle.write("\n")
            csv.writer(handle, lineterminator="\n").writerow(["" if v is None else v for v in row])
    return dict(zip(SEED_COLUMNS, row, strict=True))
