"""The data folder's Dagster instance is on PostgreSQL: a ``dagster`` database beside the warehouse (created on
first use), or ``FINFLOW_DAGSTER_PG_URL``; the settings file names the variable, never the URL or a password."""

from __future__ import annotations

import os

import dagster as dg
import psycopg

from finflow_assets.instance import ensure_dagster_home
from finflow_assets.warehouse import connection


@dg.asset
def tally() -> int:
    return 3


def test_the_instance_is_a_dagster_database_beside_the_warehouse(finflow_home, monkeypatch):
    monkeypatch.delenv("FINFLOW_DAGSTER_PG_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    folder = ensure_dagster_home()
    url = os.environ["FINFLOW_DAGSTER_PG_URL"]
    assert url.startswith("postgresql+psycopg2://") and "/dagster?" in url
    assert os.environ["DAGSTER_HOME"] == str(folder)
    settings = (folder / "dagster.yaml").read_text()
    assert "env: FINFLOW_DAGSTER_PG_URL" in settings and "://" not in settings  # no URL, so no password

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        run = dg.materialize([tally], instance=instance)
    assert run.success
    with psycopg.connect(url.replace("+psycopg2", "")) as db:  # the run is in that database, not in a file
        assert db.execute("select count(*) from runs where run_id = %s", (run.run_id,)).fetchone() == (1,)
        assert db.execute("select current_database()").fetchone() == ("dagster",)


def test_a_given_url_is_used_as_given_with_the_psycopg2_driver_named(monkeypatch):
    monkeypatch.setenv("FINFLOW_DAGSTER_PG_URL", "postgresql://dagster:s3cret@db.internal:5432/dagster")
    assert connection.dagster_database_url() == "postgresql+psycopg2://dagster:s3cret@db.internal:5432/dagster"
    monkeypatch.setenv("FINFLOW_DAGSTER_PG_URL", "postgresql+psycopg2://d@db/dagster")
    assert connection.dagster_database_url() == "postgresql+psycopg2://d@db/dagster"


def test_a_new_data_folder_derives_its_own_instance_database_again(finflow_home, tmp_path, monkeypatch):
    """A process that moves to another data folder (tests, benches) does not keep the first folder's instance."""
    monkeypatch.delenv("FINFLOW_DAGSTER_PG_URL", raising=False)
    ensure_dagster_home()
    first = os.environ["FINFLOW_DAGSTER_PG_URL"]
    monkeypatch.setenv("FINFLOW_DATABASE_URL", connection.with_database(connection.database_url(), "postgres"))
    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path / "other"))
    ensure_dagster_home()
    assert os.environ["FINFLOW_DAGSTER_PG_URL"] == first  # the same server: the same `dagster` database
    monkeypatch.setenv("FINFLOW_DAGSTER_PG_URL", "postgresql+psycopg2://ops@db/dagster_prod")  # one given
    ensure_dagster_home()
    assert os.environ["FINFLOW_DAGSTER_PG_URL"] == "postgresql+psycopg2://ops@db/dagster_prod"
