"""``finflow doctor``: is this machine ready to run FinFlow, and if not, what to do about it, in plain words.

Each check looks without changing anything (it never starts the database, creates a store or sends a message) and
ends as ``ok``, ``note`` (optional, or not created yet), or ``FAIL`` with the fix. The command fails when a check does.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .settings import mlflow_tracking_uri, paths

MIN_FREE_BYTES = 1 << 30  # below this a day's run can fail half-way (database, Dagster logs, MLflow artifacts)
LOW_FREE_BYTES = 5 << 30
TIMEOUT_SECONDS = 5.0
SUPPORTED_PYTHON = ((3, 11), (3, 14))  # as pyproject.toml's requires-python: >=3.11,<3.14


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "note" or "FAIL"
    detail: str
    fix: str = ""


def find_chromium() -> str | None:
    """The Chromium the UI test drives: ``FINFLOW_CHROMIUM`` if set, else Debian's ``/usr/bin/chromium`` or a
    ``chromium`` on PATH."""
    custom = os.environ.get("FINFLOW_CHROMIUM")
    if custom:
        return custom if os.access(custom, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    low, high = SUPPORTED_PYTHON
    if low <= sys.version_info[:2] < high:
        return Check("Python", "ok", f"{version} ({sys.executable})")
    return Check(
        "Python",
        "FAIL",
        f"{version}: FinFlow needs Python 3.11 to 3.13",
        "install one and rebuild the environment: rm -rf .venv && make install PYTHON=python3.12",
    )


def check_disk() -> Check:
    folder = paths().home
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    detail = f"{free / (1 << 30):.1f} GiB free for the data folder {folder}"
    if free < MIN_FREE_BYTES:
        return Check(
            "disk", "FAIL", detail, "free some space, or point FINFLOW_HOME at a disk with more than 1 GiB free"
        )
    if free < LOW_FREE_BYTES:
        return Check("disk", "note", detail + " (a month of daily runs needs a few GiB)")
    return Check("disk", "ok", detail)


def check_database() -> Check:
    from .warehouse import describe_url, embedded

    external = os.environ.get("FINFLOW_DATABASE_URL")
    if external:
        url, where = external, f"PostgreSQL at {describe_url(external)}"
        cannot = "check FINFLOW_DATABASE_URL (host, port, user, password, database) and that the server is running"
    else:
        pgdata = paths().pgdata
        if not (pgdata / "PG_VERSION").exists():
            return Check("database", "note", f"no embedded PostgreSQL yet in {pgdata}", "finflow demo creates it")
        if embedded.running_pid(pgdata) is None:
            return Check(
                "database",
                "FAIL",
                f"the embedded PostgreSQL is stopped (its data is in {pgdata})",
                "finflow db start   (finflow demo, ingest and train also start it)",
            )
        url, where = embedded.expected_url(pgdata), "embedded PostgreSQL"
        cannot = f"stop and start it: finflow db stop && finflow db start (its log: {pgdata}/log)"
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=int(TIMEOUT_SECONDS)) as conn:
            version = conn.execute("show server_version").fetchone()[0]
            table = conn.execute("select to_regclass('marts.fct_transactions')").fetchone()[0]
            rows = conn.execute("select count(*) from marts.fct_transactions").fetchone()[0] if table else None
    except psycopg.Error as error:
        return Check("database", "FAIL", f"cannot connect to the {where}: {str(error).strip()}", cannot)
    if rows is None:
        return Check(
            "database", "note", f"{where} {version} is up; no warehouse tables yet", "finflow demo builds them"
        )
    return Check("database", "ok", f"{where} {version}, {rows:,} transactions in marts.fct_transactions")


def check_mlflow() -> Check:
    uri = mlflow_tracking_uri()
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.exists():
            return Check("MLflow store", "note", f"no store yet ({path})", "finflow demo or finflow train creates it")
        try:
            with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT_SECONDS) as conn:
                models = [row[0] for row in conn.execute("select name from registered_models order by name")]
        except sqlite3.Error as error:
            return Check(
                "MLflow store",
                "FAIL",
                f"{path} cannot be read: {error}",
                "move the file aside and retrain (finflow train), or set MLFLOW_TRACKING_URI to a working store",
            )
        if not models:
            return Check("MLflow store", "note", f"{path}: no model registered yet", "finflow train registers one")
        return Check("MLflow store", "ok", f"{path}: {', '.join(models)}")
    if parts.scheme in ("http", "https"):
        import httpx

        try:
            status = httpx.get(uri.rstrip("/") + "/health", timeout=TIMEOUT_SECONDS).status_code
        except httpx.HTTPError as error:
            status, reason = None, str(error) or type(error).__name__
        if status == 200:
            return Check("MLflow store", "ok", f"tracking server {parts.netloc} is up")
        return Check(
            "MLflow store",
            "FAIL",
            f"tracking server {parts.netloc} does not answer /health ({status or reason})",
            "start the server, or unset MLFLOW_TRACKING_URI to use the store in the data folder",
        )
    return Check("MLflow store", "note", f"{parts.scheme} store (not checked): {uri}")


def check_dagster() -> Check:
    folder = paths().dagster_home
    if not (folder / "dagster.yaml").exists():
        return Check("Dagster instance", "note", f"none yet in {folder}", "any finflow command creates it")
    import dagster as dg

    from .settings import DAGSTER_PG_URL_ENV
    from .warehouse import embedded
    from .warehouse.connection import dagster_database_url

    given = os.environ.get(DAGSTER_PG_URL_ENV)
    if not given and not os.environ.get("FINFLOW_DATABASE_URL") and embedded.running_pid() is None:
        return Check("Dagster instance", "note", f"{folder}: not checked, its database server is stopped")
    try:
        os.environ[DAGSTER_PG_URL_ENV] = dagster_database_url()  # as the finflow commands set it for Dagster
        with dg.DagsterInstance.from_config(str(folder)) as instance:
            runs = instance.get_runs(limit=1)
    except Exception as error:  # noqa: BLE001 - whatever breaks loading it is what the user needs to see
        return Check(
            "Dagster instance",
            "FAIL",
            f"{folder} cannot be loaded: {type(error).__name__}: {error}",
            f"fix or delete {folder / 'dagster.yaml'} (FinFlow writes a fresh one; the run history stays), "
            f"or check {DAGSTER_PG_URL_ENV}",
        )
    finally:
        if given is None:
            os.environ.pop(DAGSTER_PG_URL_ENV, None)
        else:
            os.environ[DAGSTER_PG_URL_ENV] = given
    if not runs:
        return Check("Dagster instance", "ok", f"{folder}, no runs yet")
    last = runs[0]
    detail = f"{folder}, last run {last.run_id[:8]} {last.status.value.lower()}"
    if last.status == dg.DagsterRunStatus.FAILURE:
        return Check("Dagster instance", "note", detail, "see why in the Dagster UI: finflow ui")
    return Check("Dagster instance", "ok", detail)


def check_browser() -> Check:
    chromium = find_chromium()
    if chromium is None:
        return Check(
            "browser (UI test)",
            "note",
            "no Chromium: tests/ui is skipped",
            "make browser (installs Debian's chromium as root), or set FINFLOW_CHROMIUM to a Chromium",
        )
    return Check("browser (UI test)", "ok", chromium)


if TYPE_CHECKING:
    from .sources.registry import SourceSpec


def check_sources() -> Iterator[Check]:
    from .sources.registry import SOURCES

    unconfigured = []
    for spec in SOURCES:
        name = f"source {spec.name}"
        if spec.api is None:
            quarantine = paths().landing_for(spec.name) / "quarantine"
            held = sorted(p.name for p in quarantine.glob("*.error")) if quarantine.is_dir() else []
            if held:
                yield Check(
                    name,
                    "note",
                    f"{len(held)} file(s) quarantined, e.g. {held[0].removesuffix('.error')}",
                    f"the reason is in {quarantine}/<file>.error; fix the file and drop it again",
                )
            continue
        api = spec.api
        if not any(os.environ.get(v, "").strip() for v in (api.base_url_env, *api.auth.env.values())):
            unconfigured.append(spec.name)
            continue
        yield _check_api_source(name, spec)
    if unconfigured:
        yield Check(
            "API sources",
            "note",
            f"not configured: {', '.join(unconfigured)} (FINFLOW_<SOURCE>_API_URL and its credentials); "
            "finflow demo serves simulated ones",
        )


def _check_api_source(name: str, spec: SourceSpec) -> Check:
    """One request the way the connector makes it (the vendor's authentication, a token fetched if it needs one)."""
    from .sources.connectors.auth import credentials_from_env
    from .sources.connectors.http import ApiAuthError, ApiClient, ApiConfigError, ApiError, RetryPolicy

    api = spec.api
    assert api is not None
    url = os.environ.get(api.base_url_env, "").strip()
    credentials = api.auth.describe()
    if not url:
        return Check(name, "FAIL", f"{api.base_url_env} is not set", f"set {api.base_url_env} and {credentials}")
    try:
        secrets = credentials_from_env(spec.name, api.auth)
    except ApiConfigError as error:
        return Check(name, "FAIL", str(error), f"set {credentials}")
    policy = RetryPolicy(attempts=1, timeout=TIMEOUT_SECONDS, connect_timeout=TIMEOUT_SECONDS)
    try:
        with ApiClient(spec.name, url, secrets, policy=policy) as client:
            client.get_bytes(api.path)
    except ApiAuthError as error:
        detail = f"{url} refused the credentials (HTTP {error.status})"
        return Check(name, "FAIL", detail, f"set valid credentials in {credentials}")
    except ApiError as error:
        status = getattr(error, "status", None)
        if status is not None and status < 500 and status != 404:  # a bare request may be refused (400), not lost
            return Check(name, "ok", f"{url} accepts the credentials")
        what = "cannot reach" if status is None else f"HTTP {status} from"
        return Check(name, "FAIL", f"{what} {url}: {error.last_error}", f"check {api.base_url_env} and the network")
    return Check(name, "ok", f"{url} accepts the credentials")


def check_notifications() -> Iterator[Check]:
    from .notify.settings import NotifyConfigError, NotifySettings

    try:
        settings = NotifySettings.from_env()
    except NotifyConfigError as error:
        yield Check("notifications", "FAIL", str(error), "correct the variable (see docs/notifications.md)")
        return
    if not settings.configured:
        yield Check(
            "notifications",
            "note",
            f"no e-mail or Slack channel: reports and alerts are written to {settings.outbox}",
            "set FINFLOW_SMTP_HOST or FINFLOW_SLACK_WEBHOOK_URL (docs/notifications.md)",
        )
        return
    if settings.smtp is not None:
        smtp = settings.smtp
        try:
            socket.create_connection((smtp.host, smtp.port), timeout=TIMEOUT_SECONDS).close()
        except OSError as error:
            yield Check(
                "e-mail",
                "FAIL",
                f"cannot reach {smtp.describe()}: {error}",
                "check FINFLOW_SMTP_HOST / FINFLOW_SMTP_PORT and that the server accepts connections from here",
            )
        else:
            recipients = len(settings.report_recipients)
            yield Check(
                "e-mail",
                "ok" if recipients else "note",
                f"{smtp.describe()} reachable, {recipients} report recipient(s)",
                "" if recipients else "set FINFLOW_REPORT_RECIPIENTS",
            )
    if settings.slack is not None:
        yield Check("Slack", "ok", f"webhook {settings.slack.describe()} set (not posted to)")


CHECKS: tuple[Callable[[], Check | Iterator[Check]], ...] = (
    check_python,
    check_disk,
    check_database,
    check_mlflow,
    check_dagster,
    check_browser,
    check_sources,
    check_notifications,
)


def run_checks() -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        outcome = check()
        results.extend([outcome] if isinstance(outcome, Check) else outcome)
    return results


def report(results: list[Check]) -> str:
    lines = [f"finflow doctor: data folder {paths().home}"]
    for check in results:
        lines.append(f"  {check.status:<5} {check.name:<22} {check.detail}")
        if check.fix:
            lines.append(f"  {'':<5} {'':<22} fix: {check.fix}")
    failed = [c.name for c in results if c.status == "FAIL"]
    lines.append(f"{len(failed)} problem(s): {', '.join(failed)}" if failed else "all set: no problems found")
    return "\n".join(lines)
