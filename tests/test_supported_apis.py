"""Supported APIs only by default: outside ``finflow_assets/optin/`` (the opt-in speed-ups, each behind a version
check) the product names nothing private of Dagster, dagster-dbt or dbt-core.

A grep, not an import check, so it also catches names in strings (``dagster.yaml`` module paths, preload lists) and
in functions imported lazily. tests/ and bench/ are not checked; where they use a private name (a launcher's own
``LaunchRunContext``, ``ReconstructableRepository``, the opt-in storage's internals) their docstrings say why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHECKED = ("finflow_assets", "ml", "finflow_simulator")
OPT_IN = REPO_ROOT / "finflow_assets" / "optin"
_PACKAGE = r"\b(?:dagster|dagster_\w+|dbt)"
PRIVATE = {
    "a private module": re.compile(_PACKAGE + r"(?:\.\w+)*\._\w"),
    "a private name imported": re.compile(r"\bfrom\s+" + _PACKAGE + r"(?:\.\w+)*\s+import\s+\(?[^)\n]*\b_[a-zA-Z]\w*"),
    # the members the opt-ins override, anywhere else
    "a private dagster-dbt member": re.compile(r"\b_cli_version\b|\b_initialize_dbt_core_adapter\b"),
    "a private Dagster storage member": re.compile(r"def\s+_connect\s*\("),
    "a private Dagster CLI callback": re.compile(r"\bexecute_run_command\b"),
}


def private_names(root: Path = REPO_ROOT) -> list[str]:
    """Every private Dagster/dbt name in the checked packages outside the opt-in package, as ``file:line: what``."""
    found = []
    for package in CHECKED:
        for path in sorted((root / package).rglob("*")):
            if path.suffix not in {".py", ".yaml", ".yml", ".toml"} or OPT_IN in path.parents:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                for what, pattern in PRIVATE.items():
                    if pattern.search(line):
                        found.append(f"{path.relative_to(root)}:{number}: {what}: {line.strip()}")
    return found


def test_no_private_names_outside_the_opt_in_package():
    assert private_names() == []


@pytest.mark.parametrize(
    "line",
    [
        "from dagster._core.launcher import LaunchRunContext",
        "import dagster._check as check",
        "from dagster_dbt.core.resource import _something",
        "from dagster import (DagsterInstance, _private)",
        "from dbt.cli.main import _hidden",
        "    def _cli_version(self):",
        "  module: dagster._core.storage.event_log",
    ],
)
def test_the_check_sees_a_private_name(tmp_path: Path, line: str):
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "bad.py").write_text(f"{line}\n")
    assert private_names(tmp_path) == [f"ml/bad.py:1: {private_names_kind(line)}: {line.strip()}"]


def private_names_kind(line: str) -> str:
    return next(what for what, pattern in PRIVATE.items() if pattern.search(line))


@pytest.mark.parametrize(
    "line",
    ["import dagster as dg", "from dagster_dbt import DbtCliResource", "from dbt.cli.main import dbtRunner, cli"],
)
def test_the_check_lets_public_names_be(tmp_path: Path, line: str):
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "good.py").write_text(f"{line}\n")
    assert private_names(tmp_path) == []
