"""Opt-in (``FINFLOW_FAST_DBT=1``): the pipeline's dbt resource without two per-step start-up costs.

- dagster-dbt runs ``dbt --version`` in a subprocess once per step to tell dbt-core from the Fusion engine: about
  two seconds of a 15-minute tick's budget, twice. The executable is the dbt-core installed beside this Python
  (``transform.project.dbt_executable``), so the package metadata gives the same answer for free.
- It also loads the dbt project, profile and macros in this process to open an adapter (~0.6 s per step), used
  only by ``fetch_column_metadata`` / ``fetch_row_counts``, which FinFlow does not call (each materialization
  still carries dbt's ``rows_affected``).

Both override private members of dagster-dbt's ``DbtCliResource`` (``_cli_version``,
``_initialize_dbt_core_adapter``): hence opt-in, and only with the dagster-dbt version they were written against
(``optin.version_tested``); otherwise the resource is the stock ``FinflowDbtCli``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as package_version

from packaging.version import Version

from ..transform.project import DBT_TARGET, FinflowDbtCli, dbt_executable, dbt_project
from . import FAST_DBT_ENV, opted_in, version_tested


class FastDbtCli(FinflowDbtCli):
    """``FinflowDbtCli`` that reads dbt-core's version from its package and opens no adapter in the step."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource() -> FinflowDbtCli:
    """The pipeline's dbt resource: ``FastDbtCli`` when opted in and dagster-dbt is the tested version, else the
    stock ``FinflowDbtCli``."""
    fast = opted_in(FAST_DBT_ENV) and version_tested("fast dbt resource", "dagster-dbt")
    cls = FastDbtCli if fast else FinflowDbtCli
    return cls(project_dir=dbt_project, dbt_executable=dbt_executable(), target=DBT_TARGET)
