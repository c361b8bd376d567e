"""Shared pytest fixtures."""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# pytest-xdist workers each get a data folder (finflow_home) and so an embedded PostgreSQL of their own; the dbt
# manifest is parsed for one database, so each worker also gets its own dbt target folder (set before finflow_assets
# is imported: the dbt project reads it once).
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["DBT_TARGET_PATH"] = str(Path(os.environ.get("DBT_TARGET_PATH", "target")) / worker)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The dbt manifest the definitions load from (importing them parses nothing), prepared once per process that
    collects tests: not in pytest-xdist's controller, which collects none."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not session.config.getoption("numprocesses", default=None):
        from finflow_assets.transform.project import ensure_manifest

        ensure_manifest()


VENDORED_FIXTURES = REPO_ROOT / "tests" / "fixtures"


def shared_fixtures_dir() -> Path:
    """Real third-party sample files, one folder per format: FINFLOW_FIXTURES_DIR, else ../shared/fixtures beside the
    clone (the full set), else the redistributable subset vendored in tests/fixtures (see its PROVENANCE.md)."""
    for candidate in (os.environ.get("FINFLOW_FIXTURES_DIR"), REPO_ROOT.parent / "shared" / "fixtures"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return VENDORED_FIXTURES


@functools.cache
def not_vendored() -> dict[str, str]:
    """``<format>/<file>`` -> licence of the files too restrictively licensed to vendor (PROVENANCE.md's last table)."""
    text = (VENDORED_FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8").split("## Not vendored", 1)[1]
    return {m[1]: m[2].strip() for m in re.finditer(r"^\| `([^`]+)` \|[^|]*\| ([^|]+) \|", text, re.MULTILINE)}


def fixture_path(folder: Path, fmt: str, name: str) -> Path:
    """``folder/fmt/name``; a test needing a non-vendored file that this folder lacks is skipped, naming the file (a
    missing vendored file is not skipped: reading it fails the test)."""
    path = folder / fmt / name
    if not path.exists() and f"{fmt}/{name}" in not_vendored():
        pytest.skip(
            f"needs {fmt}/{name} ({not_vendored()[f'{fmt}/{name}']}, not redistributable so not in tests/fixtures; "
            "set FINFLOW_FIXTURES_DIR to a folder that has it)"
        )
    return path


def fixture_bytes(folder: Path, fmt: str, name: str) -> bytes:
    """The bytes of a fixture file (see :func:`fixture_path`)."""
    return fixture_path(folder, fmt, name).read_bytes()


def fixture_files(folder: Path, fmt: str) -> list[Path]:
    """The format's files present in this fixture folder (none when the folder has no such format)."""
    directory = folder / fmt
    return sorted(directory.iterdir()) if directory.is_dir() else []


def check_fixture_listing(folder: Path, fmt: str, expected: Iterable[str]) -> None:
    """Every file on disk has an expectation, and every expectation without a file is a non-vendored one."""
    on_disk = {path.name for path in fixture_files(folder, fmt)}
    expected = set(expected)
    assert on_disk <= expected, f"{fmt} files without an expectation: {sorted(on_disk - expected)}"
    missing = sorted(name for name in expected - on_disk if f"{fmt}/{name}" not in not_vendored())
    assert not missing, f"{fmt} fixtures expected but absent from {folder}: {missing}"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The fixture folder (``<format>/`` subfolders): the full shared set where present, else the vendored subset."""
    return shared_fixtures_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long variants (``@pytest.mark.slow``) run only with FINFLOW_SLOW_TESTS=1 (``make test-slow``)."""
    if os.environ.get("FINFLOW_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="long variant: runs with FINFLOW_SLOW_TESTS=1 (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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


def fresh_dagster_database(warehouse_url: str, name: str) -> str:
    """A new, empty database beside ``warehouse_url`` for a Dagster instance of a test's own (processes it starts
    share it, no other test sees its runs); returns its ``FINFLOW_DAGSTER_PG_URL``."""
    from finflow_assets.warehouse import connect
    from finflow_assets.warehouse.connection import sqlalchemy_psycopg2_url, with_database

    with connect(warehouse_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    return sqlalchemy_psycopg2_url(with_database(warehouse_url, name))


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


@pytest.fixture(scope="module")
def warm_dbt_commands():
    """dbt-core imported once for a module's many dbt commands outside a run (``run_dbt``, the invariants' builds):
    each ``finflow-dbt`` runs in a fork of the warm server, as inside a pipeline run, ~1 s of CPU less per command.
    The server leaves after its idle time; a command then runs dbt in its own process, as without it."""
    from finflow_assets.transform.dbt_server import warm_dbt

    with warm_dbt() as path:
        yield path


def run_dbt(*args: str) -> None:
    """A real dbt invocation against the current warehouse (raises on failure, with dbt's output)."""
    from finflow_assets.resources import WarehouseResource
    from finflow_assets.transform.assets import prepare_warehouse
    from finflow_assets.transform.project import dbt_cli

    prepare_warehouse(WarehouseResource())
    dbt_cli().cli(list(args)).wait()
