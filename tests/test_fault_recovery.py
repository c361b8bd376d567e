"""Faults for real: a landing process killed with SIGKILL in the middle of its COPY, then a rerun.

Nothing of the killed load may remain, and the rerun lands every row exactly once.
"""

import os
import signal
import subprocess
import sys
import time

from finflow_assets.warehouse import connect
from tests.conftest import fresh_database

ROWS = 150_000

LAND_ONE_FILE = """
import sys
from pathlib import Path
from finflow_assets.sources.file_landing import land_file
from finflow_assets.sources.registry import get_source
from finflow_assets.warehouse import connect
with connect() as conn:
    print(land_file(conn, get_source("bank_operating"), Path(sys.argv[1])).status, flush=True)
"""


def _big_export(path, rows: int) -> None:
    lines = ["Date,Description,Debit,Credit,Balance"]
    lines += [f"10/01/2026,CARD PURCHASE {i:07d},1.{i % 100:02d},,100.00" for i in range(rows)]
    path.write_text("\r\n".join(lines) + "\r\n")


def _copy_in_progress(conn) -> bool:
    return bool(
        conn.execute(
            "select 1 from pg_stat_activity where query ilike 'copy%%raw%%bank_operating%%' and state = 'active'"
        ).fetchone()
    )


def test_killed_mid_copy_then_rerun_lands_every_row_once(finflow_home, tmp_path):
    with fresh_database("test_fault_recovery"):
        drop = tmp_path / "landing"
        drop.mkdir()
        export = drop / "big_export.csv"
        _big_export(export, ROWS)

        process = subprocess.Popen([sys.executable, "-c", LAND_ONE_FILE, str(export)], env=os.environ.copy())
        killed_mid_copy = False
        with connect(autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if _copy_in_progress(watcher):
                    process.send_signal(signal.SIGKILL)
                    killed_mid_copy = True
                    break
                time.sleep(0.02)
            process.wait(timeout=60)
            assert killed_mid_copy, "the landing finished before it could be killed mid-COPY"
            # the server notices the dead client and rolls its transaction back
            for _ in range(100):
                if not _copy_in_progress(watcher):
                    break
                time.sleep(0.1)
            assert watcher.execute("select count(*) from raw._loads").fetchone()[0] == 0
            assert watcher.execute("select count(*) from raw.bank_operating").fetchone()[0] == 0

        assert export.exists()  # the file stays in landing until its rows are committed
        rerun = subprocess.run(
            [sys.executable, "-c", LAND_ONE_FILE, str(export)], env=os.environ.copy(), capture_output=True, text=True
        )
        assert rerun.stdout.strip() == "landed", rerun.stderr
        with connect(autocommit=True) as conn:
            assert conn.execute("select count(*), count(distinct row_hash) from raw.bank_operating").fetchone() == (
                ROWS,
                ROWS,
            )
            assert conn.execute("select status, rows_landed from raw._loads").fetchall() == [("landed", ROWS)]
