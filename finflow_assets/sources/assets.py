"""One factory turns each registry entry into a ``raw_<source>`` asset (group ``ingestion``)."""

import time

import dagster as dg
import psycopg

from ..resources import DataFolderResource, WarehouseResource
from .downloads import download_to_landing
from .file_landing import land_pending
from .registry import REFERENCE_SOURCES, SOURCES, SourceSpec


def _file_drop_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    check_name = "files_parsed"

    @dg.asset(
        name=spec.asset_name,
        group_name="ingestion",
        description=f"{spec.system}: {spec.description} Landed as-is into raw.{spec.raw_table} with lineage.",
        kinds={"postgres", spec.format},
        metadata={"source": spec.name, "format": spec.format, "arrives_by": "file drop"},
        check_specs=[
            dg.AssetCheckSpec(
                check_name,
                asset=spec.asset_name,
                description="Every dropped file parsed; unreadable files are quarantined with the row and problem.",
            )
        ],
    )
    def raw_file_drop(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_folder: DataFolderResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        folder = data_folder.landing_for(spec.name)
        if spec.download_url_env:
            download_to_landing(spec, folder)
        with warehouse.connect() as conn:
            report = land_pending(conn, spec, folder)
            version = delivered_version(conn, spec.name)
        for error in report.errors:
            context.log.error(f"quarantined: {error}")
        quarantined = report.count("quarantined")
        context.log.info(
            f"{spec.name}: {report.rows_landed} rows from {report.count('landed')} files; "
            f"{report.count('already_landed')} already landed; {quarantined} quarantined"
        )
        return dg.MaterializeResult(
            data_version=version,
            metadata={
                "rows_landed": dg.MetadataValue.int(report.rows_landed),
                "files_landed": dg.MetadataValue.int(report.count("landed")),
                "files_already_landed": dg.MetadataValue.int(report.count("already_landed")),
                "files_quarantined": dg.MetadataValue.int(quarantined),
                "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
                "landing_folder": dg.MetadataValue.path(str(folder)),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=check_name,
                    passed=quarantined == 0,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"quarantined": dg.MetadataValue.md("\n".join(f"- {e}" for e in report.errors) or "none")},
                )
            ],
        )

    return raw_file_drop


def delivered_version(conn: psycopg.Connection, source: str) -> dg.DataVersion:
    """The raw table's data version: its deliveries that carried rows (count and the newest). A pull or a file
    that brings nothing keeps it, so declarative automation sees no new data and an idle tick builds nothing
    downstream (``automation/conditions.py``)."""
    if conn.execute("select to_regclass('raw._loads') is null").fetchone()[0]:
        return dg.DataVersion("0:none")  # nothing ever landed (an empty landing folder on a first run)
    count, newest = conn.execute(
        "select count(*), max(finished_at) from raw._loads where source = %s and status = 'landed' and rows_landed > 0",
        (source,),
    ).fetchone()
    return dg.DataVersion(f"{count}:{newest.isoformat() if newest else 'none'}")


def _api_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.asset_name,
        group_name="ingestion",
        description=f"{spec.system}: {spec.description} Pulled incrementally over HTTP into raw.{spec.raw_table}.",
        kinds={"postgres", "api"},
        metadata={"source": spec.name, "format": spec.format, "arrives_by": f"API ({spec.api.pagination})"},
        # a pull that fails after its own retry budget is retried once more by Dagster, a minute later
        retry_policy=dg.RetryPolicy(max_retries=1, delay=60, backoff=dg.Backoff.EXPONENTIAL),
    )
    def raw_api_pull(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        from .connectors.http import ApiConfigError, ApiError
        from .connectors.pull import pull_source

        try:
            with warehouse.connect() as conn:
                report = pull_source(conn, spec)
                version = delivered_version(conn, spec.name)
        except ApiConfigError as exc:
            # an unconfigured source is not an error of the run: the others go on, its freshness check will tell
            context.log.warning(f"{spec.name} is not configured, nothing pulled: {exc}")
            with warehouse.connect() as conn:  # (its data version unchanged: nothing new downstream)
                version = delivered_version(conn, spec.name)
            return dg.MaterializeResult(
                metadata={"configured": False, "reason": str(exc), "rows_landed": 0}, data_version=version
            )
        except ApiError as exc:
            if exc.status not in (401, 403):
                raise
            # a refused key does not get better in a minute: fail now, without Dagster's retry
            raise dg.Failure(description=f"{exc} — check {spec.api.auth.describe()}", allow_retries=False) from exc
        context.log.info(
            f"{spec.name}: {report.rows_landed} rows landed from {report.pages} pages "
            f"({report.rows_skipped_existing} already landed, {report.retries} retries)"
        )
        return dg.MaterializeResult(metadata={"configured": True, **report.metadata()}, data_version=version)

    return raw_api_pull


def build_source_assets() -> list[dg.AssetsDefinition]:
    return [
        _file_drop_asset(spec) if spec.kind == "file_drop" else _api_asset(spec)
        for spec in (*SOURCES, *REFERENCE_SOURCES)
    ]


source_assets = build_source_assets()
