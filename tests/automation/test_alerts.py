"""Alerts: a failed run alerts at once (real e-mail to a local SMTP server); a missed delivery (the real
``delivery_is_fresh`` check failing on the test database) alerts once, not on every tick, and once more on recovery."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from finflow_assets.automation.alerts import (
    alert_sensors,
    freshness_notifications,
    latest_freshness_records,
    run_failure_alert,
    send_anomaly_alert,
    source_freshness_alert,
)
from finflow_assets.automation.freshness import freshness_checks
from finflow_assets.notify import Notifier
from finflow_assets.notify.resource import NotifierResource
from finflow_assets.resources import WarehouseResource
from tests.conftest import fresh_database

from .test_notifications import NOTIFY_VARS, configure_smtp, local_smtp_server

IBAN = "DE89370400440532013000"


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch):
    for name in NOTIFY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def instance():
    """One Dagster test instance (SQLite storage, ~2.5 s to create) for the module."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_alert_sensors_load_with_the_notifier_resource():
    defs = dg.Definitions(sensors=alert_sensors, resources={"notifier": NotifierResource()})
    dg.Definitions.validate_loadable(defs)
    for sensor in alert_sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


# --- a failed run -----------------------------------------------------------------------------------------------


@dg.op
def land_bank_file() -> None:
    raise ValueError(f"stmt_0502.csv: no header row\nthe file for account {IBAN} looks truncated\nthird line")


@dg.op
def unaffected() -> None:
    pass


@dg.job
def tiny_failing_job():
    land_bank_file()
    unaffected()


def test_a_failed_run_alerts_at_once_with_job_run_id_steps_and_error(instance, monkeypatch):
    monkeypatch.setenv("FINFLOW_DAGSTER_UI_URL", "https://dagster.example.com/")
    with local_smtp_server() as inbox:
        configure_smtp(monkeypatch, inbox.port)
        result = tiny_failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert.name,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"notifier": NotifierResource()},
        )
        run_failure_alert(context)

    run_id = result.run_id
    [received] = inbox.messages
    assert received.rcpt_tos == ["oncall@example.com"]
    message = received.message
    assert message["Subject"] == f"[FinFlow alert] Run failed: tiny_failing_job ({run_id[:8]})"
    body = message.get_body(("plain",)).get_content()
    assert f"Run id: {run_id}" in body
    assert "Job: tiny_failing_job" in body
    assert "Failed steps: land_bank_file" in body
    assert "ValueError: stmt_0502.csv: no header row" in body  # the user's error, not Dagster's wrapper
    assert "****3000" in body and IBAN not in body  # account numbers masked
    assert f"https://dagster.example.com/runs/{run_id}" in body
    assert "Review workspace (what waits for a person): http://127.0.0.1:3001/" in body


# --- a missed delivery ------------------------------------------------------------------------------------------

BANK_OPERATING_CHECK = next(
    c
    for c in freshness_checks
    if dg.AssetCheckKey(dg.AssetKey("raw_bank_operating"), "delivery_is_fresh") in c.check_keys
)


def _read(path: Path) -> str:
    """An outbox .eml as its subject line and plain-text body."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return f"Subject: {message['Subject']}\n" + message.get_body(("plain",)).get_content()


def _run_bank_operating_freshness_check(instance: dg.DagsterInstance) -> bool:
    """Run the real ``delivery_is_fresh`` check of raw_bank_operating against the current test database."""
    job = dg.define_asset_job("bank_operating_freshness", selection=dg.AssetSelection.checks(BANK_OPERATING_CHECK))
    defs = dg.Definitions(asset_checks=[BANK_OPERATING_CHECK], jobs=[job], resources={"warehouse": WarehouseResource()})
    result = defs.resolve_job_def("bank_operating_freshness").execute_in_process(instance=instance)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation.passed


def _land(url: str, ago: str) -> None:
    """Record a landed bank_operating delivery with rows in the load journal, finished ``ago``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw._loads (load_id, source, origin, content_hash, status, rows_landed, started_at,"
            " finished_at) values (%s, 'bank_operating', 'stmt.csv', %s, 'landed', 12, now() - %s::interval,"
            " now() - %s::interval)",
            (uuid.uuid4(), uuid.uuid4().hex, ago, ago),
        )


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> str:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"notifier": NotifierResource()})
    result = source_freshness_alert(context)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    return result.cursor


