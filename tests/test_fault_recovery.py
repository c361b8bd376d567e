"""Faults for real: a landing process killed with SIGKILL in the middle of its COPY, then a rerun (nothing of the
killed load may remain, and the rerun lands every row exactly once); PostgreSQL restarted in the middle of a dbt
build (the step retries once the server is back, and the result is complete).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_postgres_restarted_mid_dbt_build_the_step_retries_and_recovers(finflow_home, tmp_path):
    import threading

    import dagster as dg

    from finflow_assets.cli import materialize_everything
    from finflow_simulator import generate
    from finflow_simulator.api_server import serve

    with fresh_database("test_postgres_restart") as url:
        sim = generate(finflow_home.landing, tmp_path / "truth", days=1, per_day=300, seed=5, api_dir=tmp_path / "api")
        with serve(sim.api_dir) as server:
            os.environ.update(server.env())
            assert materialize_everything(dg.AssetSelection.groups("ingestion")).success
        restarted = threading.Event()

        def restart_when_dbt_is_busy() -> None:
            # once dbt has connected (the step's own table checks are done by then), lock a raw table its build
            # reads, wait until dbt waits on it, then restart: the restart lands while dbt is surely mid-build with
            # its connections open (a 300-row build is over in 3 s, too quick to race reliably)
            deadline = time.monotonic() + 120
            env = {k: v for k, v in os.environ.items() if k != "FINFLOW_DATABASE_URL"}
            finflow = str(Path(sys.executable).parent / "finflow")
            watcher = connect(url, autocommit=True)
            holder = connect(url)
            dbt_backends = (
                "select count(*) from pg_stat_activity where datname = current_database() and application_name = 'dbt'"
            )
            try:
                while time.monotonic() < deadline and not watcher.execute(dbt_backends).fetchone()[0]:
                    time.sleep(0.02)
                holder.execute("lock table raw.bank_operating in access exclusive mode")
                while time.monotonic() < deadline:
                    if watcher.execute(dbt_backends + " and wait_event_type = 'Lock'").fetchone()[0]:
                        break
                    time.sleep(0.05)
                # stop and start the server from another process, as an operator or a failover would: every
                # connection is cut, the lock with it; the embedded server's own CLI (signals can only be set up
                # in a main thread)
                subprocess.run([finflow, "db", "stop"], env=env, check=True, capture_output=True)
            finally:
                for conn in (holder, watcher):
                    with contextlib.suppress(Exception):
                        conn.close()
            time.sleep(1)
            subprocess.run([finflow, "db", "start"], env=env, check=True, capture_output=True)
            restarted.set()

        watcher = threading.Thread(target=restart_when_dbt_is_busy, daemon=True)
        watcher.start()
        core = "group:reference or group:staging or group:intermediate or group:validation or group:reconciliation"
        core += " or group:marts"
        result = materialize_everything(f"({core}) and not key:fct_transactions")
        watcher.join(timeout=130)
        assert restarted.is_set()
        retried = [e for e in result.all_events if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")]
        assert retried, "the restart should have made a step retry"
        assert result.success
        with connect(url) as conn:
            kept = conn.execute("select count(*) from validation.int_transactions__validated").fetchone()[0]
            raw = conn.execute("select count(*) from raw.bank_operating").fetchone()[0]
        assert kept > 0 and raw > 0
        # the attempt cut short may have recorded failed checks; the retry's evaluations are the last word
        latest = {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
        assert latest and all(latest.values()), [k for k, passed in latest.items() if not passed]
    # the server the other process started is the one this process stops (its handle knew only the first
    # postmaster, and used to stop nothing and leave the new one running after the tests)
    from finflow_assets.warehouse import embedded

    assert embedded.stop()
    assert embedded.running_pid() is None
    embedded.start()  # for the session's other tests
