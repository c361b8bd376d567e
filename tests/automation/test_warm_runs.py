"""The opt-in warm run launcher (``optin/warm_runs.py``, ``FINFLOW_WARM_RUNS=1``) with real runs: a run executes in a
fork of the warm server (not a new Python process) and succeeds; terminating it interrupts that worker; the server
goes with the launcher. With a Dagster other than the tested version it launches as Dagster's default launcher does.

Private Dagster names used here, unavoidably: ``ReconstructableRepository`` and ``LaunchRunContext`` (a launcher's
own interface, to launch a run without a daemon and code server)."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher import LaunchRunContext

import finflow_assets.optin as optin
from finflow_assets.optin.warm_runs import WORKER_PID_TAG
from finflow_assets.settings import write_dagster_yaml
from finflow_assets.warehouse.connection import dagster_database_url
from tests.automation import warm_run_jobs
from tests.conftest import REPO_ROOT

LAUNCHER = {"module": "finflow_assets.optin.warm_runs", "class": "WarmRunLauncher"}


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"run_launcher": LAUNCHER}) as instance:
        yield instance


def _launch(instance: dg.DagsterInstance, job: dg.JobDefinition, run_config: dict | None = None) -> dg.DagsterRun:
    repository = ReconstructableRepository.for_module(warm_run_jobs.__name__, "defs", str(REPO_ROOT))
    origin = repository.get_reconstructable_job(job.name).get_python_origin()
    run = instance.create_run_for_job(job_def=job, run_config=run_config, job_code_origin=origin)
    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return run


def _wait_until_finished(instance: dg.DagsterInstance, run_id: str, timeout: float = 120.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish in {timeout} s")


def test_a_run_executes_in_a_fork_of_the_warm_server(instance, tmp_path):
    record = tmp_path / "worker.txt"
    run = _launch(instance, warm_run_jobs.recorded, {"ops": {"record_the_worker": {"config": {"record": str(record)}}}})
    finished = _wait_until_finished(instance, run.run_id)
    assert finished.status == dg.DagsterRunStatus.SUCCESS
    worker, parent = (int(n) for n in record.read_text().split())
    server = instance.run_launcher._server
    assert parent == server.process.pid  # forked by the server, which had the libraries imported
    assert finished.tags[WORKER_PID_TAG] == str(worker)
    assert any(f"Started process for run (pid: {worker})" in e.message for e in instance.all_logs(run.run_id))
    assert psutil.Process(server.process.pid).cmdline()[-2:] == ["finflow_assets.optin.warm_runs", server.path]


def test_terminating_a_run_interrupts_its_worker(instance):
    run = _launch(instance, warm_run_jobs.waiting)
    deadline = time.monotonic() + 120
    while not any("wait_to_be_terminated" in (e.step_key or "") for e in instance.all_logs(run.run_id)):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.2)
    assert instance.run_launcher.terminate(run.run_id)
    finished = _wait_until_finished(instance, run.run_id, timeout=60)
    assert finished.status == dg.DagsterRunStatus.CANCELED
    worker = int(finished.tags[WORKER_PID_TAG])
    deadline = time.monotonic() + 30  # the worker records the cancellation, then exits: on a busy machine, not at once
    while _alive(worker):
        assert time.monotonic() < deadline, f"worker {worker} still running after its run was canceled"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_server_stops_with_the_launcher(tmp_path):
    record = tmp_path / "worker.txt"
    with dg.instance_for_test(overrides={"run_launcher": LAUNCHER}) as instance:
        run = _launch(
            instance, warm_run_jobs.recorded, {"ops": {"record_the_worker": {"config": {"record": str(record)}}}}
        )
        _wait_until_finished(instance, run.run_id)
        server = instance.run_launcher._server
    assert server.process.poll() is not None
    assert not Path(server.folder).exists()


def test_switched_off_it_leaves_runs_to_dagsters_default_launcher(instance, monkeypatch):
    monkeypatch.setenv("FINFLOW_WARM_RUNS", "0")
    run = instance.create_run_for_job(job_def=warm_run_jobs.waiting)
    # the default launcher needs a code server to launch through: without a workspace it says so
    with pytest.raises(Exception, match="workspace"):
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    assert instance.run_launcher._server is None


def test_an_edit_to_finflows_code_reaches_the_next_run(instance, tmp_path):
    """The server holds FinFlow's definitions imported: after a file of them is saved, the next run gets a fresh
    server (and the edit), not the old import."""
    import finflow_assets.forkserver

    config = {"ops": {"record_the_worker": {"config": {"record": str(tmp_path / "worker.txt")}}}}
    first = _launch(instance, warm_run_jobs.recorded, config)
    assert _wait_until_finished(instance, first.run_id).status == dg.DagsterRunStatus.SUCCESS
    old = instance.run_launcher._server.process.pid
    Path(finflow_assets.forkserver.__file__).touch()  # as an editor saving it
    second = _launch(instance, warm_run_jobs.recorded, config)
    assert _wait_until_finished(instance, second.run_id).status == dg.DagsterRunStatus.SUCCESS
    new = instance.run_launcher._server.process.pid
    assert new != old
    assert int((tmp_path / "worker.txt").read_text().split()[1]) == new


def test_with_another_dagster_version_it_is_the_default_launcher(instance, monkeypatch, caplog):
    monkeypatch.setitem(optin.TESTED_VERSIONS, "dagster", "0.0.1")
    optin.version_tested.cache_clear()
    try:
        run = instance.create_run_for_job(job_def=warm_run_jobs.waiting)
        with pytest.raises(Exception, match="workspace"):  # Dagster's own launch path, as when switched off
            instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    finally:
        optin.version_tested.cache_clear()
    assert instance.run_launcher._server is None
    assert "written for dagster 0.0.1" in caplog.text and "falling back" in caplog.text


def test_dagster_yaml_names_it_only_when_opted_in(finflow_home, tmp_path, monkeypatch):
    monkeypatch.delenv("FINFLOW_WARM_RUNS", raising=False)
    monkeypatch.delenv("FINFLOW_DAGSTER_PG_URL", raising=False)
    monkeypatch.setenv("FINFLOW_DAGSTER_PG_URL", dagster_database_url())  # the instance is on PostgreSQL
    with dg.DagsterInstance.from_config(str(write_dagster_yaml(tmp_path).parent)) as stock:
        assert type(stock.run_launcher) is dg.DefaultRunLauncher
        assert type(stock.run_storage).__name__ == "PostgresRunStorage"
        assert stock.run_monitoring_enabled  # a run whose worker is lost is failed, not left STARTING
    monkeypatch.setenv("FINFLOW_WARM_RUNS", "1")
    with dg.DagsterInstance.from_config(str(write_dagster_yaml(tmp_path).parent)) as warm:  # unedited: rewritten
        assert type(warm.run_launcher).__name__ == "WarmRunLauncher"
        assert warm.run_monitoring_enabled
