"""Deduplication and reconciliation against the simulator's ground truth, at a small scale, for real: simulated days
with broken and re-delivered files land through Dagster (API sources over local HTTP) into a database of their own,
real dbt builds the SQL layer, and bench/bench_dedupe_reconciliation.py's evaluation compares it with the truth."""

from __future__ import annotations

import csv
import io
import os
import time

import pytest

from bench.bench_dedupe_reconciliation import TARGETS, evaluate, report
from finflow_assets.automation.audit import MONEY_INVARIANTS
from tests.conftest import own_data_folder, run_dbt

pytestmark = pytest.mark.usefixtures("warm_dbt_commands")  # many dbt commands: one dbt import (conftest)

DAYS, PER_DAY = 3, 400


def _reexport(path, target) -> int:  # noqa: ANN001 - paths
    """A re-exported operating statement whose bytes and row hashes differ from the original (descriptions in
    another case and spacing) while its content is the same: a re-delivery only the fingerprint recognizes."""
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        row[1] = "  " + row[1].lower().replace(" ", "  ")
        writer.writerow(row)
    target.write_bytes(out.getvalue().encode("utf-8"))
    return len(rows) - 1


@pytest.fixture(scope="module")
def built(finflow_home, tmp_path_factory):
    import dagster as dg

    from finflow_assets.cli import materialize_everything
    from finflow_assets.warehouse import connect
    from finflow_simulator import generate
    from finflow_simulator.api_server import serve

    # a data folder of its own (landing, Dagster instance) beside the session's database server
    with own_data_folder(tmp_path_factory.mktemp("reconciliation"), "test_reconciliation") as folders:
        sim = generate(
            folders.landing,
            folders.simulator / "truth",
            days=DAYS,
            per_day=PER_DAY,
            seed=23,
            faults=True,
            redelivery_rate=0.3,
        )
        folder = folders.landing / "bank_operating"
        day = f"{sim.days[1]:%Y%m%d}"
        original = folder / f"operating_{day}_corrected.csv"  # with faults, the first delivery may be broken
        original = original if original.exists() else folder / f"operating_{day}.csv"
        time.sleep(0.01)  # delivered after the originals
        reexported = _reexport(original, folder / f"reexport_operating_{day}.csv")
        with serve(sim.api_dir) as server:
            os.environ.update(server.env())
            assert materialize_everything(dg.AssetSelection.groups("ingestion")).success
        run_dbt("build", "--exclude", "tag:enriched")
        with connect(autocommit=True) as conn:
            figures = evaluate(conn, sim.truth_file.parent, folders.landing)
            print(report(figures))
            yield figures, conn, reexported


def test_no_raw_row_lost_and_every_row_accounted_for(built):
    figures, _, reexported = built
    assert figures.lost_rows == 0
    assert figures.unaccounted_rows == 0
    assert figures.raw_rows_without_truth == reexported  # only the hand-made re-export is unknown to the truth
    assert figures.dispositions["exact_redelivery"] > 0 and figures.dispositions["duplicate"] > 0


def test_duplicates_found_with_precision_and_recall(built):
    figures, _, _ = built
    assert figures.duplicates_true_positive > 500
    assert figures.duplicate_precision >= TARGETS["duplicate_precision"], report(figures)
    assert figures.duplicate_recall >= TARGETS["duplicate_recall"], report(figures)
    assert figures.duplicate_wrong_target == 0


def test_reexported_statement_is_a_redelivery(built):
    _, conn, reexported = built
    rows = conn.execute(
        "select v.duplicate_reason, v.validation_status, count(*) from validation.int_transactions__validated as v"
        " where v.source_file like 'reexport_%' group by 1, 2"
    ).fetchall()
    assert [(reason, count) for reason, _, count in rows] == [("redelivery", reexported)]


def test_one_kept_row_per_true_transaction(built):
    figures, _, _ = built
    assert figures.kept_rows == figures.true_transactions == DAYS * PER_DAY
    assert figures.missing_transactions == figures.doubled_transactions == figures.kept_not_primary == 0


def test_reconciliation_matches_without_false_match(built):
    figures, _, _ = built
    assert set(figures.matches_by_type) >= {
        "stripe_payout",
        "paypal_withdrawal",
        "adyen_payout",
        "invoice_payment",
        "internal_transfer",
        "payroll_run",
        "ledger_bank",
    }
    assert figures.matched_share >= TARGETS["matched_share"], report(figures)
    assert figures.false_matches == 0, report(figures)


def test_payouts_in_transit_are_unmatched_within_their_window(built):
    _, conn, _ = built
    in_transit = conn.execute(
        "select count(*) from truth_matches"
        " where matchable = 0 and match_type in ('stripe_payout', 'paypal_withdrawal', 'adyen_payout')"
    ).fetchone()[0]
    rows = conn.execute(
        "select status, within_window, age_days, component_difference from marts.fct_reconciliation"
        " where match_type in ('stripe_payout', 'paypal_withdrawal', 'adyen_payout') and status = 'unmatched'"
    ).fetchall()
    assert len(rows) == in_transit > 0
    assert all(window and age >= 0 and diff == 0 for _, window, age, diff in rows)


