"""A warm dbt for one pipeline run: dbt-core imported once, each ``finflow-dbt`` command run in a fork of it.

Importing dbt-core and its Postgres adapter takes about 1.1 s of CPU, and a 15-minute tick runs dbt twice, each
time in a new process (dagster-dbt runs dbt as a subprocess and follows its event stream). The run's dbt resource
(``FinflowDbtCli``) starts this server when the run starts, so the import happens while the sources land, and
points ``finflow-dbt`` at it (``FINFLOW_DBT_SERVER``). ``finflow-dbt`` then sends its arguments, environment,
working directory and its stdin, stdout and stderr (the file descriptors themselves) over a Unix socket; the server
forks, and the fork runs dbt's CLI exactly as ``finflow-dbt`` would have, writing straight into dagster-dbt's pipe,
and reports its exit status. To dagster-dbt nothing changes but the time to the first event.

- Only the run's own user may connect: the socket lives in a private (0700) folder, and every connection's peer
  credentials are checked.
- The server ends with the run (the resource's teardown), when the run's process is gone, or after
  ``IDLE_SECONDS`` without a command (a first run's hour of backlog need not hold 100 MB between its dbt steps).
- Any failure to reach it makes ``finflow-dbt`` run dbt in its own process, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_ENV = "FINFLOW_DBT_SERVER"  # the socket's path, set for the run's dbt subprocesses
# what a dbt build imports before its first event: dbt-core's CLI, the Postgres adapter, the build task
PRELOADED = ("dbt.cli.main", "dbt.adapters.postgres", "dbt.task.build")
IDLE_SECONDS = 30.0
_HEADER = struct.Struct("!Q")  # the request's length
_STATUS = struct.Struct("!i")  # the fork's pid, then its exit status
_PEER = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid


# ------------------------------------------------------------------------------------------------- the server


def serve(path: str, idle_seconds: float = IDLE_SECONDS) -> None:
    """Listen on ``path`` (bound before dbt is imported, so a command sent meanwhile waits, not fails), import
    dbt, then fork one process per command until the parent process is gone or nothing came for ``idle_seconds``."""
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    for module in PRELOADED:
        importlib.import_module(module)
    listener.settimeout(1.0)
    running: set[int] = set()  # forks still running a command: the server is not idle while one is
    idle = 0.0
    try:
        while os.getppid() == parent and idle < idle_seconds:
            running = {pid for pid in running if os.waitpid(pid, os.WNOHANG) == (0, 0)}
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                idle = 0.0 if running else idle + 1.0
                continue
            idle = 0.0
            _, uid, _ = _PEER.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size))
            if uid != os.getuid():
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _run_command(conn)  # never returns
            running.add(pid)
            conn.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def _run_command(conn: socket.socket) -> None:
    """In the fork: become the ``finflow-dbt`` process that sent the command, run dbt, report the status."""
    status = 1
    try:
        header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
        request = json.loads(_receive(conn, _HEADER.unpack(header)[0]))
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        conn.sendall(_STATUS.pack(os.getpid()))
        from .dbt_command import run_dbt

        status = run_dbt()
        conn.sendall(_STATUS.pack(status))
    finally:
        os._exit(status)


def _receive(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("finflow-dbt hung up before its command was complete")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def warm_dbt() -> Iterator[str]:
    """Start a server for this process's dbt commands and point them at it (``FINFLOW_DBT_SERVER``) until the block
    ends; yields the socket's path."""
    folder = tempfile.mkdtemp(prefix="finflow-dbt-")  # 0700: only this user may reach the socket
    path = str(Path(folder) / "dbt.sock")
    server = subprocess.Popen(  # noqa: S603 - this Python, this module
        [sys.executable, "-m", __name__, path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the socket is bound before dbt is imported (~0.1 s after start): from then on a command waits for the
    # import instead of missing the server; a server that cannot start leaves finflow-dbt to run dbt itself
    deadline = time.monotonic() + 5.0
    while not os.path.exists(path) and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    previous = os.environ.get(SERVER_ENV)
    os.environ[SERVER_ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=5)
        if server.poll() is None:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------------- the client


def run_on_server(path: str, argv: list[str]) -> int | None:
    """Run a dbt command on the server at ``path`` with this process's environment, directory and standard
    streams; its exit status, or None when the server could not take it (then nothing ran)."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        payload = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(conn, [_HEADER.pack(len(payload))], [0, 1, 2])
        conn.sendall(payload)
        started = _receive(conn, _STATUS.size)
    except OSError:
        return None
    pid = _STATUS.unpack(started)[0]
    # a cancelled step stops this process: pass the signal on to the fork running dbt
    for forwarded in (signal.SIGINT, signal.SIGTERM):
        signal.signal(forwarded, lambda signum, _frame: os.kill(pid, signum))
    try:
        return _STATUS.unpack(_receive(conn, _STATUS.size))[0]
    except OSError:
        print(f"finflow-dbt: the dbt process {pid} ended without an exit status", file=sys.stderr)
        return 1


if __name__ == "__main__":
    serve(sys.argv[1])
