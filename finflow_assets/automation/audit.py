"""The nightly warehouse audit: the money invariants over every row.

Between audits the money invariants (``dbt_project/tests/assert_*.sql``) check only what each build added or
replaced since they last passed (the mark ``int_transactions__invariants_passed``), which keeps a 15-minute tick's
cost flat as history grows. Once a night (``FINFLOW_AUDIT_CRON``, default 02:30 UTC; ``finflow audit`` at any time)
the audit empties that mark and runs them over the whole warehouse; when they pass, the mark is set again. A
failure fails the run (the run-failure alert sends it) and leaves the mark empty, so every following build checks
every row, and fails, until the damage is repaired.
"""

import dagster as dg
from dagster_dbt import DbtCliResource

from ..resources import WarehouseResource, retry_if_the_database_restarts
from ..transform.assets import DBT_POOL, prepare_warehouse
from ..transform.project import ensure_manifest
from .conditions import AUDIT_CRON

MONEY_INVARIANTS = (
    "assert_every_raw_row_accounted_for",
    "assert_no_duplicate_fingerprints_among_kept_transactions",
    "assert_duplicates_point_to_kept_rows",
)
CHECKED_THROUGH = "int_transactions__invariants_passed"  # the mark (dbt_project/models/validation/)


def forget_checked_rows(warehouse: WarehouseResource) -> None:
    """Empty the mark: the next build (or the audit) checks the invariants over every row."""
    with warehouse.connect() as conn:
        if conn.execute("select to_regclass(%s) is not null", (f"validation.{CHECKED_THROUGH}",)).fetchone()[0]:
            conn.execute(f"truncate validation.{CHECKED_THROUGH}")
        conn.commit()


def money_invariant_statuses(dbt: DbtCliResource) -> dict[str, str]:
    """Run the money invariants (over the rows the mark leaves to check) and, when they pass, set the mark: one
    ``dbt build`` of both, where dbt builds the mark only after the tests on its parents passed. Returns each
    invariant's status (pass, fail, error; "not run" when dbt did not get to it)."""
    selection = " ".join((*MONEY_INVARIANTS, CHECKED_THROUGH))
    invocation = dbt.cli(["build", "--select", selection], manifest=ensure_manifest(), raise_on_error=False).wait()
    results = invocation.get_artifact("run_results.json")["results"]
    statuses = {result["unique_id"].split(".")[2]: str(result["status"]) for result in results}
    return {name: statuses.get(name, "not run") for name in MONEY_INVARIANTS}


@dg.op(
    pool=DBT_POOL,
    description="Empty the invariants' mark and run the money invariants over every row of the warehouse; the mark "
    "is set again when they pass. Fails, naming the invariants that did not pass, otherwise.",
)
def audit_money_invariants(context: dg.OpExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> None:
    with retry_if_the_database_restarts():
        prepare_warehouse(warehouse)
        forget_checked_rows(warehouse)
        statuses = money_invariant_statuses(dbt)
    failing = {name: status for name, status in statuses.items() if status != "pass"}
    if failing:
        raise dg.Failure(
            description="money invariants did not pass over the whole warehouse: "
            + ", ".join(f"{name} ({status})" for name, status in failing.items())
            + "; every build now checks every row until this is repaired (dbt_project/README.md)",
            metadata=statuses,
        )
    context.log.info(f"money invariants passed over every row: {', '.join(MONEY_INVARIANTS)}")


@dg.job(name="warehouse_audit", description="The money invariants over every row of the warehouse (nightly).")
def warehouse_audit() -> None:
    audit_money_invariants()


warehouse_audit_nightly = dg.ScheduleDefinition(
    name="warehouse_audit_nightly",
    description="Check the money invariants over every row once a night (between audits builds check new rows).",
    job=warehouse_audit,
    cron_schedule=AUDIT_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
