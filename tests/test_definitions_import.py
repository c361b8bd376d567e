"""Loading FinFlow's definitions (what every code server, run worker and daemon does) has no side effects: no dbt
parse, no change to the process environment, no data folder or database touched. The executor comes from
``FINFLOW_EXECUTOR``; a missing manifest is a clear error naming how to prepare it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from finflow_assets.executor import run_executor
from finflow_assets.transform.project import dbt_project
from tests.conftest import REPO_ROOT

# imports the definitions and reports what the import changed in its own process
PROBE = """
import json, os, sys
before = dict(os.environ)
import finflow_assets.definitions as definitions
changed = sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))
job = definitions.defs.resolve_implicit_global_asset_job_def()
print(json.dumps({"changed": changed, "executor": job.executor_def.name}))
"""


def _import_definitions(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )


def _target_listing(target: Path) -> dict[str, float]:
    """The dbt target folder's own files (manifest, partial parse, profile stamp) and their modification times."""
    return {p.name: p.stat().st_mtime for p in target.iterdir() if p.is_file()}


def test_importing_the_definitions_parses_nothing_and_changes_no_environment(tmp_path: Path):
    target = Path(dbt_project.project_dir) / dbt_project.target_path  # prepared by conftest's session start
    before = _target_listing(target)
    home = tmp_path / "never-created"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FINFLOW_", "DAGSTER_"))},
        "FINFLOW_HOME": str(home),
        "FINFLOW_EXECUTOR": "multiprocess",
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = _import_definitions(env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["changed"] == [], f"importing the definitions changed the environment: {report['changed']}"
    assert report["executor"] == "multiprocess"
    assert _target_listing(target) == before, "importing the definitions wrote into the dbt target folder"
    assert not home.exists(), "importing the definitions created the data folder"


def test_without_a_prepared_manifest_the_import_says_how_to_prepare_it(tmp_path: Path):
    env = {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "empty-target"), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DAGSTER_IS_DEV_CLI", None)
    done = _import_definitions(env)
    assert done.returncode != 0
    assert "no dbt manifest at" in done.stderr and "finflow prepare" in done.stderr
    assert not (tmp_path / "empty-target").exists()


def test_the_executor_is_chosen_by_configuration(monkeypatch):
    monkeypatch.delenv("FINFLOW_EXECUTOR", raising=False)
    assert run_executor() is dg.in_process_executor
    assert run_executor("multiprocess") is dg.multiprocess_executor
    with pytest.raises(ValueError, match="FINFLOW_EXECUTOR='threads' is not an executor FinFlow knows"):
        run_executor("threads")
    try:
        import dagster_k8s  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="needs the dagster-k8s package"):
            run_executor("k8s")
    else:
        assert run_executor("k8s").name == "k8s"
