"""The layering contract (``[tool.importlinter]`` in pyproject.toml, also in ``make lint``): the stages import one
way, warehouse/notify/ml ← sources ← transform ← intelligence ← reports ← automation, with the entry points on top,
and ``ml`` imports nothing of ``finflow_assets`` (the known exceptions are listed there, each with its reason)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_are_kept():
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path):
    """The contract is not vacuous: the same layers without the listed exceptions are broken, naming an import."""
    config = tmp_path / "contract.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    finflow_assets\n    ml\n\n"
        "[importlinter:contract:layers]\nname = stages\ntype = layers\nlayers =\n"
        "    finflow_assets.automation\n    finflow_assets.reports\n    finflow_assets.intelligence\n"
        "    finflow_assets.transform\n"
    )
    result = _lint_imports("--config", str(config))
    assert result.returncode != 0
    assert "finflow_assets.transform.assets -> finflow_assets.intelligence.scores" in result.stdout
