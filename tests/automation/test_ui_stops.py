"""``finflow ui`` serves the Dagster UI and the review workspace, and stops, with everything it started, within
10 s of SIGTERM (or Ctrl-C)."""

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


def _serving(port: int, path: str = "/server_info") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# Ctrl-C (SIGINT) takes the same path as SIGTERM (one handler): the long variant
@pytest.mark.parametrize("how", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_finflow_ui_and_its_processes_stop_within_10_seconds(finflow_home, how):
    port, review_port = _free_port(), _free_port()
    finflow = Path(sys.executable).parent / "finflow"
    ui = subprocess.Popen(
        [str(finflow), "ui", "--port", str(port), "--review-port", str(review_port)],
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not (_serving(port) and _serving(review_port, "/login")):
            assert ui.poll() is None, "finflow ui ended before serving"
            assert time.monotonic() < deadline, "the Dagster UI or the review workspace did not come up"
            time.sleep(0.5)
        family = psutil.Process(ui.pid).children(recursive=True)
        # dagster dev, its webserver, its daemon (and the code servers), and the review workspace
        assert len(family) >= 4
        assert any("review" in p.cmdline() and "serve" in p.cmdline() for p in family)
        started = time.monotonic()
        ui.send_signal(how)
        ui.wait(timeout=20)
        gone, alive = psutil.wait_procs(family, timeout=max(0.1, 10 - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        assert not alive, f"still running after {elapsed:.1f} s: {[p.cmdline()[:3] for p in alive]}"
        assert elapsed <= 10
        assert not _serving(port) and not _serving(review_port, "/login")
    finally:
        if ui.poll() is None:
            ui.kill()
