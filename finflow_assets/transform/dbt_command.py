"""The dbt command FinFlow's Dagster steps and analysts run (``finflow-dbt``): dbt-core's own CLI, unchanged, except
that only one dbt that writes runs against a warehouse at a time, and that it leaves as soon as dbt is done.

One at a time: the incremental models are correct only if builds never overlap ("after my newest stamp" must miss
nothing upstream). Dagster's ``dbt`` pool serializes its own runs, but an analyst's ``dbt build`` by hand is not a
Dagster run; so every command that writes (build, run, seed, snapshot, test, run-operation, clone, retry) first
takes a PostgreSQL advisory lock in the warehouse (``FINFLOW_PG_*``, what the profile connects with) and holds it
until dbt is done, waiting with a message while another holds it. ``FINFLOW_DBT_LOCK=0`` turns it off.

A dbt process that has finished (artifacts written, connections closed, every event printed) still spends about
0.3 s tearing down the modules it imported before the operating system may end it, and a 15-minute tick runs dbt
twice. Here the exit handlers run as usual (multiprocessing's clean-up among them), the output is flushed, and the
process ends without the teardown. Inside a pipeline run the command runs on the run's warm dbt (``dbt_server``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Iterator

WRITING_COMMANDS = frozenset({"build", "run", "seed", "snapshot", "test", "run-operation", "clone", "retry"})
# pg_advisory_lock's key: one number for "a dbt that writes is running in this database"
DBT_LOCK_KEY = 0x46696E466C6F77  # "FinFlow"


def _command(argv: list[str]) -> str | None:
    """dbt's subcommand in an argument list (the first word that is not an option)."""
    return next((arg for arg in argv[1:] if not arg.startswith("-")), None)


@contextlib.contextmanager
def one_dbt_at_a_time(argv: list[str]) -> Iterator[None]:
    """Hold the warehouse's dbt lock while a writing command runs (a no-op for parse, compile, ls, --version …)."""
    host = os.environ.get("FINFLOW_PG_HOST")
    if _command(argv) not in WRITING_COMMANDS or not host or os.environ.get("FINFLOW_DBT_LOCK") == "0":
        yield
        return
    import psycopg

    with psycopg.connect(
        host=host,
        port=os.environ.get("FINFLOW_PG_PORT", "5432"),
        user=os.environ.get("FINFLOW_PG_USER", "postgres"),
        password=os.environ.get("FINFLOW_PG_PASSWORD", ""),
        dbname=os.environ.get("FINFLOW_PG_DATABASE", "finflow"),
        autocommit=True,
        application_name="finflow-dbt lock",
    ) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", (DBT_LOCK_KEY,)).fetchone()[0]:
            print("finflow-dbt: another dbt build is running against this warehouse; waiting for it", file=sys.stderr)
            conn.execute("select pg_advisory_lock(%s)", (DBT_LOCK_KEY,))
        yield  # the lock goes with the session when the connection closes


def run_dbt() -> int:
    """dbt's CLI on ``sys.argv`` (under the warehouse's dbt lock when it writes), then what the interpreter would run
    at exit; returns the exit status."""
    from dbt.cli.main import cli

    try:
        with one_dbt_at_a_time(sys.argv):
            cli()
        code: object = 0
    except SystemExit as finished:
        code = finished.code
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # what sys.exit would have printed
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter would run at exit, then skip its teardown
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def main() -> None:
    """On the run's warm dbt server when there is one (``dbt_server``: no 1.1 s import), else in this process."""
    server = os.environ.get("FINFLOW_DBT_SERVER")
    if server:
        from .dbt_server import run_on_server

        status = run_on_server(server, sys.argv)
        if status is not None:
            os._exit(status)
    os._exit(run_dbt())


if __name__ == "__main__":
    main()
