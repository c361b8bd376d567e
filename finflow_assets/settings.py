"""Where FinFlow keeps its state, configured from the environment only.

Everything generated (embedded database, Dagster home, MLflow store, landing, reports, simulator output)
lives under one data folder, ``FINFLOW_HOME``. Its default is ``.finflow/`` in the repository when FinFlow
runs from a clone, otherwise ``~/.finflow``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
# a clone (or an editable install) has pyproject.toml beside the package; an installed wheel has not
FROM_CLONE = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "dbt_project" / "dbt_project.yml").is_file()
# the dbt project: the clone's, else the copy the wheel ships with its manifest already parsed (setup.py)
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project" if FROM_CLONE else PACKAGE_DIR / "dbt_project"


def _default_home() -> Path:
    return REPO_ROOT / ".finflow" if FROM_CLONE else Path.home() / ".finflow"


@dataclass(frozen=True)
class Paths:
    """The folders under the data folder; created on first use."""

    home: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow(self) -> Path:
        return self.home / "mlflow"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def simulator(self) -> Path:
        return self.home / "simulator"

    @property
    def history(self) -> Path:
        """Labeled categorization history files (CSV) that the categorizer trains on."""
        return self.home / "history"

    def landing_for(self, source: str) -> Path:
        return self.landing / source

    def ensure(self) -> Paths:
        """Create the data folder, private to its owner: statements, reports and models are nobody else's business.

        Every folder is 0700. The one exception is the data folder itself when FinFlow runs as root: the embedded
        PostgreSQL then runs as its own system user, which must pass through it to reach ``pgdata/``.
        """
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() != 0:
            self.home.chmod(0o700)
        for folder in (self.dagster_home, self.mlflow, self.landing, self.reports, self.history):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.chmod(0o700)
        return self


def paths() -> Paths:
    """The data folder from ``FINFLOW_HOME`` (read at call time so tests can point it elsewhere)."""
    home = os.environ.get("FINFLOW_HOME")
    return Paths(Path(home).expanduser().resolve() if home else _default_home())


def mlflow_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite-backed store with a model registry in the data folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    folder = paths().mlflow
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def mlflow_artifact_root() -> str | None:
    """Artifacts of new experiments: the data folder's ``mlflow/artifacts``; with ``MLFLOW_TRACKING_URI`` set, the
    store's own default (a tracking server's artifact root, or beside a SQLite file: see ``ml.registry``)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (paths().mlflow / "artifacts").as_uri()


# the opt-in speed-ups (finflow_assets/optin/): off unless set to 1
WARM_RUNS_ENV = "FINFLOW_WARM_RUNS"
FAST_DBT_ENV = "FINFLOW_FAST_DBT"


def opted_in(env: str) -> bool:
    """Whether the setting ``env`` turns its speed-up on (``1``, ``true`` or ``yes``; default off)."""
    return os.environ.get(env, "0").strip().lower() in {"1", "true", "yes"}


# Dagster's instance settings for the data folder (see docs/operating.md): runs, event logs and schedules on
# PostgreSQL (the ``dagster`` database beside the warehouse, or FINFLOW_DAGSTER_PG_URL: read by Dagster through the
# file's ``env:`` indirection, so no password is written in it); runs are queued, at most a few at once, and one dbt
# invocation at a time (the "dbt" pool), since two dbt builds must not swap the same tables or share a target folder
# concurrently. Run monitoring fails a run whose worker never started or died (instead of leaving it STARTING or
# STARTED forever). The run launcher is Dagster's own; FINFLOW_WARM_RUNS=1 names the opt-in warm launcher.
DAGSTER_PG_URL_ENV = "FINFLOW_DAGSTER_PG_URL"
DAGSTER_DATABASE = "dagster"  # the instance's database on the warehouse's server, unless FINFLOW_DAGSTER_PG_URL
# the executor of every job: in_process (default), multiprocess or k8s (finflow_assets/executor.py)
EXECUTOR_ENV = "FINFLOW_EXECUTOR"

