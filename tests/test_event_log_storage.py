"""FinFlow's Dagster instance: the event log keeps index.db open, and records exactly what Dagster's default does."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from finflow_assets.event_log_storage import IndexPooledSqliteEventLogStorage
from finflow_assets.settings import write_dagster_yaml

CHECK = dg.AssetCheckKey(dg.AssetKey("ledger"), "balanced")


@dg.asset(check_specs=[dg.AssetCheckSpec("balanced", asset="ledger")])
def ledger():
    yield dg.Output(3)
    yield dg.AssetCheckResult(check_name="balanced", passed=True)


def _instance(folder: Path) -> dg.DagsterInstance:
    write_dagster_yaml(folder)  # the data folder's dagster.yaml, as FinFlow writes it on first use
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
    import finflow_assets.event_log_storage as module

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
