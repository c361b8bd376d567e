"""The wheel ships the dbt project with its manifest already parsed (everything else is in pyproject.toml).

``pip install .`` copies ``dbt_project/`` (models, macros, seeds, tests, profiles) into the package as
``finflow_assets/dbt_project`` and runs ``dbt parse`` there, so an installed FinFlow loads its definitions from the
packaged ``target/manifest.json`` without parsing anything on import (dagster-dbt's "prepare and package" done at
build time). dbt-core and dbt-postgres are build requirements for that. An editable install (``make install``)
uses the clone's ``dbt_project/`` and prepares its manifest on first use instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# dbt's own generated folders and local files never go into the wheel
NOT_SHIPPED = ("target", "dbt_packages", "logs", ".user.yml", "__pycache__")


class BuildPyWithDbtProject(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        packaged = Path(self.build_lib) / "finflow_assets" / "dbt_project"
        shutil.rmtree(packaged, ignore_errors=True)
        shutil.copytree(HERE / "dbt_project", packaged, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        prepare_manifest(packaged)


def prepare_manifest(project_dir: Path) -> None:
    """``dbt parse`` of the packaged project for the ``prod`` target (the profile's connection is not opened)."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args = ["parse", "--quiet", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    # the target path is named, so a DBT_TARGET_PATH in the builder's environment cannot send the manifest elsewhere
    target = ["--target-path", str((project_dir / "target").resolve())]
    result = dbtRunner().invoke([*args, *target, "--target", "prod", "--log-path", str(project_dir / "logs")])
    if not result.success:
        raise SystemExit(f"dbt parse of the packaged dbt project failed: {result.exception}")
    for leftover in ("logs", "target/partial_parse.msgpack", "target/graph.gpickle", "target/graph_summary.json"):
        path = project_dir / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


setup(cmdclass={"build_py": BuildPyWithDbtProject})
