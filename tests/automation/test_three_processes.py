"""FinFlow deployed the way a platform team runs Dagster: the code location as a gRPC server, ``dagster-webserver``
and ``dagster-daemon`` as three separate processes sharing one Dagster instance on PostgreSQL, runs executed with
the multiprocess executor (``FINFLOW_EXECUTOR``). Nobody starts a run: the daemon's scheduler launches the API pull
on its every-minute tick (``FINFLOW_TICK_CRON``), the run pulls the simulator's APIs over real HTTP into the
warehouse, and the test reads the run, its executor and the materializations back over the webserver's GraphQL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from finflow_assets.settings import write_dagster_yaml
from finflow_assets.sources.registry import SOURCES
from finflow_simulator import generate
from finflow_simulator.api_server import serve
from tests.conftest import REPO_ROOT, fresh_dagster_database, fresh_database

SCHEDULE = "api_sources_every_15_minutes"
API_SOURCES = [spec for spec in SOURCES if spec.kind == "api"]
TIMEOUT = 420.0  # the next minute's tick, then a run whose steps each start a Python process, on a loaded machine

# minutes (the next minute's tick, then a process per step): a long variant, make test-slow
pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

RUNS = """
query ScheduledRuns($schedule: String!) {
  runsOrError(filter: {tags: [{key: "dagster/schedule_name", value: $schedule}]}) {
    ... on Runs { results { runId status } }
  }
}"""
ENGINE_EVENTS = """
query RunLog($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}"""
INSTIGATORS = """
query Instigators {
  repositoriesOrError { ... on RepositoryConnection { nodes { sensors { id name } schedules { id name } } } }
}"""
STOP_SENSOR = """
mutation StopSensor($id: String) { stopSensor(id: $id) { __typename ... on PythonError { message } } }"""
STOP_SCHEDULE = """
mutation StopSchedule($id: String) { stopRunningSchedule(id: $id) { __typename ... on PythonError { message } } }"""
MATERIALIZATIONS = """
query Materializations($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(limit: 5) { runId } }
  }
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Deployment:
    """The three processes, each in a session of its own so that it and whatever it starts (run workers, step
    processes) are stopped together."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.grpc_port, self.web_port = _free_port(), _free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()  # schedules switched off
        self.workspace = root / "workspace.yaml"
        self.workspace.write_text(
            "load_from:\n"
            f"  - grpc_server:\n      host: 127.0.0.1\n      port: {self.grpc_port}\n      location_name: finflow\n"
        )

    def start(self, name: str, *command: str) -> None:
        tool = Path(sys.executable).parent / command[0]
        with (self.root / f"{name}.log").open("w") as log:
            self.processes[name] = subprocess.Popen(
                [str(tool), *command[1:]],
                cwd=self.root,  # not the repository: nothing is found by being beside it
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def graphql(self, query: str, **variables: object) -> dict:
        response = httpx.post(
            f"http://127.0.0.1:{self.web_port}/graphql", json={"query": query, "variables": variables}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def instigators(self) -> dict[str, list[dict]]:
        """Every sensor and schedule of the loaded code location (empty until the webserver has loaded it)."""
        nodes = self.graphql(INSTIGATORS)["repositoriesOrError"].get("nodes") or []
        return {kind: [i for node in nodes for i in node[kind]] for kind in ("sensors", "schedules") if nodes}

    def stop_schedule(self, name: str) -> None:
        if name not in self.stopped:
            schedule = next(s for s in self.instigators()["schedules"] if s["name"] == name)
            stopped = self.graphql(STOP_SCHEDULE, id=schedule["id"])["stopRunningSchedule"]
            assert stopped["__typename"] == "ScheduleStateResult", stopped
            self.stopped.add(name)

    def only_the_api_schedule(self) -> None:
        """Switch off every sensor and schedule but the API pull's (each is on by default), over GraphQL."""
        found = self.instigators()
        for sensor in found["sensors"]:
            stopped = self.graphql(STOP_SENSOR, id=sensor["id"])["stopSensor"]
            assert stopped["__typename"] == "StopSensorMutationResult", stopped
        for schedule in found["schedules"]:
            if schedule["name"] != SCHEDULE:
                self.stop_schedule(schedule["name"])

    def wait_for(self, what: str, predicate, timeout: float = TIMEOUT):  # noqa: ANN001, ANN201
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited ({process.returncode}):\n{self.tail(name)}"
            with contextlib.suppress(httpx.HTTPError):
                found = predicate()
                if found:
                    return found
            time.sleep(2)
        logs = "\n".join(f"--- {name} ---\n{self.tail(name)}" for name in self.processes)
        pytest.fail(f"timed out waiting for {what}\n{logs}")

    def tail(self, name: str, lines: int = 30) -> str:
        return "\n".join((self.root / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> dict[str, int]:
        """SIGTERM to each process group, SIGKILL to what is left after 15 s; returns each process's exit code."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():  # the group's stragglers too (a run worker mid-step)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        return {name: process.returncode for name, process in self.processes.items()}


@pytest.fixture(scope="module")
def deployment(finflow_home, tmp_path_factory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("three-processes")
    home = root / "home"
    with fresh_database("test_three_processes") as url, contextlib.ExitStack() as stack:
        # the instance's own database (not the worker's shared `dagster` one): this test's runs only
        instance_url = fresh_dagster_database(url, "test_three_processes_dagster")
        sim = generate(root / "landing", root / "truth", days=1, per_day=120, seed=5, api_dir=root / "api")
        api = stack.enter_context(serve(sim.api_dir))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FINFLOW_", "DAGSTER_", "MLFLOW_"))},
            **api.env(),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "FINFLOW_HOME": str(home),
            "FINFLOW_DATABASE_URL": url,
            "FINFLOW_DAGSTER_PG_URL": instance_url,  # postgresql+psycopg2://…: Dagster reads it as it is
            "FINFLOW_EXECUTOR": "multiprocess",
            "FINFLOW_TICK_CRON": "* * * * *",
            "DAGSTER_HOME": str(home / "dagster"),
        }
        write_dagster_yaml(home / "dagster")  # the product's instance settings, as a deploy script writes them
        deployment = Deployment(root, env)
        deployment.start("code-server", "dagster", "api", "grpc", "-m", "finflow_assets.definitions",
                         "-h", "127.0.0.1", "-p", str(deployment.grpc_port))  # fmt: skip
        deployment.wait_for("the code server to listen", lambda: _listening(deployment.grpc_port))
        deployment.start("webserver", "dagster-webserver", "-w", str(deployment.workspace),
                         "-h", "127.0.0.1", "-p", str(deployment.web_port))  # fmt: skip
        deployment.wait_for("the webserver to load the code location", lambda: deployment.instigators())
        deployment.only_the_api_schedule()  # as an operator would in the UI: the test waits on that one tick alone
        deployment.start("daemon", "dagster-daemon", "run", "-w", str(deployment.workspace))
        try:
            yield deployment
        finally:
            codes = deployment.stop()
            assert all(code is not None for code in codes.values())


def test_a_scheduled_tick_lands_api_data_through_three_processes(deployment: Deployment, db):
    def succeeded_run() -> str | None:
        runs = deployment.graphql(RUNS, schedule=SCHEDULE)["runsOrError"]["results"]
        if runs:  # one tick is the test: later ones (every minute) would only compete with it for the CPU
            deployment.stop_schedule(SCHEDULE)
        failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
        assert not failed, f"the scheduled run failed: {failed}\n{deployment.tail('daemon')}"
        return next((r["runId"] for r in runs if r["status"] == "SUCCESS"), None)

    run_id = deployment.wait_for("the scheduled API pull to succeed", succeeded_run)

    # each step ran in a process of its own: the multiprocess executor, chosen by FINFLOW_EXECUTOR
    events = deployment.graphql(ENGINE_EVENTS, runId=run_id)["logsForRun"]["events"]
    messages = [e.get("message") or "" for e in events]
    assert any("multiprocess executor" in m for m in messages), messages[:10]

    # every API source's asset was materialized by that run, and its rows are in the warehouse
    for spec in API_SOURCES:
        found = deployment.graphql(MATERIALIZATIONS, path=[spec.asset_name])["assetOrError"]
        assert run_id in [m["runId"] for m in found["assetMaterializations"]], spec.asset_name
    landed = {spec.name: db.execute(f"select count(*) from raw.{spec.raw_table}").fetchone()[0] for spec in API_SOURCES}
    assert all(landed.values()), landed

    # the run is in the instance's PostgreSQL database (the webserver, daemon and code server share it)
    url = deployment.env["FINFLOW_DAGSTER_PG_URL"].replace("+psycopg2", "")
    with psycopg.connect(url) as instance_db:
        stored = instance_db.execute("select status from runs where run_id = %s", (run_id,)).fetchone()
    assert stored == ("SUCCESS",)
