"""The opt-in event log (``optin/event_log_storage.py``, ``FINFLOW_WARM_RUNS=1``): it keeps index.db open and records
exactly what Dagster's default does; with another Dagster version it is Dagster's default. Also: a data folder's
``dagster.yaml`` written by an older FinFlow (the old module paths) is migrated.

FinFlow's own instance is on PostgreSQL; this storage serves a data folder whose ``dagster.yaml`` keeps Dagster's
SQLite storage (an edited file), so the tests here write that file themselves.

Private names used here, unavoidably: the storage's own ``_index_engine`` / ``_run_engines`` (what is pooled) and
Dagster's ``sqlite_event_log`` constants the module mirrors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

import finflow_assets.optin as optin
from finflow_assets.optin.event_log_storage import IndexPooledSqliteEventLogStorage
from finflow_assets.settings import _LEGACY_YAML, POSTGRES_STORAGE_YAML, dagster_yaml, write_dagster_yaml

SQLITE_POOLED = """\
event_log_storage:
  module: finflow_assets.optin.event_log_storage
  class: IndexPooledSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
"""
CHECK = dg.AssetCheckKey(dg.AssetKey("ledger"), "balanced")


@dg.asset(check_specs=[dg.AssetCheckSpec("balanced", asset="ledger")])
def ledger():
    yield dg.Output(3)
    yield dg.AssetCheckResult(check_name="balanced", passed=True)


def _instance(folder: Path) -> dg.DagsterInstance:
    folder.mkdir(parents=True, exist_ok=True)
    event_log_dir = json.dumps(str(folder.resolve() / "history" / "runs"))
    (folder / "dagster.yaml").write_text(SQLITE_POOLED.format(event_log_dir=event_log_dir))
    return dg.DagsterInstance.from_config(str(folder))


def test_the_data_folders_instance_uses_it_in_dagsters_default_place(tmp_path: Path):
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, IndexPooledSqliteEventLogStorage)
        assert Path(storage._base_dir) == tmp_path.resolve() / "history" / "runs"


def test_runs_are_recorded_for_other_processes_through_one_index_connection(tmp_path: Path):
    with _instance(tmp_path) as writer:
        first = dg.materialize([ledger], instance=writer)
        engine = writer.event_log_storage._index_engine
        second = dg.materialize([ledger], instance=writer)
        assert first.success and second.success
        assert engine is not None and writer.event_log_storage._index_engine is engine, "index.db was reopened"

        # a run's own database is closed after each write, as Dagster does: nothing is left in its -wal file,
        # so the UI's watcher (which follows the .db file) sees every event of a running run
        runs_dir = tmp_path / "history" / "runs"
        assert (runs_dir / f"{second.run_id}.db").exists()
        assert not (runs_dir / f"{second.run_id}.db-wal").exists()

        # another instance on the same folder (the UI's or the daemon's process) sees both runs' asset events
        # and check results in the index, while the writer's connection is still open
        with dg.DagsterInstance.from_config(str(tmp_path)) as reader:
            materializations = reader.fetch_materializations(dg.AssetKey("ledger"), limit=10).records
            assert sorted(r.run_id for r in materializations) == sorted([first.run_id, second.run_id])
            checks = reader.event_log_storage.get_asset_check_execution_history(CHECK, limit=10)
            assert sorted(c.run_id for c in checks) == sorted([first.run_id, second.run_id])
            assert all(c.evaluation.passed for c in checks)
            assert len(reader.get_runs()) == 2

    assert writer.event_log_storage._index_engine is None  # disposed with the instance


def test_a_wiped_instance_starts_empty_and_records_again(tmp_path: Path):
    with _instance(tmp_path) as instance:
        dg.materialize([ledger], instance=instance)
        instance.wipe()
        assert instance.fetch_materializations(dg.AssetKey("ledger"), limit=10).records == []
        again = dg.materialize([ledger], instance=instance)
        records = instance.fetch_materializations(dg.AssetKey("ledger"), limit=10).records
        assert [r.run_id for r in records] == [again.run_id]


def test_a_forked_child_writes_through_a_connection_of_its_own(tmp_path: Path):
    with _instance(tmp_path) as instance:
        dg.materialize([ledger], instance=instance)
        parents = instance.event_log_storage._index_engine
        pid = os.fork()
        if pid == 0:  # the child: a run of its own, recorded through a new connection
            try:
                result = dg.materialize([ledger], instance=instance)
                own = instance.event_log_storage._index_engine is not parents
                os._exit(0 if result.success and own else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's connection is untouched and still records; all three runs are in the index
        assert dg.materialize([ledger], instance=instance).success
        assert instance.event_log_storage._index_engine is parents
        assert len(instance.fetch_materializations(dg.AssetKey("ledger"), limit=10).records) == 3


def test_a_runs_database_engine_is_made_once_and_only_the_latest_are_kept(tmp_path: Path, monkeypatch):
    """Each run's database gets one SQLAlchemy engine, reused for every write to it (Dagster's makes one per write
    and compiles every insert anew), and only the most recently written runs' engines are kept."""
    import finflow_assets.optin.event_log_storage as module

    monkeypatch.setattr(module, "RUN_ENGINES_KEPT", 2)
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        runs = [dg.materialize([ledger], instance=instance) for _ in range(3)]
        assert all(run.success for run in runs)
        assert list(storage._run_engines) == [run.run_id for run in runs[1:]]
        latest = runs[-1].run_id
        engine = storage._run_engines[latest]
        instance.report_engine_event("one more event", instance.get_run_by_id(latest))
        assert storage._run_engines[latest] is engine
        assert "one more event" in [entry.message for entry in instance.all_logs(latest)]
        # the first run's engine was let go; writing to that run again makes a new one
        instance.report_engine_event("late event", instance.get_run_by_id(runs[0].run_id))
        assert list(storage._run_engines) == [latest, runs[0].run_id]
        assert not (tmp_path / "history" / "runs" / f"{latest}.db-wal").exists()
    assert not storage._run_engines  # disposed with the instance


