"""``finflow-dbt``, the dbt command the Dagster steps run, is dbt-core's CLI with its exit status and output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from finflow_assets.transform.project import dbt_executable


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([dbt_executable(), *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_steps_run_finflow_dbt():
    assert Path(dbt_executable()).name == "finflow-dbt"


def test_dbt_output_and_success():
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert "installed:" in done.stdout


def test_dbt_failure_keeps_its_status_and_message():
    done = _run("not-a-dbt-command")
    assert done.returncode == 2  # click's usage error, as from dbt itself
    assert "No such command" in done.stderr


@pytest.fixture
def warm_server():
    """A run's warm dbt server (``dbt_server``), as the dbt resource starts it; ``finflow-dbt`` is pointed at it."""
    from finflow_assets.transform.dbt_server import warm_dbt

    with warm_dbt() as path:
        yield path
    assert not Path(path).exists(), "the server's socket outlived the run"


def _server_pids() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children() if "dbt_server" in " ".join(child.cmdline())}


def test_on_the_warm_server_output_status_and_messages_are_the_same(warm_server):
    """The same command through the run's warm dbt: the output, exit status and error message of dbt itself, and
    the fork that ran it is a child of the server, not of ``finflow-dbt``."""
    assert _server_pids(), "no server started"
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert "installed:" in done.stdout
    failed = _run("not-a-dbt-command")
    assert failed.returncode == 2 and "No such command" in failed.stderr


def test_the_warm_server_saves_the_import(warm_server, tmp_path, monkeypatch):
    """``finflow-dbt`` ran on the server: importing dbt-core in ``finflow-dbt`` itself fails here, and the command
    still runs (the server imported it before the command came)."""
    (tmp_path / "dbt").mkdir()
    (tmp_path / "dbt" / "__init__.py").write_text("raise ImportError('finflow-dbt imported dbt itself')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    monkeypatch.delenv("FINFLOW_DBT_SERVER")  # the same command without the server fails on the import
    alone = _run("--version")
    assert alone.returncode != 0 and "finflow-dbt imported dbt itself" in alone.stderr


def test_without_a_server_finflow_dbt_runs_dbt_itself(tmp_path, monkeypatch):
    """A server that is gone (the run ended, or it idled out) is no failure: ``finflow-dbt`` runs dbt itself."""
    monkeypatch.setenv("FINFLOW_DBT_SERVER", str(tmp_path / "gone.sock"))
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert "installed:" in done.stdout


def test_the_server_serves_only_its_own_user(warm_server):
    """The socket is in a folder only the run's user can enter."""
    assert Path(warm_server).parent.stat().st_mode & 0o077 == 0


def test_a_writing_dbt_waits_for_the_one_already_running(db):
    """Whoever starts it (a Dagster step or an analyst by hand), a dbt that writes waits for the warehouse's dbt lock:
    incremental builds must never overlap."""
    import os
    import time

    from finflow_assets.settings import DBT_PROJECT_DIR
    from finflow_assets.transform.dbt_command import DBT_LOCK_KEY
    from finflow_assets.warehouse import database_url, dbt_env

    env = {**os.environ, **dbt_env(database_url()), "FINFLOW_DBT_SERVER": ""}
    db.execute("select pg_advisory_lock(%s)", (DBT_LOCK_KEY,))  # another build is running
    try:
        waiting = subprocess.Popen(
            [dbt_executable(), "run-operation", "no_such_macro", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", "target/lock-test"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queued = db.execute(
                "select count(*) from pg_stat_activity"
                " where application_name = 'finflow-dbt lock' and wait_event_type = 'Lock'"
            ).fetchone()[0]
            if queued:
                break
            time.sleep(0.2)
        assert queued == 1, "finflow-dbt did not wait for the lock"
        assert waiting.poll() is None
    finally:
        db.execute("select pg_advisory_unlock(%s)", (DBT_LOCK_KEY,))
    _, stderr = waiting.communicate(timeout=120)
    assert "waiting for it" in stderr
    assert waiting.returncode != 0  # dbt itself ran after the lock: it does not know the macro


def test_an_analysts_dbt_builds_their_own_schemas_not_finflows(finflow_home, monkeypatch, capfd):
    from finflow_assets.cli import main
    from finflow_assets.resources import WarehouseResource
    from finflow_assets.transform.assets import prepare_warehouse
    from finflow_assets.warehouse import connect
    from tests.conftest import fresh_database

    monkeypatch.setenv("USER", "alice")
    with fresh_database("test_dev_target"):
        prepare_warehouse(WarehouseResource())
        assert main(["dbt", "build", "--select", "stg_bank_operating__transactions", "currencies"]) == 0
        with connect() as conn:
            schemas = {row[0] for row in conn.execute("select nspname from pg_namespace").fetchall()}
    assert {"dbt_alice_staging", "dbt_alice_reference"} <= schemas
    assert "staging" not in schemas and "reference" not in schemas  # FinFlow's own (prod) schemas untouched
