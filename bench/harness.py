"""What the benchmarks share: a fresh data folder with its own embedded PostgreSQL, simulated days, a timed
pipeline run broken down by stage, and the peak memory of everything involved (this process, its children and
the database server), sampled while it runs.
"""

from __future__ import annotations

import os
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

    def print(self, transactions: int, label: str = "pipeline") -> None:
        print(f"{label} wall: {self.wall:.2f} s -> {transactions / self.wall:,.0f} transactions/s")
        for stage in STAGES:
            print(f"  stage {stage:<8} {self.stages.get(stage, 0.0):8.2f} s")
        slowest = sorted(self.steps.items(), key=lambda kv: -kv[1])[:6]
        print("  slowest steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
        print(
            f"  peak memory (this process + children + PostgreSQL, PSS): {self.peak / 2**20:,.0f} MiB "
            f"({self.peak_parts}; during {', '.join(self.peak_steps) or 'no step'})"
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

    def describe(self) -> str:
        return ", ".join(f"{name} {size / 2**20:,.0f}" for name, size in self.parts.items())


@contextmanager
def peak_memory(interval: float = 0.25):
    """Yields a MemoryPeak of this process, its children and the embedded server, sampled every ``interval`` s."""
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
            own = _memory(me)
            children = sum(_tree_memory(child, seen) for child in me.children())
            total = own + children + server
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


def steps_running_at(run_id: str, moment: float) -> tuple[str, ...]:
    """The steps of a run that had started and not yet finished at ``moment`` (time.time()), from the event log."""
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
    return tuple(key for key, at in started.items() if at <= moment <= ended.get(key, float("inf")))


class Bench:
    """A fresh data folder (``FINFLOW_HOME``) with its own embedded PostgreSQL and MLflow store."""

    def __init__(self, prefix: str = "finflow-bench-") -> None:
        self.home = Path(tempfile.mkdtemp(prefix=prefix))
        os.environ["FINFLOW_HOME"] = str(self.home)
        os.environ.pop("FINFLOW_DATABASE_URL", None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        from finflow_assets.settings import ensure_dagster_home, paths
        from finflow_assets.warehouse import embedded

        self.paths = paths().ensure()
        ensure_dagster_home()
        embedded.start()

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

    def run(self, api_dir: Path, selection=None, faults=None) -> tuple[RunFigures, object]:
        """Materialize (everything, or ``selection``) with the API sources served from ``api_dir``."""
        from finflow_assets.cli import materialize_everything
        from finflow_simulator.api_server import serve

        with serve(api_dir, faults) as server:
            os.environ.update(server.env())
            with peak_memory() as memory:
                started = time.perf_counter()
                result = materialize_everything(selection)
                wall = time.perf_counter() - started
        steps: dict[str, float] = defaultdict(float)
        for event in result.all_events:
            if event.event_type_value == "STEP_SUCCESS" and event.step_key:
                steps[event.step_key] += event.event_specific_data.duration_ms / 1000
        stages: dict[str, float] = defaultdict(float)
        for key, seconds in steps.items():
            stages[stage_of(key)] += seconds
        running = steps_running_at(result.run_id, memory.at)
        return RunFigures(wall, dict(stages), dict(steps), memory.peak, memory.describe(), running), result

    def count(self, query: str) -> int:
        from finflow_assets.warehouse import connect

        with connect() as conn:
            return conn.execute(query).fetchone()[0]

    def close(self) -> None:
        from finflow_assets.warehouse import embedded

        embedded.stop()