_HEADER = (
    "# written by FinFlow; see docs/operating.md (FinFlow rewrites it while it is unedited, never once you edit it)\n"
)
_SETTINGS = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
"""
POSTGRES_STORAGE_YAML = f"""\
storage:
  postgres:
    postgres_url:
      env: {DAGSTER_PG_URL_ENV}
"""
DAGSTER_YAML = _HEADER + _SETTINGS + POSTGRES_STORAGE_YAML
# FINFLOW_WARM_RUNS=1 (opt-in: private Dagster internals behind a version check, finflow_assets/optin/)
WARM_RUNS_YAML = """\
run_launcher:
  module: finflow_assets.optin.warm_runs
  class: WarmRunLauncher
"""
# FinFlow before PostgreSQL instance storage (SQLite in the Dagster home; opted in: a pooled SQLite event log too)
_SQLITE_WARM_YAML = (
    """\
event_log_storage:
  module: finflow_assets.optin.event_log_storage
  class: IndexPooledSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
"""
    + WARM_RUNS_YAML
)
# what FinFlow wrote before the opt-ins moved (module paths of the old defaults): still recognised and migrated
_LEGACY_MODULES = {
    "module: finflow_assets.event_log_storage\n": "module: finflow_assets.optin.event_log_storage\n",
    "module: finflow_assets.automation.warm_runs\n": "module: finflow_assets.optin.warm_runs\n",
}
_LEGACY_YAML = """\
# written by FinFlow on first use; see docs/operating.md
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
event_log_storage:
  module: finflow_assets.event_log_storage
  class: IndexPooledSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
# each launched run starts in a fork of a process with the libraries imported (automation/warm_runs.py)
run_launcher:
  module: finflow_assets.automation.warm_runs
  class: WarmRunLauncher
"""
_STORAGE_KEYS = ("storage:", "run_storage:", "event_log_storage:", "schedule_storage:")


def dagster_yaml(folder: Path, warm_runs: bool | None = None) -> str:
    """The instance settings FinFlow writes for the Dagster home ``folder``: stock Dagster on PostgreSQL, plus the
    opt-in warm run launcher when ``warm_runs`` (default: ``FINFLOW_WARM_RUNS``). The same for every folder now
    that nothing in it is a path (the database comes from the environment)."""
    if warm_runs is None:
        warm_runs = opted_in(WARM_RUNS_ENV)
    return DAGSTER_YAML + (WARM_RUNS_YAML if warm_runs else "")


def _earlier_renderings(folder: Path) -> set[str]:
    """Every ``dagster.yaml`` an earlier FinFlow wrote for ``folder`` (SQLite instance storage)."""
    event_log_dir = json.dumps(str(folder.resolve() / "history" / "runs"))
    sqlite = _HEADER + _SETTINGS
    return {
        sqlite,
        sqlite + _SQLITE_WARM_YAML.format(event_log_dir=event_log_dir),
        _LEGACY_YAML.format(event_log_dir=event_log_dir),
    }


def write_dagster_yaml(folder: Path) -> Path:
    """``folder/dagster.yaml`` with FinFlow's instance settings.

    A file FinFlow wrote and nobody edited (any of its renderings, the SQLite ones of earlier versions included) is
    rewritten to the current choice, so ``FINFLOW_WARM_RUNS`` takes effect on the next start and an old data folder
    moves to PostgreSQL (its SQLite history stays in the folder, unread). An edited file is the user's and stays,
    except that the old module paths of the opt-in classes are moved to ``finflow_assets.optin`` and a file naming
    no storage at all (Dagster's SQLite default) gets FinFlow's PostgreSQL ``storage`` block appended.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    wanted = dagster_yaml(folder)
    if not config.exists():
        config.write_text(wanted)
        return config
    current = config.read_text()
    if current in {dagster_yaml(folder, False), dagster_yaml(folder, True), *_earlier_renderings(folder)}:
        if current != wanted:
            config.write_text(wanted)
        return config
    migrated = current
    for old, new in _LEGACY_MODULES.items():
        migrated = migrated.replace(old, new)
    if not any(line.startswith(_STORAGE_KEYS) for line in migrated.splitlines()):
        migrated = migrated.rstrip("\n") + "\n" + POSTGRES_STORAGE_YAML
    if migrated != current:
        config.write_text(migrated)
    return config
