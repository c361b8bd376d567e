"""Shared pytest fixtures."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_fixtures_dir() -> Path:
    """Real third-party sample files (../shared/fixtures beside the clone, or FINFLOW_FIXTURES_DIR)."""
    return Path(os.environ.get("FINFLOW_FIXTURES_DIR", REPO_ROOT.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The shared fixture folder; tests that need it are skipped cleanly where a clone has none."""
    path = shared_fixtures_dir()
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (set FINFLOW_FIXTURES_DIR)")
    return path


@pytest.fixture(scope="session")
def finflow_home(tmp_path_factory: pytest.TempPathFactory):
    """A fresh data folder with a running embedded PostgreSQL for the whole test session (real, not mocked)."""
    home = tmp_path_factory.mktemp("finflow")
    saved = {k: os.environ.get(k) for k in ("FINFLOW_HOME", "FINFLOW_DATABASE_URL", "MLFLOW_TRACKING_URI")}
    os.environ["FINFLOW_HOME"] = str(home)
    os.environ.pop("FINFLOW_DATABASE_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from finflow_assets.settings import paths
    from finflow_assets.warehouse import embedded

    embedded.start()
    yield paths().ensure()
    embedded.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def db(finflow_home):
    """A connection to the test warehouse (autocommit: an open read transaction would block dbt's table swaps)."""
    from finflow_assets.warehouse import connect

    with connect(autocommit=True) as conn:
        yield conn


@contextlib.contextmanager
def fresh_database(name: str):
    """Point everything (FINFLOW_DATABASE_URL) at a new, empty database on the test server, for isolation."""
    from finflow_assets.warehouse import connect, embedded

    base = embedded.start()
    with connect(base, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    saved = os.environ.get("FINFLOW_DATABASE_URL")
    os.environ["FINFLOW_DATABASE_URL"] = base.replace("/finflow?", f"/{name}?")
    try:
        yield os.environ["FINFLOW_DATABASE_URL"]
    finally:
        if saved is None:
            os.environ.pop("FINFLOW_DATABASE_URL", None)
        else:
            os.environ["FINFLOW_DATABASE_URL"] = saved


@contextlib.contextmanager
def own_data_folder(home: Path, database: str):
    """A data folder of its own (landing, Dagster instance) and a new database beside the session's server; the
    environment is restored afterwards. Yields the folder's paths."""
    saved = {key: os.environ.get(key) for key in ("FINFLOW_HOME", "DAGSTER_HOME")}
    with fresh_database(database):
        os.environ["FINFLOW_HOME"] = str(home)
        try:
            from finflow_assets.settings import paths

            yield paths().ensure()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_dbt(*args: str) -> None:
    """A real dbt invocation against the current warehouse (raises on failure, with dbt's output)."""
    from finflow_assets.resources import WarehouseResource
    from finflow_assets.transform.assets import prepare_warehouse
    from finflow_assets.transform.project import dbt_cli

    prepare_warehouse(WarehouseResource())
    dbt_cli().cli(list(args)).wait()
