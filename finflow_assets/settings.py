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
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def _default_home() -> Path:
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / ".finflow"
    return Path.home() / ".finflow"


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


# Dagster's instance settings for the data folder (see docs/operating.md): runs are queued, at most a few at once,
# and one dbt invocation at a time (the "dbt" pool), since two dbt builds must not swap the same tables or share a
# target folder concurrently. Run monitoring fails a run whose worker never started or died (instead of leaving it
# STARTING or STARTED forever). Storage and run launcher are Dagster's own defaults; FINFLOW_WARM_RUNS=1 adds the
# opt-in warm launcher and pooled event log (finflow_assets/optin/).
DAGSTER_YAML = """\
# written by FinFlow; see docs/operating.md (FinFlow rewrites it while it is unedited, never once you edit it)
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
# FINFLOW_WARM_RUNS=1 (opt-in: private Dagster internals behind a version check, finflow_assets/optin/)
WARM_RUNS_YAML = """\
event_log_storage:
  module: finflow_assets.optin.event_log_storage
  class: IndexPooledSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
run_launcher:
  module: finflow_assets.optin.warm_runs
  class: WarmRunLauncher
"""
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


def dagster_yaml(folder: Path, warm_runs: bool | None = None) -> str:
    """The instance settings FinFlow writes for the Dagster home ``folder``: stock Dagster, plus the opt-in warm
    runs when ``warm_runs`` (default: ``FINFLOW_WARM_RUNS``)."""
    if warm_runs is None:
        warm_runs = opted_in(WARM_RUNS_ENV)
    event_log_dir = json.dumps(str(folder.resolve() / "history" / "runs"))
    return DAGSTER_YAML + (WARM_RUNS_YAML.format(event_log_dir=event_log_dir) if warm_runs else "")


def write_dagster_yaml(folder: Path) -> Path:
    """``folder/dagster.yaml`` with FinFlow's instance settings.

    A file FinFlow wrote and nobody edited (any of its renderings, old ones included) is rewritten to the current
    choice, so ``FINFLOW_WARM_RUNS`` takes effect on the next start; an edited file is the user's and stays, except
    that the old module paths of the opt-in classes (``finflow_assets.event_log_storage``,
    ``finflow_assets.automation.warm_runs``) are moved to ``finflow_assets.optin``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    wanted = dagster_yaml(folder)
    if not config.exists():
        config.write_text(wanted)
        return config
    current = config.read_text()
    event_log_dir = json.dumps(str(folder.resolve() / "history" / "runs"))
    ours = {dagster_yaml(folder, False), dagster_yaml(folder, True), _LEGACY_YAML.format(event_log_dir=event_log_dir)}
    if current in ours:
        if current != wanted:
            config.write_text(wanted)
        return config
    migrated = current
    for old, new in _LEGACY_MODULES.items():
        migrated = migrated.replace(old, new)
    if migrated != current:
        config.write_text(migrated)
    return config


def ensure_dagster_home() -> Path:
    """The data folder's Dagster instance (``<data folder>/dagster``) with its settings; sets ``DAGSTER_HOME``."""
    folder = paths().ensure().dagster_home
    write_dagster_yaml(folder)
    os.environ["DAGSTER_HOME"] = str(folder)
    return folder
