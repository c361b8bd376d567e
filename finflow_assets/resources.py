"""Dagster resources, configured from the environment (no secrets in code or in the UI)."""

import os
from pathlib import Path

import dagster as dg
import psycopg

from .settings import Paths, mlflow_tracking_uri, paths
from .warehouse import connect, database_url, dbt_env, describe_url


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse: ``FINFLOW_DATABASE_URL`` or, when unset, the embedded server."""

    def url(self) -> str:
        return database_url()

    def connect(self) -> psycopg.Connection:
        return connect(self.url())

    def export_dbt_env(self) -> dict[str, str]:
        """Point dbt (a subprocess) at the same database by exporting the variables profiles.yml reads."""
        env = dbt_env(self.url())
        os.environ.update(env)
        return env

    def describe(self) -> str:
        return describe_url(self.url())


class DataFolderResource(dg.ConfigurableResource):
    """The data folder (``FINFLOW_HOME``): landing, reports, simulator output."""

    def paths(self) -> Paths:
        return paths().ensure()

    def landing_for(self, source: str) -> Path:
        folder = self.paths().landing_for(source)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry: ``MLFLOW_TRACKING_URI`` or a SQLite store in the data folder."""

    def tracking_uri(self) -> str:
        return mlflow_tracking_uri()
