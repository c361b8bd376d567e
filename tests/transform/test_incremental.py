"""Incremental dbt builds give exactly what a full refresh gives, and a build takes only the new rows.

Simulated days with faults and re-deliveries land in batches, a real ``dbt build`` after each, so that every kind
of cross-load change happens incrementally: processor payouts first and their bank deposits later (links form
across builds), ledger lines after that (echo chains ledger -> bank -> payout grow a link), and a re-delivered
batch at the end. Then ``dbt build --full-refresh`` recomputes everything from raw and each model must hold the
same rows (apart from the build-time stamps).
"""

from __future__ import annotations

import os
import time

import pytest

from finflow_assets.sources.registry import REFERENCE_SOURCES, SOURCES
from tests.conftest import own_data_folder, run_dbt

pytestmark = pytest.mark.usefixtures("warm_dbt_commands")  # many dbt commands: one dbt import (conftest)

BATCHES = (
    ("raw_stripe", "raw_paypal", "raw_adyen", "raw_billing", "raw_expenses"),
    ("raw_bank_operating", "raw_bank_eu", "raw_bank_lockbox"),
    ("raw_bank_payroll", "raw_bank_treasury", "raw_payroll"),
    ("raw_erp_gl",),
)
# the incremental models, in build order; each refreshes the planner's statistics after a build that rewrote much
# of it (analyze_after_build)
INCREMENTAL = (
    "intermediate.int_transactions__unioned",
    "reconciliation.int_transactions__delivered",
    "reconciliation.int_reconciliation__keys",
    "reconciliation.int_reconciliation__links",
    "intermediate.int_transactions__deduplicated",
    "validation.int_transactions__rule_inputs",
    "validation.int_transactions__validated",
    "validation.int_transactions__rule_violations",
    "intermediate.int_transactions__rule_categorized",
    "intermediate.int_accounts__daily",
    "intermediate.int_counterparties__daily",
    "intermediate.int_payout_components__daily",
    "intermediate.int_payouts__daily",
    "reconciliation.int_reconciliation__items",
    "marts.fct_transactions",
)
MODELS = (*INCREMENTAL, "marts.fct_reconciliation", "marts.dim_accounts", "marts.dim_counterparties")
STAMPS = {
    "unioned_at",
    "delivered_at",
    "keyed_at",
    "linked_at",
    "deduplicated_at",
    "inputs_at",
    "validated_at",
    "categorized_at",
    "listed_at",
    "rolled_up_at",
    "itemized_at",
    "published_at",
}


def _analyze_counts(conn) -> dict[str, int]:  # noqa: ANN001
    """Manual ANALYZE runs per model, once the dbt sessions' statistics have reached the server's views."""
    time.sleep(1.5)  # a backend reports its counters when it exits, at most once a second while it runs
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute(
        "select schemaname || '.' || relname, analyze_count from pg_stat_user_tables"
        " where schemaname || '.' || relname = any(%s)",
        (list(INCREMENTAL),),
    ).fetchall()
    return dict(rows)


def _view_oids(conn) -> dict[str, int]:  # noqa: ANN001
    """The dbt views and their catalog ids (a recreated view gets a new one)."""
    rows = conn.execute(
        "select c.relname, c.oid::int from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind = 'v' and n.nspname in ('staging', 'validation')"
    ).fetchall()
    return dict(rows)


def _columns(conn, relation: str) -> list[str]:  # noqa: ANN001
    schema, table = relation.split(".")
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position",
        (schema, table),
    ).fetchall()
    return [name for (name,) in rows if name not in STAMPS]


def _snapshot(conn) -> None:  # noqa: ANN001
    conn.execute("drop schema if exists incremental_snapshot cascade; create schema incremental_snapshot")
    for relation in MODELS:
        conn.execute(f"create table incremental_snapshot.{relation.split('.')[1]} as select * from {relation}")