def test_its_constants_are_dagsters():
    from dagster._core.storage.event_log.sqlite import sqlite_event_log

    import finflow_assets.optin.event_log_storage as module

    assert module.INDEX_SHARD_NAME == sqlite_event_log.INDEX_SHARD_NAME
    assert module.SQLITE_BUSY_TIMEOUT_SECONDS == sqlite_event_log.SQLITE_BUSY_TIMEOUT_SECONDS


def test_with_another_dagster_version_it_is_dagsters_own_storage(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(optin.TESTED_VERSIONS, "dagster", "0.0.1")
    optin.version_tested.cache_clear()
    try:
        with _instance(tmp_path) as instance:
            assert dg.materialize([ledger], instance=instance).success
            storage = instance.event_log_storage
            assert storage._index_engine is None and not storage._run_engines  # nothing pooled: Dagster's writes
            assert len(instance.fetch_materializations(dg.AssetKey("ledger"), limit=10).records) == 1
    finally:
        optin.version_tested.cache_clear()


def test_an_old_data_folders_dagster_yaml_is_migrated(tmp_path: Path, monkeypatch):
    """FinFlow before the opt-ins wrote the warm classes under other module paths, and before PostgreSQL no storage:
    an unedited file becomes the current settings (PostgreSQL); an edited one keeps the user's edits and storage
    choice with the classes' module paths moved; an edited one naming no storage gets the PostgreSQL block."""
    monkeypatch.delenv("FINFLOW_WARM_RUNS", raising=False)
    config = tmp_path / "dagster.yaml"
    old = _LEGACY_YAML.format(event_log_dir=f'"{tmp_path.resolve() / "history" / "runs"}"')
    config.write_text(old)
    write_dagster_yaml(tmp_path)
    assert config.read_text() == dagster_yaml(tmp_path, warm_runs=False)
    assert "postgres_url:\n      env: FINFLOW_DAGSTER_PG_URL" in config.read_text()
    sqlite_stock = dagster_yaml(tmp_path, warm_runs=False).replace(POSTGRES_STORAGE_YAML, "")  # FinFlow until #24
    config.write_text(sqlite_stock)
    write_dagster_yaml(tmp_path)
    assert config.read_text() == dagster_yaml(tmp_path, warm_runs=False)
    config.write_text(old.replace("max_concurrent_runs: 4", "max_concurrent_runs: 2"))  # a user's edit
    write_dagster_yaml(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.event_log_storage) is IndexPooledSqliteEventLogStorage
        assert type(instance.run_launcher).__name__ == "WarmRunLauncher"
    assert "max_concurrent_runs: 2" in config.read_text() and "postgres" not in config.read_text()
    config.write_text(sqlite_stock.replace("max_concurrent_runs: 4", "max_concurrent_runs: 2"))
    write_dagster_yaml(tmp_path)
    assert config.read_text() == sqlite_stock.replace("max_concurrent_runs: 4", "max_concurrent_runs: 2") + (
        POSTGRES_STORAGE_YAML
    )
