"""The dbt project, with its manifest kept current (re-parsed when a model, macro or seed changed)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ..settings import DBT_PROJECT_DIR
from ..warehouse import dbt_env, embedded

log = logging.getLogger(__name__)

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The ``dbt`` next to this Python (the project's virtualenv) even when that is not on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _newest_source_mtime(project_dir: Path) -> float:
    folders = ("models", "macros", "seeds", "tests", "snapshots")
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in folders:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Run ``dbt parse`` if the manifest is missing or older than the project files (no database needed)."""
    # parse with the same connection settings the runs will export, so dbt's partial parsing stays valid
    # (a changed profile forces a full re-parse on every run)
    os.environ.update(dbt_env(os.environ.get("FINFLOW_DATABASE_URL") or embedded.expected_url()))
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(Path(project.project_dir)):
        log.info("parsing the dbt project to refresh %s", manifest)
        from dagster_dbt import DbtCliResource

        dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return manifest
