"""Idle is free: a source materialized without new data (an API pull of 0 rows keeps its data version) makes
declarative automation request nothing downstream; a delivery with rows (a new data version) does."""

import dagster as dg

from finflow_assets.automation.conditions import DOWNSTREAM_OF_NEW_DATA, SOURCE_GROUP


def test_only_a_new_source_data_version_brings_downstream_up_to_date():
    version = {"current": "1:first"}

    @dg.asset(group_name=SOURCE_GROUP, kinds={"api"})
    def raw_api_source() -> dg.MaterializeResult:
        return dg.MaterializeResult(data_version=dg.DataVersion(version["current"]))

    @dg.asset(deps=[raw_api_source], automation_condition=DOWNSTREAM_OF_NEW_DATA)
    def staged() -> None:
        return None

    @dg.asset(deps=[staged], automation_condition=DOWNSTREAM_OF_NEW_DATA)
    def scored() -> None:
        return None

    defs = dg.Definitions(assets=[raw_api_source, staged, scored])
    instance = dg.DagsterInstance.ephemeral()
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert dg.materialize([raw_api_source, staged, scored], instance=instance).success

    def requested_after_pull(new_version: str) -> set[str]:
        nonlocal evaluation
        version["current"] = new_version
        assert dg.materialize([raw_api_source], instance=instance).success
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
        return {key.to_user_string() for key in (staged.key, scored.key) if evaluation.get_num_requested(key)}

    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    assert requested_after_pull("1:first") == set()  # an idle pull: materialized, same data version
    assert requested_after_pull("1:first") == set()
    assert requested_after_pull("2:second") == {"staged", "scored"}  # rows landed: the chain in one tick


def test_an_unconfigured_api_source_keeps_its_data_version(finflow_home, monkeypatch):
    """A source without its settings materializes (so its freshness check can tell), with the same data version
    every tick: it must not rebuild everything downstream of it on every tick."""
    from finflow_assets.resources import WarehouseResource
    from finflow_assets.sources.assets import source_assets
    from finflow_assets.sources.registry import get_source

    spec = get_source("expenses")
    for name in (spec.api.base_url_env, *spec.api.auth.env.values()):
        monkeypatch.delenv(name, raising=False)
    asset = next(a for a in source_assets if a.key.to_user_string() == "raw_expenses")
    versions = []
    for _ in range(2):
        result = dg.materialize([asset], resources={"warehouse": WarehouseResource()})
        [materialization] = result.asset_materializations_for_node(asset.node_def.name)
        assert materialization.metadata["configured"].value is False
        versions.append(materialization.tags["dagster/data_version"])
    assert versions[0] == versions[1]
