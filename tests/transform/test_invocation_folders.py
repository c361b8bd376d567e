"""dbt's per-invocation target folders are pruned to the newest few; dbt's own target files are never touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finflow_assets.transform.project import KEPT_INVOCATION_FOLDERS, dbt_cli, prune_invocation_folders


def _make_target(target: Path, invocations: int) -> list[Path]:
    """``invocations`` folders as dagster-dbt names them (in a run, and outside one), oldest first, and dbt's own."""
    folders = []
    for i in range(invocations):
        name = f"finflow_dbt_models-{i:07x}-abc{i:04x}" if i % 2 else f"{i:07x}"
        folder = target / name
        (folder / "compiled").mkdir(parents=True)
        (folder / "dbt.log").write_text("log")
        os.utime(folder, (1_700_000_000 + i, 1_700_000_000 + i))
        folders.append(folder)
    for own in ("compiled", "run"):
        (target / own).mkdir()
    (target / "manifest.json").write_text("{}")
    (target / "partial_parse.msgpack").write_bytes(b"\x00")
    return folders


def test_keeps_the_newest_and_dbts_own_files(tmp_path: Path):
    folders = _make_target(tmp_path, 8)
    deleted = prune_invocation_folders(tmp_path, keep=3)
    assert sorted(deleted) == sorted(folders[:5])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in folders[5:]] + ["compiled", "run", "manifest.json", "partial_parse.msgpack"]
    )
    assert prune_invocation_folders(tmp_path, keep=3) == []  # idempotent


def test_every_dbt_invocation_prunes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folders = _make_target(tmp_path, KEPT_INVOCATION_FOLDERS + 4)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    invocation = dbt_cli().cli(["--version"]).wait()  # a real dbt process
    assert invocation.is_successful()
    left = {
        p for p in tmp_path.iterdir() if p.name not in {"compiled", "run", "manifest.json", "partial_parse.msgpack"}
    }
    assert left - {invocation.target_path} == set(folders[4:])
