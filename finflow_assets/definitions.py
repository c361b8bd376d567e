"""The one entry point: every FinFlow asset, check, resource, schedule and sensor."""

import dagster as dg
from dagster_dbt import DbtCliResource

from .automation.alerts import alert_sensors
from .automation.freshness import freshness_checks, freshness_every_15_minutes, freshness_job
from .automation.retraining import retraining_schedules, retraining_sensors
from .automation.schedules import schedules
from .automation.sensors import file_drop_sensors
from .intelligence.assets import intelligence_assets
from .notify.resource import NotifierResource
from .reports.assets import report_assets
from .resources import DataFolderResource, MlflowResource, WarehouseResource
from .sources.assets import source_assets
from .transform.assets import dbt_assets_defs
from .transform.project import dbt_executable, dbt_project

all_assets = [*source_assets, *dbt_assets_defs, *intelligence_assets, *report_assets]

resources = {
    "warehouse": WarehouseResource(),
    "data_folder": DataFolderResource(),
    "mlflow_store": MlflowResource(),
    "notifier": NotifierResource(),
    "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
}

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=freshness_checks,
    jobs=[freshness_job],
    resources=resources,
    sensors=[*file_drop_sensors, *alert_sensors, *retraining_sensors],
    schedules=[*schedules, freshness_every_15_minutes, *retraining_schedules],
)
