"""Opt-in speed-ups that reach into Dagster's or dagster-dbt's private internals; all off by default.

FinFlow's default configuration uses only supported APIs (``tests/test_supported_apis.py`` enforces it: private
names appear in this package only). Each module here is switched on by one setting and, once on, still checks that
the installed Dagster / dagster-dbt is the version it was tested with; with any other version it logs a warning and
behaves exactly like the stock class it extends, so an upgrade can slow a tick down but not break it.

- ``FINFLOW_WARM_RUNS=1``: the data folder's ``dagster.yaml`` names ``warm_runs.WarmRunLauncher`` (runs start in a
  fork of a warm process).
- ``event_log_storage.IndexPooledSqliteEventLogStorage`` (``index.db`` kept open) is for an instance kept on
  SQLite by an edited ``dagster.yaml``; FinFlow's own instance is on PostgreSQL and does not name it.
- ``FINFLOW_FAST_DBT=1``: the pipeline's dbt resource is ``fast_dbt.FastDbtCli`` (no ``dbt --version`` subprocess
  and no in-process adapter per dbt step).
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from ..settings import FAST_DBT_ENV, WARM_RUNS_ENV, opted_in

__all__ = ["FAST_DBT_ENV", "TESTED_VERSIONS", "WARM_RUNS_ENV", "opted_in", "version_tested"]

log = logging.getLogger(__name__)

# the versions the private overrides here were written against (one fact: pyproject pins the same)
TESTED_VERSIONS = {"dagster": "1.13.27", "dagster-dbt": "0.29.27"}


@cache
def version_tested(feature: str, package: str) -> bool:
    """Whether the installed ``package`` is the version ``feature`` was tested with; if not, says so (once)."""
    try:
        installed = package_version(package)
    except PackageNotFoundError:
        installed = None
    tested = TESTED_VERSIONS[package]
    if installed != tested:
        log.warning(
            "%s: written for %s %s but %s is installed; falling back to Dagster's stock behaviour",
            feature,
            package,
            tested,
            installed,
        )
        return False
    return True
