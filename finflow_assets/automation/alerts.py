"""Alerts and the daily report send-off: what goes out at once, and to whom.

- ``run_failure_alert``: any failed run in this code location alerts at once (job, run id, failed steps, the error's
  first lines).
- ``source_freshness_alert``: a source whose ``delivery_is_fresh`` check fails (a missed delivery) alerts once per
  failure, and once more when it recovers; the cursor remembers which state was last announced.
- ``send_anomaly_alert``: transactions scored above the high alert threshold (``FINFLOW_ANOMALY_ALERT_THRESHOLD``,
  default 0.99; the review queue's own threshold is lower) alert at once; for the anomaly assets to call.
- ``send_daily_report``: the daily report to stakeholders, with its files attached; for the report assets to call.

Each links to the review workspace (``notify/links.py``, ``FINFLOW_REVIEW_URL``): an anomaly to its queue item and
transaction page, the daily report to the dashboard and the queue, a missed delivery to the dashboard's freshness.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from ..notify import DeliveryReport, Notification, Notifier, mask_account
from ..notify.links import dashboard_link, queue_link, transaction_link
from ..notify.resource import NotifierResource
from ..sources.registry import SOURCES, SourceSpec
from .freshness import CHECK_NAME

ERROR_LINES = 8  # how much of an error message an alert quotes
DEFAULT_ANOMALY_ALERT_THRESHOLD = 0.99


def _ui_link(path: str) -> str | None:
    """A link into the Dagster UI when ``FINFLOW_DAGSTER_UI_URL`` says where recipients can reach it."""
    base = os.environ.get("FINFLOW_DAGSTER_UI_URL", "").strip().rstrip("/")
    return f"{base}/{path.lstrip('/')}" if base else None


def _first_lines(text: str, limit: int = ERROR_LINES) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"… ({len(lines) - limit} more lines)")
    return "\n".join(shown)


def error_summary(error: Any) -> str:
    """The root cause of a Dagster ``SerializableErrorInfo`` (the user's exception, not Dagster's wrapper)."""
    if error is None:
        return ""
    root = error
    while getattr(root, "cause", None) is not None:
        root = root.cause
    text = (root.message or "").strip() or root.cls_name or "unknown error"
    if root is not error and error.message:  # Dagster's wrapper says where: 'Error occurred while executing op ...'
        text = f"{text}\n(in: {error.message.strip().splitlines()[0]})"
    return _first_lines(text)


# --- run failures ---------------------------------------------------------------------------------------------


def run_failure_notification(
    run: dg.DagsterRun, failure_event: dg.DagsterEvent, step_failures: Sequence[dg.DagsterEvent]
) -> Notification:
    """The alert for one failed run: job, run id, failed steps, the error's first lines, and how it was started."""
    steps = [event.step_key for event in step_failures if event.step_key]
    lines = [f"Job: {run.job_name}", f"Run id: {run.run_id}"]
    started_by = run.tags.get("dagster/schedule_name") or run.tags.get("dagster/sensor_name")
    if started_by:
        lines.append(f"Started by: {started_by}")
    lines.append(f"Failed steps: {', '.join(steps) if steps else '(none: the run failed outside a step)'}")
    if failure_event.message:
        lines.append(f"Dagster: {failure_event.message.strip()}")
    for event in step_failures:
        error = getattr(event.event_specific_data, "error", None)
        lines += ["", f"Step {event.step_key}:", error_summary(error) or (event.message or "").strip()]
    if not step_failures:
        error = getattr(failure_event.event_specific_data, "error", None)
        if error is not None:
            lines += ["", "Error:", error_summary(error)]
    if link := _ui_link(f"runs/{run.run_id}"):
        lines += ["", f"Open the run: {link}"]
    lines += ["", f"Review workspace (what waits for a person): {queue_link()}"]
    return Notification(
        kind="alert",
        subject=f"Run failed: {run.job_name} ({run.run_id[:8]})",
        text="\n".join(lines),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Alerts at once (e-mail, Slack or the outbox) when any run in this code location fails.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> None:
    notification = run_failure_notification(
        context.dagster_run, context.failure_event, context.get_step_failure_events()
    )
    report = notifier.send(notification)
    context.log.info(report.summary())
    # nothing took it, not even the outbox: raise, so the sensor shows the error and the run is not marked as handled
    report.raise_if_undelivered()


# --- missed deliveries (freshness check failures) ---------------------------------------------------------------

_FAILING, _OK = "failing", "ok"


def _check_key(spec: SourceSpec) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(spec.asset_name), CHECK_NAME)


