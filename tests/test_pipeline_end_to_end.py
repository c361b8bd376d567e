"""The whole slice for real: simulator files -> raw (Postgres) -> dbt build -> MLflow-registered model -> report.

Uses the embedded PostgreSQL, a real dbt run and a real MLflow registry; compares with the simulator's truth.
"""

import csv
from decimal import Decimal

import pytest

from finflow_simulator import generate

DAYS, PER_DAY = 2, 300


@pytest.fixture(scope="module")
def pipeline_run(finflow_home):
    from finflow_assets.cli import materialize_everything

    sim = generate(
        finflow_home.landing,
        finflow_home.simulator / "truth",
        days=DAYS,
        per_day=PER_DAY,
        seed=11,
        history_dir=finflow_home.history,
        history_days=30,
    )
    bad = finflow_home.landing_for("bank_operating") / "operating_broken.csv"
    bad.write_text("Date,Description,Debit,Credit,Balance\r\n10/09/2026,AWS,12.00,,1.00\r\n10/09/2026,X,1O.00,,2\r\n")
    result = materialize_everything()
    return sim, result


def _truth(sim) -> list[dict]:
    with sim.truth_file.open() as handle:
        return list(csv.DictReader(handle))


def test_every_asset_materializes_and_checks_pass(pipeline_run):
    _, result = pipeline_run
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"raw_bank_operating", "fct_transactions", "categorizer_model", "transaction_categories"} <= materialized
    assert "category_summary" in materialized
    checks = result.get_asset_check_evaluations()
    dbt_checks = [c for c in checks if c.asset_key.to_user_string() == "fct_transactions"]
    assert dbt_checks and all(c.passed for c in dbt_checks)
    # the broken file fails its landing check (a warning) without breaking the run
    landing = [c for c in checks if c.check_name == "files_parsed"]
    assert landing and not landing[0].passed


def test_fct_transactions_matches_ground_truth(pipeline_run, db):
    sim, _ = pipeline_run
    truth = {(t["source_file"], int(t["source_row"])): t for t in _truth(sim)}
    rows = db.execute(
        "select source_file, source_row, amount, booked_date, direction from marts.fct_transactions"
        " where source = 'bank_operating'"
    ).fetchall()
    assert len(rows) == len(truth) == DAYS * PER_DAY
    for source_file, source_row, amount, booked_date, direction in rows:
        expected = truth[(source_file, source_row)]
        assert amount == Decimal(expected["amount"])
        assert booked_date.isoformat() == expected["booked_date"]
        assert direction == ("in" if amount > 0 else "out")


def test_bad_file_quarantined_naming_file_and_row(pipeline_run, finflow_home, db):
    note = finflow_home.landing_for("bank_operating") / "quarantine" / "operating_broken.csv.error"
    text = note.read_text()
    assert "operating_broken.csv" in text and "row 3" in text
    assert (
        db.execute("select count(*) from marts.fct_transactions where source_file = 'operating_broken.csv'").fetchone()[
            0
        ]
        == 0
    )


def test_categories_come_from_the_registered_champion(pipeline_run, db):
    from finflow_assets.settings import mlflow_tracking_uri
    from ml.registry import champion_version

    sim, _ = pipeline_run
    version = champion_version(mlflow_tracking_uri(), "finflow-categorizer")
    assert version is not None
    truth = {(t["source_file"], int(t["source_row"])): t["category"] for t in _truth(sim)}
    rows = db.execute(
        "select t.source_file, t.source_row, c.category, c.method, c.model_version"
        " from marts.fct_transactions t join ml.transaction_categories c using (transaction_id)"
    ).fetchall()
    assert len(rows) == DAYS * PER_DAY
    assert {(r[3], r[4]) for r in rows} == {("ml", version)}
    accuracy = sum(r[2] == truth[(r[0], r[1])] for r in rows) / len(rows)
    assert accuracy >= 0.9, accuracy


def test_report_files_written(pipeline_run, finflow_home, db):
    csv_files = list(finflow_home.reports.glob("*/category_summary.csv"))
    html_files = list(finflow_home.reports.glob("*/category_summary.html"))
    assert csv_files and html_files
    total = db.execute("select sum(transactions) from reports.category_summary").fetchone()[0]
    assert total == DAYS * PER_DAY


def test_rerun_is_idempotent(pipeline_run, db):
    from finflow_assets.cli import materialize_everything

    before = db.execute("select count(*), sum(amount) from marts.fct_transactions").fetchone()
    assert materialize_everything().success
    after = db.execute("select count(*), sum(amount) from marts.fct_transactions").fetchone()
    assert after == before
    raw = db.execute("select count(*) from raw.bank_operating").fetchone()[0]
    assert raw == DAYS * PER_DAY
