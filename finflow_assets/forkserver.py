"""A warm process that forks one child per request: what a Python program imports before its real work (seconds of
CPU for dbt-core, Dagster, MLflow and scikit-learn) is paid once, and each request starts from those imports.

Used for dbt commands (``transform/dbt_server.py``) and for Dagster runs (the opt-in ``optin/warm_runs.py``).

- Only the server's own user may connect: the socket lives in a private (0700) folder, and every connection's peer
  credentials are checked.
- The socket is bound before the imports, so a request sent meanwhile waits for them instead of failing.
- The server ends when the process that started it is gone, when it is stopped, or (optionally) after a while with
  nothing to do; forks already running go on.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

HEADER = struct.Struct("!Q")  # a request's length
STATUS = struct.Struct("!i")  # a fork's pid, an exit status
_PEER = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid


def serve(
    path: str,
    preload: Sequence[str],
    handle: Callable[[socket.socket], NoReturn],
    idle_seconds: float | None = None,
    still_current: Callable[[], bool] | None = None,
) -> None:
    """Listen on ``path``, import ``preload``, then fork once per connection and run ``handle(connection)`` in the
    fork (it must end the fork with ``os._exit``), until the parent process is gone or, with ``idle_seconds``,
    nothing came and no fork ran for that long. With ``still_current``: asked before each fork; when it says no
    (what was imported is out of date), the connection is closed unanswered and the server ends."""
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    for module in preload:
        importlib.import_module(module)
    # what the imports built lives as long as the server: out of the collector's sight, a fork's collections
    # neither walk it nor (touching each object) copy its pages
    gc.collect()
    gc.freeze()
    listener.settimeout(1.0)
    running: set[int] = set()  # forks still running: the server is not idle while one is
    idle = 0.0
    try:
        while os.getppid() == parent and (idle_seconds is None or idle < idle_seconds):
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
            if still_current is not None and not still_current():
                conn.close()
                break
            pid = os.fork()
            if pid == 0:
                listener.close()
                handle(conn)  # never returns
            running.add(pid)
            conn.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def receive(conn: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``conn`` (ConnectionError if it hangs up first)."""
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side hung up before the message was complete")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@dataclass
class Server:
    """A started server process and its socket."""

    process: subprocess.Popen
    path: str
    folder: str

    def running(self) -> bool:
        return self.process.poll() is None and os.path.exists(self.path)

    def stop(self) -> None:
        """Stop the server (its forks go on) and remove its folder."""
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


BIND_SECONDS = 30.0


def start(module: str, prefix: str, **popen: object) -> Server:
    """Start ``python -m module <socket path>`` with its socket in a new private folder, and wait until it is bound
    (up to ``BIND_SECONDS``: its imports before binding take ~2 s, but several times that on a busy machine, e.g.
    parallel test workers on two cores); a server that could not start is returned all the same (``running()``
    says so)."""
    folder = tempfile.mkdtemp(prefix=prefix)  # 0700: only this user may reach the socket
    path = str(Path(folder) / "server.sock")
    process = subprocess.Popen(  # noqa: S603 - this Python, one of FinFlow's own modules
        [sys.executable, "-m", module, path],
        stdin=subprocess.DEVNULL,
        **({"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} | popen),
    )
    deadline = time.monotonic() + BIND_SECONDS
    while not os.path.exists(path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return Server(process, path, folder)
