"""What a person sees while a command runs: one line per pipeline stage with the elapsed time, the summary, and any
error in full; everything else (Dagster's step log, dbt's output, library chatter) goes to a log file in the data
folder, whose path is printed. ``finflow -v`` shows that log live instead.

The redirection is at the file-descriptor level, so dbt and other subprocesses' output lands in the log too. The
stages are followed by reading the run's events from the Dagster instance while it runs (a thread with its own
instance), so the pipeline's code knows nothing of the console.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

from .settings import paths

KEPT_LOGS = 30  # one log per command run; the newest are kept for looking into a recent failure
POLL_SECONDS = 0.5
RUN_TAG = "finflow/console"

# (stage shown, in the order a run reaches them); which assets belong to each: ``stage_of``
STAGES = ("sources landed", "dbt models built", "models trained", "transactions scored", "reports written")

_current: Console | None = None


def current() -> Console | None:
    """The console of the command running in this process (None outside the ``finflow`` command, e.g. in tests)."""
    return _current


def stage_of(group: str | None, kinds: Iterable[str], tags: Iterable[str] = ()) -> str | None:
    """The stage an asset belongs to, from its group, kinds and tags (the registry's and dbt's assets carry them).
    The dbt models built on the scores (tagged ``enriched``: ``fct_transactions``) finish the scoring stage."""
    kinds = set(kinds)
    if group == "ingestion":
        return "sources landed"
    if "enriched" in tags:
        return "transactions scored"
    if "dbt" in kinds:
        return "dbt models built"
    if "mlflow" in kinds:
        return "models trained"
    if group == "ml":
        return "transactions scored"
    if group in ("reports", "review"):
        return "reports written"
    return None


class Console:
    """One command's terminal: progress lines and results there, the detailed log in ``log_path``."""

    def __init__(self, command: str, *, verbose: bool = False, stream: TextIO | None = None) -> None:
        self.command = command
        self.verbose = verbose
        self.started = time.perf_counter()
        self._stream = stream or sys.stdout
        folder = paths().home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.log_path = folder / f"{command}-{stamp}-{os.getpid()}.log"
        self._log_handler: logging.Handler | None = None
        self._terminal: IO[str] | None = None  # the terminal while stdout/stderr point at the log
        self._raised: list[tuple[logging.Handler, int]] = []
        self._announced = False
        self._pending = False  # a progress line is on the terminal, without its newline

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def line(self, text: str, *, timed: bool = True) -> None:
        """A line on the terminal, with the time since the command started."""
        out = self._terminal or self._stream
        clear = "\r" + " " * 67 + "\r" if self._pending else ""
        self._pending = False
        out.write(clear + (f"{text:<60}{self.elapsed():>7.1f} s\n" if timed else f"{text}\n"))
        out.flush()

    def progress(self, text: str) -> None:
        """On an interactive terminal, the stage in progress, rewritten in place (nothing in a log or a pipe)."""
        out = self._terminal or self._stream
        if out.isatty():
            out.write(f"\r{text:<60}{self.elapsed():>7.1f} s")
            out.flush()
            self._pending = True

    def log_note(self) -> str:
        """Where the full log is (said once: the command's end repeats it otherwise)."""
        self._announced = True
        return "shown above (-v)" if self.verbose else str(self.log_path)

    # -- the command's lifetime -------------------------------------------------------------------------------

    def __enter__(self) -> Console:
        global _current
        _current = self
        prune_logs(self.log_path.parent)
        self._log_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(self._log_handler)
        if not self.verbose:  # the terminal gets warnings and errors; the rest is in the log
            self._raised = [(h, h.level) for h in root.handlers if type(h) is logging.StreamHandler]
            for handler, _ in self._raised:
                handler.setLevel(max(handler.level, logging.WARNING))
        return self

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = None
        if not self._announced and not self.verbose and self.log_path.exists() and self.log_path.stat().st_size:
            self.line(f"log: {self.log_path}", timed=False)
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
        for handler, level in self._raised:
            handler.setLevel(level)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Send this process's (and its children's) stdout and stderr to the log file; ``line`` still reaches the
        terminal. With ``verbose`` nothing is redirected: the log shows live."""
        if self.verbose or self._terminal is not None:
            yield
            return
        sys.stdout.flush()
        sys.stderr.flush()
        fds = {1, 2}  # what child processes inherit, and Python's own streams where they differ (e.g. captured)
        terminal_fd = 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                fds.add(stream.fileno())
                terminal_fd = sys.stdout.fileno() if stream is sys.stdout else terminal_fd
        saved = {fd: os.dup(fd) for fd in sorted(fds)}
        self._terminal = os.fdopen(os.dup(saved[terminal_fd]), "w", encoding="utf-8", errors="replace", buffering=1)
        with open(self.log_path, "a", encoding="utf-8") as log:
            for fd in saved:
                os.dup2(log.fileno(), fd)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
                    os.close(copy)
                self._terminal.close()
                self._terminal = None

    # -- a pipeline run ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def follow_run(self, stages: dict[Any, str]) -> Iterator[dict[str, str]]:
        """While the body runs a materialization tagged with the yielded tags, print a line as each stage's assets
        are all materialized (``stages``: the run's asset keys -> stage); stages left incomplete are printed at the
        end."""
        tags = {RUN_TAG: uuid.uuid4().hex}
        progress = _RunProgress(self, tags, stages)
        progress.start()
        try:
            yield tags
        finally:
            progress.finish()

    def report_failures(self, result: Any) -> None:
        """Each failed step's error in full (the message names the file, row and problem), then where the log is."""
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data.error is not None:
                error = event.step_failure_data.error
                message = error.message.strip()
                cause = error.cause
                while cause is not None:  # Dagster wraps the user's error; its message is what says what is wrong
                    message += f"\n  caused by: {cause.message.strip()}"
                    cause = cause.cause
                self.line(f"FAILED {event.step_key}: {message}", timed=False)
        self.line(f"full log: {self.log_note()}", timed=False)


class _RunProgress(threading.Thread):
    """Reads the tagged run's materializations from the Dagster instance and prints each finished stage."""

    def __init__(self, console: Console, tags: dict[str, str], stages: dict[Any, str]) -> None:
        super().__init__(name="finflow-progress", daemon=True)
        self.console = console
        self.tags = tags
        self.stages = stages
        self.done: dict[str, set[Any]] = {stage: set() for stage in STAGES}
        self.expected: dict[str, set[Any]] | None = None
        self.printed: set[str] = set()
        self.run_id: str | None = None
        self.cursor: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        import dagster as dg

        try:
            with dg.DagsterInstance.get() as instance:
                while not self._halt.wait(POLL_SECONDS):
                    self._poll(instance)
                self._poll(instance)
        except Exception:  # noqa: BLE001 - progress is a nicety: never let it break the command
            logging.getLogger(__name__).debug("progress display stopped", exc_info=True)

    def _poll(self, instance: Any) -> None:
        import dagster as dg

        if self.run_id is None:
            runs = instance.get_runs(filters=dg.RunsFilter(tags=self.tags), limit=1)
            if not runs:
                return
            self.run_id = runs[0].run_id
            self.expected = {stage: set() for stage in STAGES}
            for key, stage in self.stages.items():
                self.expected[stage].add(key)
        records = instance.get_records_for_run(
            self.run_id, cursor=self.cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        self.cursor = records.cursor
        for record in records.records:
            key = record.event_log_entry.dagster_event.asset_key
            if key in self.stages:
                self.done[self.stages[key]].add(key)
        for stage in STAGES:
            if stage not in self.printed and self.expected[stage] and self.done[stage] >= self.expected[stage]:
                self._print(stage)
        running = [s for s in STAGES if s not in self.printed and self.expected[s] and self.done[s]]
        if running:
            stage = running[0]
            self.console.progress(f"  {stage:<22}{len(self.done[stage]):>4}/{len(self.expected[stage]):<4}")

    def _print(self, stage: str) -> None:
        self.printed.add(stage)
        done, expected = len(self.done[stage]), len(self.expected[stage])
        self.console.line(f"  {stage:<22}{done:>4}/{expected:<4}" + ("" if done >= expected else "  (incomplete)"))

    def finish(self) -> None:
        """Stop following, after one last read; print the stages that did not complete."""
        self._halt.set()
        self.join()
        if self.expected is not None:
            for stage in STAGES:
                if stage not in self.printed and self.expected[stage]:
                    self._print(stage)


def prune_logs(folder: Path, keep: int = KEPT_LOGS) -> None:
    """Delete all but the newest ``keep`` command logs."""
    logs = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[keep:]:
        old.unlink(missing_ok=True)
