"""``finflow ui`` stops, and everything it started stops with it, within 10 s of SIGTERM (or Ctrl-C)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# Ctrl-C (SIGINT) takes the same path as SIGTERM (one handler): the long variant
@pytest.mark.parametrize("how", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_finflow_ui_and_its_processes_stop_within_10_seconds(finflow_home, how):
    port = _free_port()
    finflow = Path(sys.executable).parent / "finflow"
    ui = subprocess.Popen(
        [str(finflow), "ui", "--port", str(port)], env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while not _serving(port):
            assert ui.poll() is None, "finflow ui ended before serving"
            assert time.monotonic() < deadline, "the Dagster UI did not come up"
            time.sleep(0.5)
        family = psutil.Process(ui.pid).children(recursive=True)
        assert len(family) >= 3  # dagster dev, its webserver, its daemon (and the code servers)
        started = time.monotonic()
        ui.send_signal(how)
        ui.wait(timeout=20)
        gone, alive = psutil.wait_procs(family, timeout=max(0.1, 10 - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        assert not alive, f"still running after {elapsed:.1f} s: {[p.cmdline()[:3] for p in alive]}"
        assert elapsed <= 10
        assert not _serving(port)
    finally:
        if ui.poll() is None:
            ui.kill()
