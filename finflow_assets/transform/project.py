"""The dbt project, with its manifest kept current (re-parsed when a model, macro or seed changed)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dagster import InitResourceContext
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, DbtProjectPreparer

from ..settings import DBT_PROJECT_DIR
from ..warehouse import dbt_env, embedded
from .dbt_server import warm_dbt

log = logging.getLogger(__name__)

# FinFlow's runs build the profile's prod target; an analyst's dbt by hand defaults to dev (dbt_project/profiles.yml).
# DBT_TARGET_PATH (dbt's own setting, which dagster-dbt also reads) moves the manifest and invocation folders, e.g. one
# target folder per parallel test worker, each parsed for its own database.
DBT_TARGET = "prod"
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=DBT_TARGET,
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)


def dbt_executable() -> str:
    """``finflow-dbt`` (dbt-core's CLI without the interpreter's teardown at exit: ``dbt_command``) next to this
    Python, else the ``dbt`` there or on PATH (an environment installed before ``finflow-dbt`` existed)."""
    folder = Path(sys.executable).parent
    for name in ("finflow-dbt", "dbt"):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which("dbt") or "dbt"


class FinflowDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource, through its public extension points only: in a run it keeps dbt-core imported in
    a server of the run's own (``dbt_server``: ~1.1 s off each dbt step; ``FINFLOW_WARM_DBT=0`` turns that off), and
    it clears out old invocations' folders. The opt-in ``optin.fast_dbt.FastDbtCli`` saves more per step.
    """

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[FinflowDbtCli]:
        with contextlib.ExitStack() as stack:
            if os.environ.get("FINFLOW_WARM_DBT", "1") != "0":
                stack.enter_context(warm_dbt())
            with super().yield_for_execution(context) as resource:
                yield resource

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:  # type: ignore[override]
        """dagster-dbt's ``cli``, after clearing out old invocations' folders (``prune_invocation_folders``)."""
        prune_invocation_folders(Path(self.project_dir) / os.environ.get("DBT_TARGET_PATH", "target"))
        return super().cli(args, **kwargs)


# dagster-dbt gives every invocation a target folder of its own: "<step>-<run id[:7]>-<random[:7]>" inside a run,
# "<random[:7]>" outside one. Each holds the manifest, compiled SQL and dbt.log (~6 MB); at two per 15-minute tick
# that is over 1 GB a day, so only the newest few are kept, for looking into a recent failure.
KEPT_INVOCATION_FOLDERS = 20
_INVOCATION_FOLDER = re.compile(r"(?:\w+-[0-9a-f]{7}-)?[0-9a-f]{7}")


def prune_invocation_folders(target: Path, keep: int = KEPT_INVOCATION_FOLDERS) -> list[Path]:
    """Delete all but the newest ``keep`` invocation folders in dbt's ``target``; returns the deleted ones.

    dbt's own files there (the project's manifest, ``partial_parse.msgpack``, ``compiled/`` and ``run/`` of a
    ``dbt build`` run by hand) do not match the folder pattern and are left alone. dbt invocations never overlap
    (the Dagster ``dbt`` pool), so the folder of one still running is always among the newest.
    """
    if not target.is_dir():
        return []
    folders = [p for p in target.iterdir() if p.is_dir() and _INVOCATION_FOLDER.fullmatch(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return folders[keep:]


def dbt_cli(project: DbtProject | None = None) -> FinflowDbtCli:
    """The dbt resource the pipeline, the tests and the benches use."""
    return FinflowDbtCli(project_dir=project or dbt_project, dbt_executable=dbt_executable(), target=DBT_TARGET)


def newest_source_mtime(project_dir: Path) -> float:
    """The newest modification time among the dbt project's own files (models, macros, seeds, tests, settings)."""
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
    or database), once, rather than by every run. Called by the ``finflow`` commands before they load the
    definitions and by the dbt steps, never on import; the process environment is left as it was. A project folder
    that is not writable (an installed wheel's, owned by another user) keeps the manifest the wheel shipped.
    """
    env = dbt_env(os.environ.get("FINFLOW_DATABASE_URL") or embedded.expected_url())
    manifest = project.manifest_path
    target = Path(project.project_dir) / project.target_path
    stamp_file = target / ".finflow_profile"
    stamp = _profile_stamp(env)
    stale = not manifest.exists() or manifest.stat().st_mtime < newest_source_mtime(Path(project.project_dir))
    if not stale and stamp_file.exists() and stamp_file.read_text() == stamp:
        return manifest
    if manifest.exists() and not os.access(target, os.W_OK):
        log.info("%s is not writable: using its manifest as shipped", target)
        return manifest
    log.info("parsing the dbt project to refresh %s", manifest)
    command = [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir)]
    command += ["--profiles-dir", str(project.profiles_dir), "--target", DBT_TARGET, "--target-path", str(target)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse of {project.project_dir} failed:\n{done.stdout}{done.stderr}")
    stamp_file.write_text(stamp)
    return manifest


def prepared_manifest(project: DbtProject = dbt_project) -> Path:
    """The manifest the definitions are built from, as prepared at install time (the wheel ships it) or by
    ``ensure_manifest`` (the ``finflow`` commands, the tests' conftest); under ``dagster dev`` it is refreshed first
    (dagster-dbt's ``prepare_if_dev`` convention), so edits to the dbt project show up on reload."""
    if DbtProjectPreparer().using_dagster_dev():
        return ensure_manifest(project)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {project.manifest_path}: prepare it with `finflow prepare` (or any finflow command), "
            "or install FinFlow from its wheel, which ships it"
        )
    return project.manifest_path
