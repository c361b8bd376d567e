"""The dbt project, with its manifest kept current (re-parsed when a model, macro or seed changed)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from ..settings import DBT_PROJECT_DIR
from ..warehouse import dbt_env, embedded

log = logging.getLogger(__name__)

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The ``dbt`` next to this Python (the project's virtualenv) even when that is not on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class FinflowDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource, told the dbt-core version instead of asking ``dbt --version``.

    dagster-dbt runs ``dbt --version`` in a subprocess once per step to tell dbt-core from the Fusion engine: about
    two seconds of a 15-minute tick's budget, twice. The executable is the dbt-core installed beside this Python
    (``dbt_executable``), so the package metadata gives the same answer for free.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(package_version("dbt-core"))


def dbt_cli(project: DbtProject | None = None) -> FinflowDbtCli:
    """The dbt resource the pipeline, the tests and the benches use."""
    return FinflowDbtCli(project_dir=project or dbt_project, dbt_executable=dbt_executable())


def _newest_source_mtime(project_dir: Path) -> float:
    folders = ("models", "macros", "seeds", "tests", "snapshots")
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in folders:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def _profile_stamp(env: dict[str, str]) -> str:
    """A digest of the connection settings dbt renders its profile from (the password only as part of a hash)."""
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Run ``dbt parse`` if the manifest is missing, older than the project files, or parsed for another database.

    dbt's partial parsing (what keeps a run's start-up short) is thrown away whenever the profile differs from the
    one it was parsed with, and dagster-dbt starts each run from the project's ``target/`` files: so the parse
    here uses the connection settings the runs will export, and is redone when those change (another data folder
    or database), once, rather than by every run.
    """
    env = dbt_env(os.environ.get("FINFLOW_DATABASE_URL") or embedded.expected_url())
    os.environ.update(env)
    manifest = project.manifest_path
    stamp_file = Path(project.project_dir) / project.target_path / ".finflow_profile"
    stamp = _profile_stamp(env)
    stale = not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(Path(project.project_dir))
    if stale or not stamp_file.exists() or stamp_file.read_text() != stamp:
        log.info("parsing the dbt project to refresh %s", manifest)
        dbt_cli(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
        stamp_file.write_text(stamp)
    return manifest
