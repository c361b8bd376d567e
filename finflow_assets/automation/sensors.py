"""File-drop sensors: a new file in ``landing/<source>/`` launches a run that lands it.

What follows (dbt, scoring, reports) is brought up to date by declarative automation (``conditions.py``).
"""

import hashlib

import dagster as dg

from ..settings import paths
from ..sources.file_landing import pending_files
from ..sources.registry import REFERENCE_SOURCES, SOURCES, SourceSpec


def _file_drop_sensor(spec: SourceSpec) -> dg.SensorDefinition:
    target = dg.AssetSelection.assets(spec.asset_name)

    @dg.sensor(
        name=f"{spec.name}_file_drop",
        description=f"Launches a run when files arrive in landing/{spec.name}/ ({spec.format}).",
        target=target,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def file_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        files = pending_files(spec, paths().landing_for(spec.name))
        if not files:
            return dg.SkipReason(f"no new files in landing/{spec.name}/")
        # the run key names exactly this set of files, so the same drop never launches two runs
        fingerprint = "\n".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
        run_key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        context.log.info(f"{len(files)} new file(s) in landing/{spec.name}/: {[p.name for p in files][:10]}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"{spec.name}-{run_key}", tags={"finflow/source": spec.name})]
        )

    return file_drop_sensor


file_drop_sensors = [_file_drop_sensor(spec) for spec in (*SOURCES, *REFERENCE_SOURCES) if spec.kind == "file_drop"]
