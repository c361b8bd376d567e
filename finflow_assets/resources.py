"""Dagster resources, configured from the environment (no secrets in code or in the UI)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


# What a lost or refused database connection says (a restart, a failover, a server still starting up): the step is
# worth running again once the server answers. Matched in the error chain's text, since dbt reports them as text.
CONNECTION_LOST = (
    "server closed the connection",
    "terminating connection",
    "could not connect to server",
    "connection refused",
    "connection is bad",
    "connection to server on socket",
    "the database system is shutting down",
    "the database system is starting up",
    "ssl syscall error",
)
DB_RETRIES = 4
DB_RETRY_SECONDS = 5


def lost_the_database(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if any(marker in str(seen).lower() for marker in CONNECTION_LOST):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def retry_if_the_database_restarts() -> Iterator[None]:
    """Turn a lost database connection inside a step into a Dagster retry of the step (safe: every FinFlow step is
    idempotent), up to ``DB_RETRIES`` times ``DB_RETRY_SECONDS`` apart; any other error fails the step as before."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as error:
        if lost_the_database(error):
            raise dg.RetryRequested(max_retries=DB_RETRIES, seconds_to_wait=DB_RETRY_SECONDS) from error
        raise