def _difference(conn, relation: str) -> tuple[int, int, int]:  # noqa: ANN001
    """(rows, rows only in the incremental result, rows only in the full refresh), all columns but the stamps."""
    columns = ", ".join(f'"{name}"' for name in _columns(conn, relation))
    snapshot = f"incremental_snapshot.{relation.split('.')[1]}"
    count = conn.execute(f"select count(*) from {relation}").fetchone()[0]
    only_incremental = conn.execute(
        f"select count(*) from (select {columns} from {snapshot} except all select {columns} from {relation}) d"
    ).fetchone()[0]
    only_full = conn.execute(
        f"select count(*) from (select {columns} from {relation} except all select {columns} from {snapshot}) d"
    ).fetchone()[0]
    return count, only_incremental, only_full


@pytest.fixture(scope="module")
def built_in_batches(finflow_home, tmp_path_factory):
    import dagster as dg

    from finflow_assets.cli import materialize_everything
    from finflow_assets.warehouse import connect
    from finflow_simulator import generate
    from finflow_simulator.api_server import serve

    with own_data_folder(tmp_path_factory.mktemp("incremental"), "test_incremental") as folders:
        sim = generate(
            folders.landing,
            folders.simulator / "truth",
            days=3,
            per_day=300,
            seed=31,
            faults=True,
            redelivery_rate=0.3,
        )
        rows_per_build = []
        with serve(sim.api_dir) as server, connect(autocommit=True) as conn:
            os.environ.update(server.env())
            for batch in BATCHES:
                assert materialize_everything(dg.AssetSelection.assets(*batch)).success
                run_dbt("build")
                table = "reconciliation.int_transactions__delivered"
                rows_per_build.append(
                    conn.execute(
                        f"select count(*) from {table} where delivered_at = (select max(delivered_at) from {table})"
                    ).fetchone()[0]
                )
            # a build with nothing new: no incremental model rewrites a row
            stamps = (
                "select (select max(unioned_at) from intermediate.int_transactions__unioned),"
                " (select max(delivered_at) from reconciliation.int_transactions__delivered),"
                " (select max(linked_at) from reconciliation.int_reconciliation__links),"
                " (select max(validated_at) from validation.int_transactions__validated),"
                " (select max(published_at) from marts.fct_transactions)"
            )
            before = conn.execute(stamps).fetchone()
            analyzed_before = _analyze_counts(conn)
            views = {"before": _view_oids(conn)}
            run_dbt("build")
            idle = (before, conn.execute(stamps).fetchone())
            analyzed = {"idle build": (analyzed_before, _analyze_counts(conn))}
            views["idle build"] = _view_oids(conn)
            _snapshot(conn)
            run_dbt("build", "--full-refresh")
            analyzed["full refresh"] = (analyzed["idle build"][1], _analyze_counts(conn))
            views["full refresh"] = _view_oids(conn)
            yield conn, rows_per_build, idle, analyzed, views


@pytest.mark.parametrize("relation", MODELS)
def test_incremental_builds_equal_a_full_refresh(built_in_batches, relation):
    conn, _, _, _, _ = built_in_batches
    rows, only_incremental, only_full = _difference(conn, relation)
    assert rows > 0
    assert (only_incremental, only_full) == (0, 0), f"{relation}: {rows} rows after the full refresh"


def test_links_formed_across_builds(built_in_batches):
    conn, _, _, _, _ = built_in_batches
    # bank deposits landed a build after their payouts and ledger lines after both: the links exist all the same
    kinds = dict(
        conn.execute(
            "select match_type, count(*) from reconciliation.int_reconciliation__links"
            " where status = 'matched' group by 1"
        ).fetchall()
    )
    assert {"stripe_payout", "paypal_withdrawal", "invoice_payment", "ledger_bank"} <= set(kinds)


def test_a_build_takes_only_what_changed(built_in_batches):
    conn, rows_per_build, idle, _, _ = built_in_batches
    total = conn.execute("select count(*) from reconciliation.int_transactions__delivered").fetchone()[0]
    # each batch's build rewrote its own rows (and the groups they joined), never the whole history
    assert all(0 < rows < total for rows in rows_per_build[1:]), (rows_per_build, total)
    before, after = idle
    assert after == before