def test_statuses_ages_and_dimensions(built):
    _, conn, _ = built
    statuses = dict(conn.execute("select status, count(*) from marts.fct_reconciliation group by 1").fetchall())
    assert set(statuses) <= {"matched", "partially_matched", "unmatched"} and statuses["matched"] > 400
    as_of = conn.execute("select distinct as_of_date from marts.fct_reconciliation").fetchall()
    latest = conn.execute(
        "select max(booked_date) from validation.int_transactions__validated where validation_status <> 'quarantined'"
    ).fetchone()[0]
    assert as_of == [(latest,)]
    # a payment seen twice is counted once: the dimensions' totals equal the kept transactions'
    kept = conn.execute(
        "select count(*) from validation.int_transactions__validated"
        " where validation_status <> 'quarantined' and duplicate_of is null"
    ).fetchone()[0]
    assert conn.execute("select sum(transactions) from marts.dim_accounts").fetchone()[0] == kept
    banks = conn.execute("select count(*) from marts.dim_accounts where account_kind = 'bank_account'").fetchone()[0]
    assert banks == 8  # operating, payroll, 2 EUR, treasury + money market, 2 lockboxes
    assert conn.execute("select count(*) from marts.dim_counterparties").fetchone()[0] > 50


def test_dbt_unit_tests(built):
    """The dbt unit tests (models/*/_*__unit_tests.yml), which the pipeline's builds leave to development and CI:
    match keys per match type; window edges, a cent off, beyond the partial tolerance, identical lines paired one
    for one; an incremental rule_inputs build redoing a changed statement line and the line after it alone."""
    run_dbt("test", "--select", "test_type:unit")


def test_custom_dbt_tests_are_asset_checks():
    from finflow_assets.transform.assets import finflow_dbt_enriched_marts, finflow_dbt_models

    checks = {
        (key.asset_key.to_user_string(), key.name)
        for assets in (finflow_dbt_models, finflow_dbt_enriched_marts)
        for key in assets.check_keys
    }
    assert {
        ("int_transactions__validated", "assert_every_raw_row_accounted_for"),
        ("int_transactions__validated", "assert_no_duplicate_fingerprints_among_kept_transactions"),
        ("int_transactions__validated", "assert_duplicates_point_to_kept_rows"),
        ("int_reconciliation__links", "assert_reconciliation_links_one_to_one"),
        ("fct_reconciliation", "assert_payouts_explained_by_components"),
    } <= checks


def _invariant_statuses(every_row: bool = True) -> dict[str, str]:
    """The money invariants' outcomes (pass / fail / error) from one real ``dbt build`` of them and their mark:
    ``every_row`` as the nightly audit runs them, else over what was validated since they last passed (a tick)."""
    from finflow_assets.automation.audit import forget_checked_rows, money_invariant_statuses
    from finflow_assets.resources import WarehouseResource
    from finflow_assets.transform.assets import prepare_warehouse
    from finflow_assets.transform.project import dbt_cli

    prepare_warehouse(WarehouseResource())
    if every_row:
        forget_checked_rows(WarehouseResource())
    return money_invariant_statuses(dbt_cli())


def _two_kept_and_a_duplicate(conn, table: str, newest: bool = False) -> tuple[str, str, str]:  # noqa: ANN001
    """Two kept transactions no duplicate points at (the first or the last two by id), and a duplicate."""
    first, second = (
        row
        for (row,) in conn.execute(
            f"select transaction_id from {table} as t where validation_status <> 'quarantined'"
            f" and duplicate_of is null and not exists (select from {table} d where d.duplicate_of = t.transaction_id)"
            f" order by 1 {'desc' if newest else ''} limit 2"
        )
    )
    duplicate = conn.execute(f"select transaction_id from {table} where duplicate_of is not null limit 1").fetchone()[0]
    return first, second, duplicate