def _check_metadata(record: Any) -> dict[str, Any]:
    event = getattr(record, "event", None)
    evaluation = event.dagster_event.event_specific_data if event and event.dagster_event else None
    metadata = getattr(evaluation, "metadata", None) or {}
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _describe_failure(spec: SourceSpec, record: Any) -> str:
    meta = _check_metadata(record)
    expected = spec.expected_every.total_seconds() / 3600
    last = meta.get("last_delivery", "unknown")
    age = meta.get("age_hours")
    detail = (
        "no delivery with rows has ever landed"
        if last == "never"
        else f"last delivery {last}" + (f" ({age} h ago)" if age is not None else "")
    )
    line = f"- {spec.name} ({spec.system}, {spec.kind.replace('_', ' ')}): {detail}; expected every {expected:g} h"
    if spec.kind == "file_drop":
        line += f"; files go to landing/{spec.name}/"
    return line


def freshness_transitions(
    records: Mapping[str, Any], cursor: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    """Compare the latest completed check evaluations with what was last announced.

    ``records`` maps a source name to its latest completed ``delivery_is_fresh`` record (or None). Returns the
    sources newly failing, the sources newly recovered, and the next cursor (per source: the announced state and
    the record id it was based on). A source never evaluated before that passes is not news; one that fails is.
    """
    failing, recovered = [], []
    state = {name: dict(value) for name, value in cursor.items()}
    for name, record in records.items():
        if record is None:
            continue
        previous = state.get(name, {})
        if previous.get("id") == record.id:
            continue
        # a failed evaluation (passed=False, any severity); Dagster's status enum is not public API, its value is
        now = _FAILING if getattr(record.status, "value", record.status) == "FAILED" else _OK
        if now == _FAILING and previous.get("state") != _FAILING:
            failing.append(name)
        elif now == _OK and previous.get("state") == _FAILING:
            recovered.append(name)
        state[name] = {"state": now, "id": record.id}
    return failing, recovered, state


def latest_freshness_records(instance: dg.DagsterInstance, specs: Iterable[SourceSpec] = SOURCES) -> dict[str, Any]:
    """The latest completed (passed or failed) ``delivery_is_fresh`` evaluation per source, or None."""
    specs = list(specs)
    summaries = instance.event_log_storage.get_asset_check_summary_records([_check_key(s) for s in specs])
    found = {}
    for spec in specs:
        summary = summaries.get(_check_key(spec))
        found[spec.name] = summary.last_completed_check_execution_record if summary else None
    return found


def freshness_notifications(
    failing: Sequence[str], recovered: Sequence[str], records: Mapping[str, Any]
) -> list[tuple[list[str], Notification]]:
    specs = {spec.name: spec for spec in SOURCES}
    out = []
    if failing:
        names = ", ".join(failing)
        lines = ["A source missed its expected delivery (its delivery_is_fresh check failed):", ""]
        lines += [_describe_failure(specs[name], records[name]) for name in failing]
        lines += ["", "Reports built now lack these sources' latest data. You'll get one more message on recovery."]
        if link := _ui_link("asset-groups"):
            lines.append(f"Dagster: {link}")
        lines.append(f"Source freshness on the dashboard: {dashboard_link()}")
        out.append(
            (list(failing), Notification(kind="alert", subject=f"Missed delivery: {names}", text="\n".join(lines)))
        )
    if recovered:
        names = ", ".join(recovered)
        lines = ["Deliveries are on time again (delivery_is_fresh passes) for:", ""]
        lines += [f"- {name} ({specs[name].system})" for name in recovered]
        lines += ["", f"Source freshness on the dashboard: {dashboard_link()}"]
        out.append((list(recovered), Notification(kind="alert", subject=f"Recovered: {names}", text="\n".join(lines))))
    return out


@dg.sensor(
    name="source_freshness_alert",
    description="Alerts once when a source's delivery_is_fresh check fails (a missed delivery), once on recovery.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def source_freshness_alert(context: dg.SensorEvaluationContext, notifier: NotifierResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    records = latest_freshness_records(context.instance)
    failing, recovered, state = freshness_transitions(records, cursor)
    sent = []
    for sources, notification in freshness_notifications(failing, recovered, records):
        report = notifier.send(notification)
        context.log.info(report.summary())
        if report.delivered:
            sent.append(notification.subject)
        else:  # keep the old state for these sources so the next tick tries again
            for name in sources:
                if name in cursor:
                    state[name] = dict(cursor[name])
                else:
                    state.pop(name, None)
    next_cursor = json.dumps(state, sort_keys=True)
    if not sent:
        return dg.SensorResult(skip_reason="no change in source freshness", cursor=next_cursor)
    return dg.SensorResult(skip_reason=f"sent: {'; '.join(sent)}", cursor=next_cursor)


alert_sensors = [run_failure_alert, source_freshness_alert]


# --- anomalies above the alert threshold ------------------------------------------------------------------------


def anomaly_alert_threshold() -> float:
    """``FINFLOW_ANOMALY_ALERT_THRESHOLD`` if set, else 0.99 (scores are in [0, 1])."""
    value = os.environ.get("FINFLOW_ANOMALY_ALERT_THRESHOLD", "").strip()
    threshold = float(value) if value else DEFAULT_ANOMALY_ALERT_THRESHOLD
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"FINFLOW_ANOMALY_ALERT_THRESHOLD must be in (0, 1], not {threshold}")
    return threshold


def send_anomaly_alert(
    notifier: NotifierResource | Notifier,
    anomalies: Iterable[Mapping[str, Any]],
    threshold: float | None = None,
    limit: int = 25,
) -> DeliveryReport | None:
    """Alert at once about transactions scored at or above ``threshold`` (default: ``anomaly_alert_threshold()``).

    Each row is a mapping with ``anomaly_score`` and, when known, ``transaction_id``, ``source``, ``account_id``,
    ``booked_date``, ``amount``, ``currency``, ``description``, ``anomaly_reasons``. Accounts are shown by their
    last four characters. Returns None (nothing sent) when no row reaches the threshold.
    """
    threshold = anomaly_alert_threshold() if threshold is None else threshold
    rows = sorted(
        (r for r in anomalies if r.get("anomaly_score") is not None and float(r["anomaly_score"]) >= threshold),
        key=lambda r: -float(r["anomaly_score"]),
    )
    if not rows:
        return None
    lines = [f"{len(rows)} transaction(s) scored at or above the alert threshold {threshold:g}:", ""]
    for row in rows[:limit]:
        account = mask_account(row["account_id"]) if row.get("account_id") else "?"
        lines.append(
            f"- {float(row['anomaly_score']):.3f}  {row.get('booked_date', '?')}  {row.get('source', '?')}  "
            f"account {account}  {row.get('amount', '?')} {row.get('currency', '')}  "
            f"{str(row.get('description') or '')[:80]}  [{row.get('transaction_id', '?')}]"
        )
        if row.get("anomaly_reasons"):
            lines.append(f"    reasons: {row['anomaly_reasons']}")
        if row.get("transaction_id"):
            lines.append(f"    review: {queue_link('anomaly', str(row['transaction_id']))}")
            lines.append(f"    transaction: {transaction_link(str(row['transaction_id']))}")
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more (see the review queue)")
    lines += ["", f"Every flagged anomaly waiting for review: {queue_link('anomaly')}"]
    notification = Notification(
        kind="alert", subject=f"{len(rows)} high-score anomal{'y' if len(rows) == 1 else 'ies'}", text="\n".join(lines)
    )
    return notifier.send(notification)


# --- the daily report ---------------------------------------------------------------------------------------------


def send_daily_report(
    notifier: NotifierResource | Notifier,
    report_files: Sequence[Path | str],
    *,
    report_date: str | None = None,
    summary: str = "",
    highlights: Sequence[str] = (),
) -> DeliveryReport:
    """Send the daily report to ``FINFLOW_REPORT_RECIPIENTS`` with ``report_files`` (CSV, HTML …) attached.

    ``summary`` is the short text everyone reads first (also the Slack message); ``highlights`` are bullet lines.
    Returns what each channel did; a failing channel is reported there, not raised.
    """
    files = [Path(p) for p in report_files]
    day = report_date or datetime.now(UTC).date().isoformat()
    links = (("Dashboard", dashboard_link()), ("Review queue", queue_link()))
    lines = [f"FinFlow daily report for {day}.", ""]
    if summary:
        lines += [summary.strip(), ""]
    lines += [f"- {h}" for h in highlights]
    if files:
        lines += ([""] if highlights else []) + ["Attached:"] + [f"- {p.name}" for p in files]
    lines += [""] + [f"{label}: {url}" for label, url in links]
    text = "\n".join(lines).strip()
    items = "".join(f"<li>{html.escape(h)}</li>" for h in highlights)
    attached = "".join(f"<li>{html.escape(p.name)}</li>" for p in files)
    anchors = " · ".join(f'<a href="{html.escape(url)}">{html.escape(label)}</a>' for label, url in links)
    body = (
        f"<h1>FinFlow daily report, {html.escape(day)}</h1>"
        + (f"<p>{html.escape(summary.strip())}</p>" if summary else "")
        + (f"<ul>{items}</ul>" if items else "")
        + (f"<p>Attached:</p><ul>{attached}</ul>" if attached else "")
        + f"<p>{anchors}</p>"
    )
    page = f'<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>{body}</body></html>'
    notification = Notification(kind="report", subject=f"Daily report {day}", text=text, html=page, attachments=files)
    return notifier.send(notification)
