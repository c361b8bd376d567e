"""The opt-in dbt resource (``optin/fast_dbt.py``, ``FINFLOW_FAST_DBT=1``): off by default; on, it answers dbt-core's
version from the package metadata (no ``dbt --version`` subprocess); with another dagster-dbt it is the stock one.

Private names used here, unavoidably: ``_cli_version``, the dagster-dbt member the opt-in overrides."""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import Version

import finflow_assets.optin as optin
from finflow_assets.optin.fast_dbt import FastDbtCli, dbt_resource
from finflow_assets.transform.project import FinflowDbtCli


def test_the_stock_resource_by_default(monkeypatch):
    monkeypatch.delenv("FINFLOW_FAST_DBT", raising=False)
    assert type(dbt_resource()) is FinflowDbtCli


def test_opted_in_it_reads_dbts_version_from_the_package(monkeypatch):
    monkeypatch.setenv("FINFLOW_FAST_DBT", "1")
    resource = dbt_resource()
    assert type(resource) is FastDbtCli
    assert resource._cli_version == Version(version("dbt-core"))
    assert resource._cli_version == FinflowDbtCli(**_fields(resource))._cli_version  # what `dbt --version` says


def test_opted_in_with_another_dagster_dbt_it_is_the_stock_resource(monkeypatch, caplog):
    monkeypatch.setenv("FINFLOW_FAST_DBT", "1")
    monkeypatch.setitem(optin.TESTED_VERSIONS, "dagster-dbt", "0.0.1")
    optin.version_tested.cache_clear()
    try:
        assert type(dbt_resource()) is FinflowDbtCli
    finally:
        optin.version_tested.cache_clear()
    assert "written for dagster-dbt 0.0.1" in caplog.text


def _fields(resource: FinflowDbtCli) -> dict:
    return {"project_dir": resource.project_dir, "dbt_executable": resource.dbt_executable, "target": resource.target}
