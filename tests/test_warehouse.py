"""The embedded PostgreSQL and the one setting that swaps it for an external server."""

import os
import subprocess
import sys

from finflow_assets.warehouse import connect, database_url, dbt_env, describe_url, embedded


def test_embedded_server_runs_and_serves_the_finflow_database(finflow_home, db):
    assert embedded.running_pid() is not None
    assert db.execute("select current_database()").fetchone()[0] == "finflow"
    assert (finflow_home.pgdata / "PG_VERSION").is_file()


def test_another_process_reuses_the_running_server(finflow_home):
    pid = embedded.running_pid()
    out = subprocess.run(
        [sys.executable, "-m", "finflow_assets.cli", "db", "url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == database_url()
    assert embedded.running_pid() == pid


def test_database_url_setting_points_everything_elsewhere(finflow_home, monkeypatch):
    # an "external" server: the same PostgreSQL under another database name, reached only through the URL
    with connect(autocommit=True) as admin:
        admin.execute("drop database if exists finflow_external")
        admin.execute("create database finflow_external")
    external = database_url().replace("/finflow?", "/finflow_external?")
    monkeypatch.setenv("FINFLOW_DATABASE_URL", external)
    assert database_url() == external
    with connect() as conn:
        assert conn.execute("select current_database()").fetchone()[0] == "finflow_external"
    assert dbt_env()["FINFLOW_PG_DATABASE"] == "finflow_external"


def test_dbt_env_and_masking_parse_a_tcp_url():
    env = dbt_env("postgresql://analyst:s3cret@db.internal:6543/books")
    assert env == {
        "FINFLOW_PG_HOST": "db.internal",
        "FINFLOW_PG_PORT": "6543",
        "FINFLOW_PG_USER": "analyst",
        "FINFLOW_PG_PASSWORD": "s3cret",
        "FINFLOW_PG_DATABASE": "books",
    }
    assert "s3cret" not in describe_url("postgresql://analyst:s3cret@db.internal:6543/books")
    assert os.environ.get("FINFLOW_PG_PASSWORD") != "s3cret"
