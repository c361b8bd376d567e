"""``finflow-dbt``, the dbt command the Dagster steps run, is dbt-core's CLI with its exit status and output."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
