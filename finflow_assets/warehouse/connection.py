"""Connection settings shared by the Python assets, dbt and the CLI."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

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
