"""Warm run workers: the runs the daemon launches (schedules, sensors, the UI's queue) start in a fork of a process
that has Dagster, dagster-dbt, dbt-core, pandas, MLflow, skops and scikit-learn imported already.

Dagster's default launcher asks the code server to start each run in a new Python process, which imports all of that
again before the run's first step: ~2 s to load the definitions and ~3.5 s more to import MLflow, skops and scikit-
learn before the first model scores, on every 15-minute tick (measured: ``bench/bench_tick.py --worker``).
``WarmRunLauncher`` (opt-in: with ``FINFLOW_WARM_RUNS=1`` the data folder's ``dagster.yaml`` names it) keeps one
``forkserver`` per daemon that holds those libraries and FinFlow's definitions imported, and runs each run as
``dagster api execute_run`` would, in a fork of it. Before each fork the server checks that no file of FinFlow's
code or dbt project (nor the dbt manifest) changed since it imported them; if one did, it ends unanswered and the
launcher starts a fresh server, so an edit reaches the next run as it does with Dagster's own launcher (that run
waits for the imports, ~6 s).

- A run whose code location uses another Python, a server that cannot be reached, ``FINFLOW_WARM_RUNS=0`` in the
  daemon's environment, or a Dagster other than the tested version (``optin.version_tested``) launch the default
  way (through the code server). It uses Dagster's private ``execute_run`` CLI callback and run serialization:
  that is why it is opt-in.
- The run's worker pid is its tag ``finflow/run_worker_pid``; terminating the run interrupts that process as
  Dagster's own termination does (SIGINT: the run is marked canceled).
- The server sits in a session of its own; it ends when the daemon is gone, runs in progress go on.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

from dagster import DefaultRunLauncher

from .. import forkserver
from ..forkserver import HEADER, STATUS, receive
from . import WARM_RUNS_ENV, version_tested

if TYPE_CHECKING:
    from dagster._core.launcher import LaunchRunContext

log = logging.getLogger(__name__)

WORKER_PID_TAG = "finflow/run_worker_pid"
# what a run imports on its way: Dagster and dagster-dbt (with the dbt-core modules it reads the manifest with), the
# connectors' and parsers' libraries, MLflow with its SQL stores (0.7 s of the first registry call), skops (2.7 s:
# it lists scikit-learn's estimators), the models' classes and, last, FinFlow's own definitions
PRELOADED = (
    "dagster",
    "dagster._cli.api",
    "dagster_dbt",
    "dbt.graph",
    "pandas",
    "psycopg",
    "httpx",
    "tenacity",
    "psutil",
    "mt940",
    "ofxtools.Parser",
    "ofxtools.models",
    "bai2",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "skops.io",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.feature_extraction.text",
    "sklearn.pipeline",
    "finflow_assets.definitions",  # ~0.6 s more; checked for edits before every run (code_stamp)
)


# ------------------------------------------------------------------------------------------------- the server


def code_stamp() -> float:
    """The newest modification time among FinFlow's Python code, its dbt project and the dbt manifest: definitions
    imported before it are out of date."""
    from pathlib import Path

    from ..settings import DBT_PROJECT_DIR
    from ..transform.project import dbt_project, newest_source_mtime

    packages = [Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "ml"]
    files = [p for package in packages for p in package.rglob("*.py")]
    manifest = Path(dbt_project.manifest_path)
    newest = [newest_source_mtime(Path(DBT_PROJECT_DIR)), *(p.stat().st_mtime for p in files)]
    if manifest.exists():
        newest.append(manifest.stat().st_mtime)
    return max(newest)


def serve(path: str) -> None:
    stamp = code_stamp()  # before the imports: an edit made while they run counts too
    forkserver.serve(path, PRELOADED, _execute_run, still_current=lambda: code_stamp() <= stamp)


def _execute_run(conn: socket.socket) -> None:
    """In the fork: report this process's pid, then run the run exactly as ``dagster api execute_run`` does."""
    status = 1
    try:
        request = receive(conn, HEADER.unpack(receive(conn, HEADER.size))[0]).decode()
        conn.sendall(STATUS.pack(os.getpid()))
        conn.close()
        from dagster._cli.api import execute_run_command

        try:
            execute_run_command.callback(input_json=request, compressed_input_json=None)
            status = 0
        except SystemExit as stop:  # (the command exits non-zero when asked to on a failed run)
            status = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def launch_on_server(path: str, serialized_args: str) -> int:
    """Start a run (serialized ``ExecuteRunArgs``) on the server at ``path``; the worker's pid (OSError if the server
    could not take it: then nothing runs)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60.0)  # a server still importing answers within seconds
        conn.connect(path)
        payload = serialized_args.encode()
        conn.sendall(HEADER.pack(len(payload)) + payload)
        return STATUS.unpack(receive(conn, STATUS.size))[0]


# ------------------------------------------------------------------------------------------------- the launcher


class WarmRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, with each run started in a fork of a warm process (see the module's docs)."""

    def __init__(self, inst_data=None) -> None:  # noqa: ANN001 - dagster's ConfigurableClassData
        super().__init__(inst_data=inst_data)
        self._server: forkserver.Server | None = None
        self._lock = threading.Lock()

    def _running_server(self, fresh: bool = False) -> forkserver.Server:
        with self._lock:
            if fresh or self._server is None or not self._server.running():
                if self._server is not None:
                    self._server.stop()
                # its output is the daemon's (as the code server's runs' is); its own session keeps a Ctrl-C
                # of the daemon's terminal out of runs in progress
                self._server = forkserver.start(
                    __name__, "finflow-runs-", stdout=None, stderr=None, start_new_session=True
                )
            return self._server

    def launch_run(self, context: LaunchRunContext) -> None:
        if not version_tested("warm run launcher", "dagster"):
            return super().launch_run(context)
        from dagster._grpc.types import ExecuteRunArgs
        from dagster._serdes import serialize_value

        run = context.dagster_run
        origin = run.job_code_origin
        if os.environ.get(WARM_RUNS_ENV) == "0" or origin is None or origin.executable_path != sys.executable:
            return super().launch_run(context)
        args = serialize_value(
            ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        )
        try:
            pid = launch_on_server(self._running_server().path, args)
        except OSError:  # most often: the server found FinFlow's code edited and ended; a fresh one imports it anew
            try:
                pid = launch_on_server(self._running_server(fresh=True).path, args)
            except OSError as error:
                log.warning("warm run worker unavailable (%s): run %s goes through the code server", error, run.run_id)
                return super().launch_run(context)
        self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: str(pid)})
        return None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or WORKER_PID_TAG not in run.tags:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[WORKER_PID_TAG]), signal.SIGINT)  # what Dagster's own termination sends its worker
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
        super().dispose()


if __name__ == "__main__":
    serve(sys.argv[1])
