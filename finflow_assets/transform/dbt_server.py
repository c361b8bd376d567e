"""A warm dbt for one pipeline run: dbt-core imported once, each ``finflow-dbt`` command run in a fork of it.

Importing dbt-core and its Postgres adapter takes about 1.1 s of CPU, and a 15-minute tick runs dbt twice, each
time in a new process (dagster-dbt runs dbt as a subprocess and follows its event stream). The run's dbt resource
(``FinflowDbtCli``) starts this server when the run starts, so the import happens while the sources land, and
points ``finflow-dbt`` at it (``FINFLOW_DBT_SERVER``). ``finflow-dbt`` then sends its arguments, environment,
working directory and its stdin, stdout and stderr (the file descriptors themselves) over a Unix socket; the server
forks, and the fork runs dbt's CLI exactly as ``finflow-dbt`` would have, writing straight into dagster-dbt's pipe,
and reports its exit status. To dagster-dbt nothing changes but the time to the first event.

- Only the run's own user may connect (``forkserver``: a private folder, peer credentials checked).
- The server ends with the run (the resource's teardown), when the run's process is gone, or after
  ``IDLE_SECONDS`` without a command (a first run's hour of backlog need not hold 100 MB between its dbt steps).
- Any failure to reach it makes ``finflow-dbt`` run dbt in its own process, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator

from .. import forkserver
from ..forkserver import HEADER, STATUS, receive

SERVER_ENV = "FINFLOW_DBT_SERVER"  # the socket's path, set for the run's dbt subprocesses
# what a dbt build imports before its first event: dbt-core's CLI, the Postgres adapter, the build task
PRELOADED = ("dbt.cli.main", "dbt.adapters.postgres", "dbt.task.build")
IDLE_SECONDS = 30.0


# ------------------------------------------------------------------------------------------------- the server


def serve(path: str, idle_seconds: float = IDLE_SECONDS) -> None:
    """Import dbt, then fork one process per command until the parent process is gone or nothing came for
    ``idle_seconds``."""
    forkserver.serve(path, PRELOADED, _run_command, idle_seconds)


def _run_command(conn: socket.socket) -> None:
    """In the fork: become the ``finflow-dbt`` process that sent the command, run dbt, report the status."""
    status = 1
    try:
        header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        request = json.loads(receive(conn, HEADER.unpack(header)[0]))
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        conn.sendall(STATUS.pack(os.getpid()))
        from .dbt_command import run_dbt

        status = run_dbt()
        conn.sendall(STATUS.pack(status))
    finally:
        os._exit(status)


@contextlib.contextmanager
def warm_dbt() -> Iterator[str]:
    """Start a server for this process's dbt commands and point them at it (``FINFLOW_DBT_SERVER``) until the block
    ends; yields the socket's path."""
    # the socket is bound before dbt is imported (~0.1 s after start): from then on a command waits for the
    # import instead of missing the server; a server that cannot start leaves finflow-dbt to run dbt itself
    server = forkserver.start(__name__, "finflow-dbt-")
    previous = os.environ.get(SERVER_ENV)
    os.environ[SERVER_ENV] = server.path
    try:
        yield server.path
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        server.stop()


# ------------------------------------------------------------------------------------------------- the client


def run_on_server(path: str, argv: list[str]) -> int | None:
    """Run a dbt command on the server at ``path`` with this process's environment, directory and standard
    streams; its exit status, or None when the server could not take it (then nothing ran)."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        payload = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(conn, [HEADER.pack(len(payload))], [0, 1, 2])
        conn.sendall(payload)
        started = receive(conn, STATUS.size)
    except OSError:
        return None
    pid = STATUS.unpack(started)[0]
    # a cancelled step stops this process: pass the signal on to the fork running dbt
    for forwarded in (signal.SIGINT, signal.SIGTERM):
        signal.signal(forwarded, lambda signum, _frame: os.kill(pid, signum))
    try:
        return STATUS.unpack(receive(conn, STATUS.size))[0]
    except OSError:
        print(f"finflow-dbt: the dbt process {pid} ended without an exit status", file=sys.stderr)
        return 1


if __name__ == "__main__":
    serve(sys.argv[1])