def test_a_missed_delivery_alerts_once_and_once_more_on_recovery(instance, finflow_home, monkeypatch, tmp_path):
    with fresh_database("alerts_freshness") as url:
        monkeypatch.setenv("FINFLOW_HOME", str(tmp_path))  # an outbox of this test's own (nothing configured)
        outbox = tmp_path / "outbox"
        assert json.loads(_tick(instance, None)) == {}  # never checked: nothing to say

        assert _run_bank_operating_freshness_check(instance) is False  # no delivery ever landed
        cursor = _tick(instance, None)
        [first] = outbox.glob("*.eml")
        text = _read(first)
        assert "Subject: [FinFlow alert] Missed delivery: bank_operating" in text
        assert "bank_operating (Main operating account, file drop): no delivery with rows has ever landed" in text
        assert "Source freshness on the dashboard: http://127.0.0.1:3001/dashboard" in text
        assert json.loads(cursor)["bank_operating"]["state"] == "failing"

        assert _tick(instance, cursor) == cursor  # the next tick: no duplicate
        _land(url, "3 days")  # a delivery, but a stale one: still failing on the next check
        assert _run_bank_operating_freshness_check(instance) is False
        cursor = _tick(instance, cursor)
        assert len(list(outbox.glob("*.eml"))) == 1  # still one alert for one failure
        [(_, stale)] = freshness_notifications(["bank_operating"], [], latest_freshness_records(instance))
        assert " h ago); expected every 24 h; files go to landing/bank_operating/" in stale.text
        assert "(72." in stale.text or "(71.9" in stale.text

        _land(url, "0 hours")
        assert _run_bank_operating_freshness_check(instance) is True
        cursor = _tick(instance, cursor)
        recovered = [p for p in outbox.glob("*.eml") if p != first]
        assert len(recovered) == 1 and "Subject: [FinFlow alert] Recovered: bank_operating" in _read(recovered[0])
        assert json.loads(cursor)["bank_operating"]["state"] == "ok"
        _tick(instance, cursor)
        assert len(list(outbox.glob("*.eml"))) == 2


# --- anomalies above the alert threshold ---------------------------------------------------------------------------


def test_only_anomalies_above_the_high_threshold_alert(monkeypatch, tmp_path):
    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("FINFLOW_REVIEW_URL", "https://review.example.com/finflow/")
    rows = [
        {
            "transaction_id": "t1",
            "anomaly_score": 0.999,
            "account_id": IBAN,
            "amount": -48000,
            "currency": "EUR",
            "source": "bank_eu",
            "booked_date": "2024-05-02",
            "description": "WIRE NEW VENDOR",
            "anomaly_reasons": "new payee",
        },
        {"transaction_id": "t2", "anomaly_score": 0.96, "account_id": "12345678", "amount": -20, "currency": "USD"},
    ]
    assert send_anomaly_alert(Notifier.from_env(), rows[1:], threshold=0.99) is None  # review queue only
    report = send_anomaly_alert(Notifier.from_env(), rows, threshold=0.99)
    assert report is not None and report.channels == ("outbox",)
    [eml] = (tmp_path / "outbox").glob("*.eml")
    text = _read(eml)
    assert "Subject: [FinFlow alert] 1 high-score anomaly" in text
    assert "account ****3000" in text and IBAN not in text and "t2" not in text
    # each transaction links to its item in the review queue and to its page; the alert to the anomaly queue
    assert "review: https://review.example.com/finflow/?type=anomaly&item=t1" in text
    assert "transaction: https://review.example.com/finflow/transactions/t1" in text
    assert "Every flagged anomaly waiting for review: https://review.example.com/finflow/?type=anomaly" in text
