"""FinFlow installs from its wheel: ``pip install .`` (not editable) ships the dbt project (models, macros, seeds,
tests, profiles) inside the package with its manifest already parsed, the review app's pages, the ML library and
the simulator; nothing generated besides the manifest. The slow variant installs the wheel into a fresh virtualenv
and runs ``finflow demo`` from another directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

# what a clone has that is not source: never copied into the build, never in the wheel
GENERATED = (".git", ".venv", ".finflow", "build", "*.egg-info", "target", "dbt_packages", "logs", "__pycache__")
GENERATED += (".pytest_cache", ".ruff_cache", ".import_linter_cache", ".hypothesis", ".user.yml", "data")
PACKAGED = "finflow_assets/dbt_project/"


def _project_files(folder: str, suffix: str) -> set[str]:
    root = REPO_ROOT / "dbt_project"
    return {p.relative_to(root).as_posix() for p in (root / folder).rglob(f"*{suffix}")}


def _build_requirements_installed() -> bool:
    """Whether this environment has what pyproject.toml's ``[build-system]`` requires, in the versions it asks."""
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        try:
            if not requirement.specifier.contains(version(requirement.name), prereleases=True):
                return False
        except PackageNotFoundError:
            return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip install .`` builds, from a copy of the sources (the build writes build/ beside them)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "finflow"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*GENERATED))
    # the dev extra installs the build requirements here: no isolated build environment to set up
    isolation = ["--no-build-isolation"] if _build_requirements_installed() else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, str(source)]
    done = subprocess.run(
        [*command, "-w", str(work / "dist")],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next((work / "dist").glob("finflow-*.whl"))


def test_the_wheel_ships_the_dbt_project_with_its_manifest(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {n.removeprefix(PACKAGED) for n in names if n.startswith(PACKAGED)}
    for folder, suffix in (("models", ".sql"), ("models", ".yml"), ("macros", ".sql"), ("seeds", ".csv")):
        expected = _project_files(folder, suffix)
        assert expected and expected <= packaged, f"{folder}/*{suffix} missing: {sorted(expected - packaged)}"
    assert {"dbt_project.yml", "profiles.yml", "target/manifest.json"} <= packaged
    # dbt's generated files other than the manifest stay out (partial parses and logs name the build's paths)
    assert not [n for n in packaged if n.startswith("logs/") or n.endswith((".msgpack", ".gpickle", "dbt.log"))]

    manifest = json.loads(zipfile.ZipFile(wheel).read(PACKAGED + "target/manifest.json"))
    models = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert models == {Path(p).stem for p in _project_files("models", ".sql")}


def test_the_wheel_ships_every_package_and_no_generated_state(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("finflow_assets/definitions.py", "finflow_assets/cli.py", "ml/registry.py", "ml/seeds.py"):
        assert module in names
    assert any(n.startswith("finflow_simulator/") for n in names)
    assert any(n.startswith("finflow_assets/review_app/templates/") and n.endswith(".html") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "bench/", ".finflow/", "dbt_project/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "finflow = finflow_assets.cli:main" in scripts


@pytest.mark.slow
def test_installed_from_the_wheel_the_demo_runs_from_another_directory(wheel: Path, tmp_path: Path):
    """Minutes: a fresh virtualenv gets FinFlow's dependencies from the package index."""
    # nothing of this clone or this process's settings: no PYTHONPATH (pip would take the clone for an install)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINFLOW_", "DAGSTER_", "MLFLOW_", "PYTHON"))}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=env, check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert (venv / "bin" / "finflow").exists(), install.stdout[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["HOME"] = str(elsewhere)  # the data folder's default is ~/.finflow outside a clone
    demo = subprocess.run(
        [str(venv / "bin" / "finflow"), "demo", "--days", "1", "--per-day", "300"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    try:
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert "fct_transactions:" in demo.stdout
        assert (elsewhere / ".finflow" / "dagster" / "dagster.yaml").is_file()
    finally:
        subprocess.run([str(venv / "bin" / "finflow"), "db", "stop"], cwd=elsewhere, env=env, timeout=120)
