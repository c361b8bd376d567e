"""The data folder's Dagster instance, made ready by the ``finflow`` commands (never on import): its settings file
(``settings.write_dagster_yaml``) and its PostgreSQL database."""

from __future__ import annotations

import os
from pathlib import Path

from .settings import DAGSTER_PG_URL_ENV, paths, write_dagster_yaml
from .warehouse.connection import dagster_database_url

_derived_pg_url: str | None = None  # the FINFLOW_DAGSTER_PG_URL this process derived (not one it was given)


def ensure_dagster_home() -> Path:
    """The data folder's Dagster instance (``<data folder>/dagster``) with its settings; sets ``DAGSTER_HOME`` and,
    unless given, ``FINFLOW_DAGSTER_PG_URL`` (the ``dagster`` database beside the warehouse, created if missing),
    for this process and the Dagster processes it starts."""
    global _derived_pg_url
    folder = paths().ensure().dagster_home
    write_dagster_yaml(folder)
    os.environ["DAGSTER_HOME"] = str(folder)
    given = os.environ.get(DAGSTER_PG_URL_ENV)
    if not given or given == _derived_pg_url:  # derived earlier, maybe for another data folder: derive again
        _derived_pg_url = os.environ[DAGSTER_PG_URL_ENV] = dagster_database_url()
    return folder
