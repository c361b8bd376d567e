"""What the benchmarks share: a fresh data folder with its own embedded PostgreSQL, simulated days, a timed
pipeline run broken down by stage, and the peak memory of everything involved (this process, its children and
the database server), sampled while it runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psutil

STAGES = ("ingest", "dbt", "ml", "reports")


def stage_of(step_key: str) -> str:
    """Which stage a Dagster step belongs to, so the slowest stage is obvious."""
    if step_key.startswith("raw_"):
        return "ingest"
    if step_key.startswith("finflow_dbt"):
        return "dbt"
    from finflow_assets.reports.catalog import REPORTS

    if step_key in {spec.name for spec in REPORTS} | {"daily_report_email"}:
        return "reports"
    return "ml"


@dataclass
class RunFigures:
    wall: float
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds (sum of its steps)
    steps: dict[str, float] = field(default_factory=dict)
    peak: int = 0  # bytes: this process + children + PostgreSQL (proportional set size)
    peak_parts: str = ""  # how the peak split, MiB
    peak_steps: tuple[str, ...] = ()  # the steps running at the peak
    step_memory: dict[str, tuple[int, int]] = field(default_factory=dict)  # step -> (peak, python at its start)
    api_server_peak: int = 0  # the simulated APIs' own process (not counted in ``peak``)
    cpu: float = 0.0  # CPU seconds of this process, its children and PostgreSQL during the run

    def print(self, transactions: int, label: str = "pipeline") -> None:
        print(f"{label} wall: {self.wall:.2f} s -> {transactions / self.wall:,.0f} transactions/s")
        if self.cpu:
            print(
                f"  CPU time (this process + children + PostgreSQL): {self.cpu:.1f} s (the figure other load on the"
                " machine changes least)"
            )
        for stage in STAGES:
            print(f"  stage {stage:<8} {self.stages.get(stage, 0.0):8.2f} s")
        slowest = sorted(self.steps.items(), key=lambda kv: -kv[1])[:6]
        print("  slowest steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
        print(
            f"  peak memory (this process + children + PostgreSQL, PSS): {self.peak / 2**20:,.0f} MiB "
            f"({self.peak_parts}; during {', '.join(self.peak_steps) or 'no step'})"
        )
        if self.api_server_peak:
            apis = self.api_server_peak / 2**20
            print(f"  (the simulated source APIs, a process of their own, not counted: {apis:,.0f} MiB)")
        if self.step_memory:
            largest = sorted(self.step_memory.items(), key=lambda kv: -kv[1][0])[:5]
            print(
                "  largest steps (peak total, python when it started, MiB): "
                + ", ".join(f"{k} {peak / 2**20:,.0f} ({entry / 2**20:,.0f})" for k, (peak, entry) in largest)
            )


def _memory(proc: psutil.Process) -> int:
    """Proportional set size: shared pages (PostgreSQL's shared buffers, which every backend maps) are split among
    the processes that map them instead of being counted once per backend, as summing RSS would."""
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


def _tree_memory(root: psutil.Process, seen: set[int]) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        if proc.pid in seen:
            continue
        seen.add(proc.pid)
        try:
            total += _memory(proc)
        except psutil.Error:
            continue
    return total


@dataclass
class MemoryPeak:
    """The largest total seen, when, and how it split between this process, its children (dbt) and PostgreSQL."""

    peak: int = 0
    at: float = 0.0  # time.time() of the peak
    parts: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time.time(), python, total)
    excluded_peak: int = 0  # the largest size of the excluded process

    def during(self, windows: dict[str, tuple[float, float]]) -> dict[str, tuple[int, int]]:
        """Per step: the largest total while it ran, and this process's size at its first sample (what the steps
        before it left behind)."""
        out = {}
        for step, (begin, end) in windows.items():
            inside = [(own, total) for at, own, total in self.samples if begin <= at <= end]
            if inside:
                out[step] = (max(total for _, total in inside), inside[0][0])
        return out

    def describe(self) -> str:
        return ", ".join(f"{name} {size / 2**20:,.0f}" for name, size in self.parts.items())


@contextmanager
def peak_memory(interval: float = 0.25, exclude: int | None = None):
    """Yields a MemoryPeak of this process, its children and the embedded server, sampled every ``interval`` s;
    ``exclude``: a child process measured apart (its own peak only)."""
    from finflow_assets.warehouse import embedded

    found = MemoryPeak()
    stop = threading.Event()
    me = psutil.Process()

    def sample() -> None:
        while not stop.is_set():
            seen: set[int] = set()
            pid = embedded.running_pid()
            # the server first, so its tree is not counted as this process's children
            server = _tree_memory(psutil.Process(pid), seen) if pid else 0
            seen.add(me.pid)
            if exclude is not None:
                with contextlib.suppress(psutil.Error):
                    found.excluded_peak = max(found.excluded_peak, _tree_memory(psutil.Process(exclude), seen))
            own = _memory(me)
            children = sum(_tree_memory(child, seen) for child in me.children())
            total = own + children + server
            found.samples.append((time.time(), own, total))
            if total > found.peak:
                found.peak, found.at = total, time.time()
                found.parts = {"python": own, "children": children, "postgres": server}
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join()


class _ServerProcess:
    def __init__(self, process: subprocess.Popen, env: dict[str, str]) -> None:
        self.process, self._env = process, env

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self) -> dict[str, str]:
        return dict(self._env)


@contextmanager
def api_server_process(api_dir: Path):
    """``python -m finflow_simulator.api_server`` serving ``api_dir``, with the environment its exports print."""
    from finflow_simulator.api_server import SOURCES

    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "finflow_simulator.api_server", "--api-dir", str(api_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        env: dict[str, str] = {}
        while len(env) < 2 * len(SOURCES):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the simulated API server exited ({process.wait()}) before it printed its URLs")
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = value
        yield _ServerProcess(process, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def step_windows(run_id: str) -> dict[str, tuple[float, float]]:
    """Each step's start and end (time.time()), from the run's event log."""
    import dagster as dg

    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif event.event_type_value in {"STEP_SUCCESS", "STEP_FAILURE"}:
                ended[event.step_key] = entry.timestamp
    return {key: (at, ended.get(key, float("inf"))) for key, at in started.items()}


@dataclass
class LaunchedRunResult:
    """What ``Bench.run`` reads of a run made in another process (as dagster's in-process result offers it)."""

    run_id: str
    success: bool
    all_events: list


WORKERS = ("warm", "spawn", "in-process")
_warm_server = None  # the bench's warm run server (one per bench process, as one per daemon)
_warm_env: dict[str, str] = {}  # the environment it started with (its runs have it)


def ensure_warm_server(log: Path):  # noqa: ANN201 - a forkserver.Server
    """FinFlow's warm run server with this process's current environment, started (and its imports done) if it is
    not running with it: a daemon's server starts with the daemon and is warm long before the next tick, and its
    runs have the daemon's environment (the bench's ticks each bring their own simulated APIs)."""
    from finflow_assets import forkserver
    from finflow_assets.optin import warm_runs

    global _warm_server, _warm_env
    if _warm_server is not None and (not _warm_server.running() or _warm_env != dict(os.environ)):
        _warm_server.stop()
        _warm_server = None
    if _warm_server is None:
        with log.open("a") as out:
            _warm_server = forkserver.start(warm_runs.__name__, "finflow-runs-", stdout=out, stderr=out)
        _warm_env = dict(os.environ)
        time.sleep(10)  # its imports (~6 s on 2 cores): not part of a tick
    return _warm_server


def launch_run(selection, worker: str, log: Path) -> LaunchedRunResult:  # noqa: ANN001 - an AssetSelection or None
    """Run ``selection`` as the daemon does: a run created for FinFlow's asset job with its code origin, executed
    by ``dagster api execute_run`` in a run worker, ``warm`` (a fork of FinFlow's warm run server, what the data
    folder's ``dagster.yaml`` launches with the opt-in ``FINFLOW_WARM_RUNS=1``) or ``spawn`` (a new Python process:
    Dagster's default launcher, the default); waits
    until it finishes. The workers' output goes to ``log``."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import serialize_value

    from finflow_assets.definitions import defs
    from finflow_assets.optin import warm_runs

    job = defs.resolve_implicit_global_asset_job_def()
    keys = None if selection is None else set(selection.resolve(defs.resolve_asset_graph()))
    repository = ReconstructableRepository.for_module("finflow_assets.definitions", "defs", os.getcwd())
    origin = repository.get_reconstructable_job(job.name).get_python_origin()
    with dg.DagsterInstance.get() as instance, log.open("a") as out:
        run = instance.create_run_for_job(job_def=job, asset_selection=keys, job_code_origin=origin)
        args = serialize_value(ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref()))
        if worker == "warm":
            warm_runs.launch_on_server(ensure_warm_server(log).path, args)
        else:
            subprocess.Popen(  # noqa: S603 - this Python, dagster's own run-worker command
                [sys.executable, "-m", "dagster", "api", "execute_run", args], stdout=out, stderr=out
            )
        while not instance.get_run_by_id(run.run_id).is_finished:
            time.sleep(0.05)
        events = [entry.dagster_event for entry in instance.all_logs(run.run_id) if entry.dagster_event is not None]
        success = instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    return LaunchedRunResult(run.run_id, success, events)


def cpu_seconds() -> float:
    """CPU seconds used so far by this process, its finished children (dbt) and the embedded PostgreSQL server with
    its finished backends: on a shared machine a run's wall time depends on the others' load, its CPU time less."""
    import resource

    from finflow_assets.warehouse import embedded

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    pid = embedded.running_pid()
    if pid is None:  # an external database (FINFLOW_DATABASE_URL): its server is not counted
        return total
    with contextlib.suppress(psutil.Error):
        server = psutil.Process(pid)
        for proc in (server, *server.children(recursive=True)):
            times = proc.cpu_times()
            total += times.user + times.system + (times.children_user + times.children_system if proc is server else 0)
    return total


def steps_running_at(windows: dict[str, tuple[float, float]], moment: float) -> tuple[str, ...]:
    """The steps that had started and not yet finished at ``moment``."""
    return tuple(key for key, (begin, end) in windows.items() if begin <= moment <= end)


class Bench:
    """A fresh data folder (``FINFLOW_HOME``) with its own embedded PostgreSQL and MLflow store."""

    def __init__(self, prefix: str = "finflow-bench-", home: Path | None = None) -> None:
        """A new data folder, or ``home``: one a bench kept (FINFLOW_BENCH_KEEP=1), to go on from; never removed."""
        self.owned = home is None
        self.home = Path(tempfile.mkdtemp(prefix=prefix)) if home is None else home
        os.environ["FINFLOW_HOME"] = str(self.home)
        os.environ.pop("FINFLOW_DATABASE_URL", None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        from finflow_assets.instance import ensure_dagster_home
        from finflow_assets.settings import paths
        from finflow_assets.transform.project import ensure_manifest
        from finflow_assets.warehouse import embedded

        self.paths = paths().ensure()
        ensure_dagster_home()  # the instance on PostgreSQL: the dagster database beside the bench's warehouse
        embedded.start()
        ensure_manifest()  # what the finflow commands do before loading the definitions

    def simulate(self, *, days: int, per_day: int, start: date | None = None, seed: int = 7, **options):
        from finflow_simulator import generate

        tag = (start or date(2026, 10, 1)).isoformat()
        kwargs = {"start": start} if start else {}
        return generate(
            self.paths.landing,
            self.paths.simulator / f"truth-{tag}",
            days=days,
            per_day=per_day,
            seed=seed,
            history_dir=self.paths.history,
            api_dir=self.paths.simulator / f"api-{tag}",
            **kwargs,
            **options,
        )

    def run(
        self, api_dir: Path, selection=None, faults=None, worker: str = "in-process", ops_config: dict | None = None
    ) -> tuple[RunFigures, object]:
        """Materialize (everything, or ``selection``) with the API sources served from ``api_dir``: in this process
        (with the assets' run config ``ops_config``, as ``finflow demo`` passes it), or launched as the daemon
        launches a run (``worker``: see ``launch_run``; the wall time then runs from the launch to the run's end)."""
        from finflow_assets.cli import materialize_everything
        from finflow_simulator.api_server import serve

        # the simulated APIs stand for the banks' and gateways' servers: in a process of their own (not counted in
        # FinFlow's memory, not competing for this process's GIL); in this process only to script faults
        with serve(api_dir, faults) if faults is not None else api_server_process(api_dir) as server:
            os.environ.update(server.env())
            log = self.home / "bench-run-workers.log"
            if worker == "warm":
                ensure_warm_server(log)
            with peak_memory(exclude=getattr(server, "pid", None)) as memory:
                cpu_before = cpu_seconds()
                started = time.perf_counter()
                if worker == "in-process":
                    result = materialize_everything(selection, ops_config=ops_config)
                else:
                    result = launch_run(selection, worker, log)
                wall = time.perf_counter() - started
                cpu = cpu_seconds() - cpu_before
        steps: dict[str, float] = defaultdict(float)
        for event in result.all_events:
            if event.event_type_value == "STEP_SUCCESS" and event.step_key:
                steps[event.step_key] += event.event_specific_data.duration_ms / 1000
        stages: dict[str, float] = defaultdict(float)
        for key, seconds in steps.items():
            stages[stage_of(key)] += seconds
        windows = step_windows(result.run_id)
        running = steps_running_at(windows, memory.at)
        figures = RunFigures(wall, dict(stages), dict(steps), memory.peak, memory.describe(), running)
        figures.step_memory = memory.during(windows)
        figures.api_server_peak = memory.excluded_peak
        figures.cpu = cpu
        return figures, result

    def count(self, query: str) -> int:
        from finflow_assets.warehouse import connect

        with connect() as conn:
            return conn.execute(query).fetchone()[0]

    def age_scores(self, by: str) -> None:
        """Move the ML scores' and review decisions' stamps back by ``by`` (an SQL interval), as if they had been
        written that long ago. fct_transactions re-reads what was scored within ``late_arrival_window`` (1 hour)
        of its last build: in production that is the last four 15-minute ticks, in a bench whose ticks follow the
        history load within a minute it would be the whole history."""
        from psycopg import sql

        from finflow_assets.warehouse import connect

        with connect(autocommit=True) as conn:
            for schema, table, column in (
                ("ml", "transaction_categories", "scored_at"),
                ("ml", "transaction_anomalies", "scored_at"),
                ("review", "review_decisions", "decided_at"),
            ):
                name, stamp = sql.Identifier(schema, table), sql.Identifier(column)
                conn.execute(sql.SQL("update {} set {} = {} - %s::interval").format(name, stamp, stamp), (by,))
                # the update's dead rows, gone as autovacuum would have them
                conn.execute(sql.SQL("vacuum analyze {}").format(name))
            conn.execute("checkpoint")  # and its pages written out, as the checkpointer would in the minutes after

    def settle(self) -> None:
        """VACUUM ANALYZE the warehouse and CHECKPOINT: what autovacuum and the checkpointer do in the minutes after
        a large load (every table the load wrote qualifies, and ~1 GB of write-ahead log waits to be flushed), so
        the ticks that follow the bench's history do not compete with them for the two cores and the disk, as
        ticks days later would not."""
        from finflow_assets.warehouse import connect

        started = time.perf_counter()
        with connect(autocommit=True) as conn:
            conn.execute("vacuum analyze")
            conn.execute("checkpoint")
        print(f"(history vacuumed, analyzed and checkpointed in {time.perf_counter() - started:.1f} s, not counted)")

    def rewind_date_windows(self, day: date) -> None:
        """Put the date-window API sources (PayPal, expenses) back to just before ``day``, as if their last pull
        had been then. They pull windows up to the present and remember the end, so a simulated day in the past
        (a bench tick after loaded history) would never be asked for; a real API's new rows are newer than the
        last pull."""
        from datetime import UTC, datetime

        from finflow_assets.sources.registry import SOURCES
        from finflow_assets.warehouse import connect

        windowed = [spec.name for spec in SOURCES if spec.api is not None and spec.api.pagination == "date_window"]
        with connect(autocommit=True) as conn:
            conn.execute(
                "update raw._watermarks set watermark = least(watermark, %s) where source = any(%s)",
                (datetime(day.year, day.month, day.day, tzinfo=UTC), windowed),
            )

    def close(self) -> None:
        """Stop the database and remove the data folder (a bench run leaves gigabytes); FINFLOW_BENCH_KEEP=1 keeps
        it to look into. A bench that fails before here leaves its folder for the same reason."""
        import shutil

        from finflow_assets.warehouse import embedded

        global _warm_server
        if _warm_server is not None:
            _warm_server.stop()
            _warm_server = None
        embedded.stop()
        if self.owned and os.environ.get("FINFLOW_BENCH_KEEP", "") in ("", "0"):
            shutil.rmtree(self.home, ignore_errors=True)
        else:
            print(f"data folder kept: {self.home}")
