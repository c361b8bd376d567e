"""Connection settings shared by the Python assets, dbt and the CLI."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import psycopg.sql

from . import embedded


def database_url() -> str:
    """``FINFLOW_DATABASE_URL`` if set (an external PostgreSQL), else the embedded server, started on demand."""
    url = os.environ.get("FINFLOW_DATABASE_URL")
    return url if url else embedded.start()


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    """A new psycopg connection to the warehouse."""
    return psycopg.connect(url or database_url(), **kwargs)


def dbt_env(url: str | None = None) -> dict[str, str]:
    """The ``FINFLOW_PG_*`` variables that ``dbt_project/profiles.yml`` reads, derived from one URL."""
    parts = urlsplit(url or database_url())
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    return {
        "FINFLOW_PG_HOST": host,
        "FINFLOW_PG_PORT": str(parts.port or int(query.get("port", ["5432"])[0])),
        "FINFLOW_PG_USER": unquote(parts.username or "postgres"),
        "FINFLOW_PG_PASSWORD": unquote(parts.password or ""),
        "FINFLOW_PG_DATABASE": parts.path.lstrip("/") or "postgres",
    }


def describe_url(url: str) -> str:
    """The URL with any password masked, for logs and the UI."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def with_database(url: str, database: str) -> str:
    """The same server and credentials as ``url``, another database."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def dagster_database_url(warehouse_url: str | None = None) -> str:
    """The Dagster instance's PostgreSQL: ``FINFLOW_DAGSTER_PG_URL`` if set, else the ``dagster`` database on the
    warehouse's server (embedded or ``FINFLOW_DATABASE_URL``), created if missing.

    Its own database, not a schema of the warehouse: Dagster manages its tables with its own migrations, and the
    warehouse's backups and grants stay the warehouse's.
    """
    from ..settings import DAGSTER_DATABASE, DAGSTER_PG_URL_ENV

    given = os.environ.get(DAGSTER_PG_URL_ENV)
    if given:
        return sqlalchemy_psycopg2_url(given)
    warehouse = warehouse_url or database_url()
    ensure_database(warehouse, DAGSTER_DATABASE)
    return sqlalchemy_psycopg2_url(with_database(warehouse, DAGSTER_DATABASE))


def sqlalchemy_psycopg2_url(url: str) -> str:
    """``url`` naming the psycopg2 driver (``postgresql+psycopg2://``), which dagster-postgres is written for: from
    SQLAlchemy 2.1 a bare ``postgresql://`` means psycopg 3, with which its event log's NOTIFY fails."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgresql", "postgres") else url


def ensure_database(url: str, database: str) -> None:
    """Create ``database`` on ``url``'s server unless it exists (a clear error when the role may not create it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            return
        try:
            conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(database)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process created it meanwhile
        except psycopg.errors.InsufficientPrivilege as error:
            raise RuntimeError(
                f"cannot create the {database!r} database for Dagster's instance on {describe_url(url)} ({error}); "
                f"create it, or set FINFLOW_DAGSTER_PG_URL to a database Dagster may use"
            ) from error