def test_money_invariants_catch_a_lost_an_extra_and_a_doubled_row(built):
    """The whole-table checks on int_transactions__validated compare counts and sums of id hashes before they look
    row by row: a row lost, one that comes from nowhere, a transaction kept twice or pointed at a duplicate each
    still fail them (the table is damaged by hand and restored after each case)."""
    _, conn, _ = built
    table = "validation.int_transactions__validated"
    first, second, duplicate = _two_kept_and_a_duplicate(conn, table)
    ids = f"('{first}', '{second}', '{duplicate}')"
    conn.execute(f"create temporary table damaged as select * from {table} where transaction_id in {ids}")
    restore = (
        f"delete from {table} where transaction_id in {ids} or transaction_id = 'phantom';"
        f" insert into {table} select * from damaged"
    )
    damages = {
        "lost": (f"delete from {table} where transaction_id = '{first}'", {MONEY_INVARIANTS[0]}),
        "from nowhere": (
            f"insert into {table} select (jsonb_populate_record(null::{table},"
            f' to_jsonb(damaged) || \'{{"transaction_id": "phantom"}}\')).*'
            f" from damaged where transaction_id = '{duplicate}'",
            {MONEY_INVARIANTS[0]},
        ),
        "kept twice": (
            f"update {table} set fingerprint = (select fingerprint from damaged where transaction_id = '{first}')"
            f" where transaction_id = '{second}'",
            {MONEY_INVARIANTS[1]},
        ),
        "points at a duplicate": (
            f"update {table} set duplicate_of = '{duplicate}' where transaction_id = '{first}'",
            {MONEY_INVARIANTS[2]},
        ),
    }
    try:
        assert set(_invariant_statuses().values()) == {"pass"}
        for damage, (statement, failing) in damages.items():
            conn.execute(statement)
            statuses = _invariant_statuses()
            conn.execute(restore)
            assert {name for name, status in statuses.items() if status == "fail"} == failing, (damage, statuses)
            assert set(statuses.values()) <= {"pass", "fail"}, (damage, statuses)
    finally:
        conn.execute(restore)
    assert set(_invariant_statuses().values()) == {"pass"}


def test_between_audits_the_invariants_check_what_was_validated_since_they_last_passed(built):
    """A tick's build checks the rows validated since the invariants last passed: damage in newly validated rows
    fails them, and fails them again on the next build (a failing build leaves the mark where it was) until it is
    repaired. An older row edited by hand is left to the nightly audit, which checks every row."""
    _, conn, _ = built
    table = "validation.int_transactions__validated"
    mark = "select validated_through, passed_at from validation.int_transactions__invariants_passed"
    first, second, duplicate = _two_kept_and_a_duplicate(conn, table, newest=True)
    ids = f"('{first}', '{second}')"
    conn.execute(f"create temporary table undamaged as select * from {table} where transaction_id in {ids}")
    restore = f"delete from {table} where transaction_id in {ids}; insert into {table} select * from undamaged"
    damages = {  # each as a build would leave it: the damaged rows validated anew
        MONEY_INVARIANTS[1]: f"update {table} set validated_at = now(), fingerprint ="
        f" (select fingerprint from undamaged where transaction_id = '{first}') where transaction_id = '{second}'",
        MONEY_INVARIANTS[2]: f"update {table} set validated_at = now(), duplicate_of = '{duplicate}'"
        f" where transaction_id = '{first}'",
    }
    try:
        assert set(_invariant_statuses().values()) == {"pass"}
        passed = conn.execute(mark).fetchone()
        for failing, statement in damages.items():
            conn.execute(statement)
            for _ in range(2):
                statuses = _invariant_statuses(every_row=False)
                assert {name for name, status in statuses.items() if status != "pass"} == {failing}, statuses
                assert conn.execute(mark).fetchone() == passed, "a failing build moved the mark"
            conn.execute(restore)
        assert set(_invariant_statuses(every_row=False).values()) == {"pass"}
        assert conn.execute(mark).fetchone()[1] > passed[1], "a passing build sets the mark"
        # the same damage without a new validation stamp (an old row edited by hand): only the audit sees it
        conn.execute(f"update {table} set duplicate_of = '{duplicate}' where transaction_id = '{first}'")
        assert set(_invariant_statuses(every_row=False).values()) == {"pass"}
        assert _invariant_statuses()[MONEY_INVARIANTS[2]] == "fail"
        assert conn.execute(mark).fetchone() is None, "a failed audit leaves every row to check"
    finally:
        conn.execute(restore)
    assert set(_invariant_statuses().values()) == {"pass"}


def test_finflow_audit_checks_every_row_and_fails_naming_the_invariant(built, capsys):
    """``finflow audit`` (the nightly warehouse_audit job, run now): exit 0 and the mark set when every row passes;
    exit 1 naming the failing invariant when an old row was damaged, which a tick's build would not look at."""
    from finflow_assets.cli import main

    _, conn, _ = built
    table = "validation.int_transactions__validated"
    first, _, duplicate = _two_kept_and_a_duplicate(conn, table)
    assert main(["audit"]) == 0
    assert conn.execute("select count(*) from validation.int_transactions__invariants_passed").fetchone()[0] == 1
    conn.execute(f"update {table} set duplicate_of = '{duplicate}' where transaction_id = '{first}'")
    try:
        capsys.readouterr()
        assert main(["audit"]) == 1
        assert "assert_duplicates_point_to_kept_rows (fail)" in capsys.readouterr().err
    finally:
        conn.execute(f"update {table} set duplicate_of = null where transaction_id = '{first}'")
    assert main(["audit"]) == 0
