"""All dbt models as Dagster assets; dbt tests become asset checks. One ``dbt build`` per run."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ..intelligence.scores import ensure_tables
from ..resources import WarehouseResource, retry_if_the_database_restarts
from ..sources.raw_tables import ensure_raw_schema, ensure_raw_table
from ..sources.registry import REFERENCE_SOURCES, SOURCES
from .project import dbt_project, ensure_manifest, prepared_manifest


class FinflowDbtTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folders (staging, intermediate, marts); seeds are reference data."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Models and seeds by their own name (``fct_transactions``), which is unique in a dbt project."""
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)


translator = FinflowDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def prepare_warehouse(warehouse: WarehouseResource) -> None:
    """dbt reads tables that Python assets write: make sure they exist before the first delivery or scoring."""
    warehouse.export_dbt_env()
    ensure_manifest()  # re-parses once if this run's database differs from the one the project was parsed for
    with warehouse.connect() as conn:
        ensure_raw_schema(conn)
        for spec in (*SOURCES, *REFERENCE_SOURCES):
            ensure_raw_table(conn, spec.raw_table)
        ensure_tables(conn)


ENRICHED = "tag:enriched"
# dbt's unit tests check the SQL logic on fixed inputs, not the data: they belong to development and CI (``dbt build``
# from dbt_project/, ``make test``), not to every 15-minute run, as dbt's docs advise for production builds.
# --no-write-json: the run's manifest.json and run_results.json (written twice, ~0.45 s of each invocation) are read
# by nothing here; dagster-dbt follows dbt's event stream, and the invocation's dbt.log keeps every node's timing.
PIPELINE_BUILD = ["build", "--exclude-resource-type", "unit_test", "--no-write-json"]
DBT_POOL = "dbt"  # one dbt invocation at a time across runs (limit in the instance's dagster.yaml)


@dbt_assets(
    manifest=prepared_manifest(),
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=ENRICHED,
    pool=DBT_POOL,
)
def finflow_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Normalize, dedupe, validate and reconcile every source with one ``dbt build`` over the selection."""
    with retry_if_the_database_restarts():
        prepare_warehouse(warehouse)
        yield from dbt.cli(PIPELINE_BUILD, context=context).stream()


@dbt_assets(
    manifest=prepared_manifest(), project=dbt_project, dagster_dbt_translator=translator, select=ENRICHED, pool=DBT_POOL
)
def finflow_dbt_enriched_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Marts that combine the SQL layer with the ML assets' outputs (categories, anomaly scores)."""
    with retry_if_the_database_restarts():
        prepare_warehouse(warehouse)
        yield from dbt.cli(PIPELINE_BUILD, context=context).stream()


dbt_assets_defs = [finflow_dbt_models, finflow_dbt_enriched_marts]
