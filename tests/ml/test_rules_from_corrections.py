"""Rules from corrections: FinFlow proposes an analyst rule once reviewers have put one merchant in one category N
times, with its expected effect, and never counts a human decision as a row the rule would change."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_database

FACTS = """
create schema if not exists marts;
create table marts.fct_transactions (
    transaction_id text primary key, source text, description_raw text, counterparty text, category text,
    category_method text
);
"""
ROWS = [  # transaction, description, category as fct_transactions has it (before the decisions below)
    *[(f"coffee-{n}", f"BLUE BOTTLE COFFEE #{n}0{n} SAN FRANCISCO", "travel") for n in range(1, 6)],
    *[(f"uber-{n}", f"UBER TRIP {n}234 HELP.UBER.COM", "meals") for n in range(1, 5)],
    *[(f"zoom-{n}", f"ZOOM.US 888-799-{n}666", "uncategorized") for n in range(1, 3)],
    *[(f"dhl-{n}", f"DHL EXPRESS {n}77", "uncategorized") for n in range(1, 4)],
]
DECISIONS = [  # reviewers' decisions: transaction, category
    *[(f"coffee-{n}", "meals") for n in (1, 2, 3)],  # 3 agree: a rule
    *[(f"uber-{n}", "travel") for n in (1, 2, 3)],
    ("uber-4", "meals"),  # reviewers disagree: no rule
    *[(f"zoom-{n}", "software") for n in (1, 2)],  # only 2
    *[(f"dhl-{n}", "shipping") for n in (1, 2, 3)],  # 3, but one is undone below
]


@pytest.fixture
def warehouse(finflow_home):
    from finflow_assets.intelligence.review import ensure_review_tables, record_decision, undo_decision
    from finflow_assets.warehouse import connect

    with fresh_database("rules_from_corrections"), connect(autocommit=True) as conn:
        conn.execute(FACTS)
        ensure_review_tables(conn)
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into marts.fct_transactions values (%s, 'bank_operating', %s, null, %s, 'ml')", ROWS
            )
        decided = {}
        for transaction_id, category in DECISIONS:
            decided[transaction_id] = record_decision(
                conn, transaction_id, "recategorize", "rita", item_type="category", category=category
            )
            # fct_transactions applies a decision as the row's category, method human
            conn.execute(
                "update marts.fct_transactions set category = %s, category_method = 'human' where transaction_id = %s",
                (category, transaction_id),
            )
        undo_decision(conn, decided["dhl-3"]["decision_id"], "rita")
        yield conn


def test_a_merchant_put_in_one_category_n_times_gets_a_proposed_rule(warehouse):
    from finflow_assets.intelligence.pending_rules import list_pending, propose_from_decisions

    proposed = propose_from_decisions(warehouse, min_decisions=3)
    assert [(rule["pattern"], rule["category"]) for rule in proposed] == [("^BLUE BOTTLE COFFEE", "meals")]
    rule = proposed[0]
    # 5 coffee lines match; the 2 the model put in travel would change; the 3 decided ones already say meals
    assert (rule["expected_matches"], rule["expected_changes"], rule["human_conflicts"]) == (5, 2, 0)
    assert [pending["rule_id"] for pending in list_pending(warehouse)] == [rule["rule_id"]]
    assert list_pending(warehouse)[0]["proposed_by"] == "finflow (3 decisions)"
    assert propose_from_decisions(warehouse, min_decisions=3) == []  # once: already pending

    # N is the caller's: at 2, zoom's two decisions and dhl's two in force (the third was undone) suffice; uber's
    # reviewers disagree (3 travel, 1 meals), so no rule for uber at any N
    assert [rule["pattern"] for rule in propose_from_decisions(warehouse, min_decisions=2)] == [
        "^DHL EXPRESS",
        "^ZOOM\\.US",
    ]


def test_a_rule_counts_contradicted_human_decisions_as_conflicts_not_changes(warehouse):
    from finflow_assets.intelligence.pending_rules import RuleError, propose_from_decisions, propose_rule

    rule = propose_rule(warehouse, category="travel", pattern="^UBER", proposed_by="ada")
    # 4 uber lines: 3 decided travel (no change), 1 decided meals by a reviewer: it stays meals (human > rule)
    assert (rule["expected_matches"], rule["expected_changes"], rule["human_conflicts"]) == (4, 0, 1)
    with pytest.raises(RuleError, match="at least 1"):
        propose_from_decisions(warehouse, min_decisions=0)
