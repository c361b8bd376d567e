"""The one entry point: every FinFlow asset, check, resource, schedule and sensor."""

import dagster as dg

from .automation.alerts import alert_sensors
from .automation.audit import warehouse_audit, warehouse_audit_nightly
from .automation.conditions import automate, automation_sensor
from .automation.freshness import freshness_checks, freshness_every_15_minutes, freshness_job
from .automation.retraining import retraining_schedules, retraining_sensors
from .automation.schedules import schedules
from .automation.sensors import file_drop_sensors
from .executor import run_executor
from .intelligence.assets import intelligence_assets
from .notify.resource import NotifierResource
from .optin.fast_dbt import dbt_resource
from .reports.assets import report_assets
from .reports.daily_report import daily_report_email
from .resources import DataFolderResource, MlflowResource, WarehouseResource
from .sources.assets import source_assets
from .transform.assets import dbt_assets_defs

all_assets = automate([*source_assets, *dbt_assets_defs, *intelligence_assets, *report_assets, daily_report_email])

resources = {
    "warehouse": WarehouseResource(),
    "data_folder": DataFolderResource(),
    "mlflow_store": MlflowResource(),
    "notifier": NotifierResource(),
    "dbt": dbt_resource(),  # stock unless FINFLOW_FAST_DBT=1 (optin/fast_dbt.py)
}

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=freshness_checks,
    jobs=[freshness_job, warehouse_audit],
    resources=resources,
    executor=run_executor(),  # FINFLOW_EXECUTOR: in_process (default), multiprocess or k8s
    sensors=[*file_drop_sensors, *alert_sensors, automation_sensor, *retraining_sensors],
    schedules=[*schedules, freshness_every_15_minutes, *retraining_schedules, warehouse_audit_nightly],
)