def test_statistics_refreshed_only_after_a_build_that_rewrote_much(built_in_batches):
    _, _, _, analyzed, _ = built_in_batches
    # ANALYZE samples 30,000 rows however small the batch: the batch builds (each a large share of its tables)
    # analyzed every model, a build that wrote nothing leaves it to autovacuum
    before, after = analyzed["idle build"]
    assert set(before) == set(INCREMENTAL) and min(before.values()) >= 1, before
    assert after == before
    # a full refresh builds new tables (analyze counts start again) and analyzes each one (autovacuum's own
    # analyzes are counted apart)
    _, after = analyzed["full refresh"]
    assert set(after) == set(INCREMENTAL) and min(after.values()) >= 1, after


def test_views_are_recreated_only_when_what_they_are_made_of_changed(built_in_batches):
    """macros/view_materialization.sql: a build leaves a view whose SQL and inputs are unchanged as it is (dbt would
    drop and recreate it), a full refresh or a new column in what it reads recreates it. Runs last but one: it
    adds a column to a raw table."""
    conn, _, _, _, views = built_in_batches
    staging = len(SOURCES) + len(REFERENCE_SOURCES)  # a staging view per source and per reference source
    assert len(views["before"]) == staging and views["idle build"] == views["before"]
    assert not set(views["full refresh"].values()) & set(views["before"].values())
    conn.execute("alter table raw.stripe add column probe text")
    run_dbt("run", "--select", "stg_stripe__transactions stg_paypal__transactions")
    after = _view_oids(conn)
    assert after["stg_stripe__transactions"] != views["full refresh"]["stg_stripe__transactions"]
    assert after["stg_paypal__transactions"] == views["full refresh"]["stg_paypal__transactions"]


def test_data_tests_check_the_rows_of_the_latest_build(built_in_batches):
    """A column test on an incremental model reads the rows its latest build wrote (macros/get_where_subquery.sql):
    a bad row from that build fails it, a row no build rewrote is not read again. Runs last: it edits a row and
    puts it back."""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    conn, _, _, _, _ = built_in_batches
    table = "marts.fct_transactions"
    transaction_id, category, published_at = conn.execute(
        f"select transaction_id, category, published_at from {table} order by transaction_id limit 1"
    ).fetchone()
    select = ("test", "--select", "fct_transactions,test_name:not_null")
    try:
        # an older build's row: out of the test's reach
        conn.execute(
            f"update {table} set category = null, published_at = published_at - interval '1 day'"
            " where transaction_id = %s",
            (transaction_id,),
        )
        run_dbt(*select)
        # the same row written by the latest build: caught
        conn.execute(f"update {table} set published_at = %s where transaction_id = %s", (published_at, transaction_id))
        with pytest.raises(DagsterDbtCliRuntimeError):
            run_dbt(*select)
    finally:
        conn.execute(
            f"update {table} set category = %s, published_at = %s where transaction_id = %s",
            (category, published_at, transaction_id),
        )
    run_dbt(*select)


def test_link_tests_check_the_groups_of_the_latest_build(built_in_batches):
    """assert_reconciliation_links_one_to_one reads the groups the latest build rebuilt: a deposit linked twice
    there fails it. Runs last: it adds a row and takes it out again."""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    conn, _, _, _, _ = built_in_batches
    table = "reconciliation.int_reconciliation__links"
    select = ("test", "--select", "assert_reconciliation_links_one_to_one")
    copy = (
        f"insert into {table} select * from {table} where status = 'matched' and right_transaction_id is not null"
        " order by reconciliation_id limit 1"
    )
    try:
        conn.execute(copy)
        conn.execute(f"update {table} set match_key = 'probe' where ctid = (select max(ctid) from {table})")
        with pytest.raises(DagsterDbtCliRuntimeError):
            run_dbt(*select)
    finally:
        conn.execute(f"delete from {table} where match_key = 'probe'")
    run_dbt(*select)
