"""The three ways a notification leaves FinFlow: SMTP e-mail, a Slack incoming webhook, and the outbox folder.

Each channel's ``send`` either returns a one-line description of what it did or raises; the ``Notifier`` turns
that into a ``ChannelResult`` so one channel's failure never stops the others.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
import secrets
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .message import Notification
from .settings import SlackSettings, SmtpSettings

log = logging.getLogger("finflow.notify")

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
SLACK_TEXT_LIMIT = 3500  # Slack truncates long messages; the full text is in the e-mail / report
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ChannelError(RuntimeError):
    """A channel could not deliver (the message names no secret)."""


class _RedactSecrets(logging.Filter):
    """httpx logs every request's full URL at INFO; a Slack webhook's path is its credential, so it is redacted."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = message
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_REDACT = _RedactSecrets()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_REDACT)


def subject_line(notification: Notification) -> str:
    return f"[FinFlow {notification.kind}] {notification.subject}"


def build_email(notification: Notification, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The MIME message: plain text, an HTML alternative when given, then the attachments."""
    message = EmailMessage()
    message["Subject"] = subject_line(notification)
    message["From"] = sender
    message["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "finflow.local")
    message["X-FinFlow-Kind"] = notification.kind
    if notification.kind == "alert":
        message["X-Priority"] = "1"
        message["Importance"] = "high"
    text = notification.text
    missing = [p for p in notification.attachments if not p.is_file()]
    if missing:
        log.warning("attachments not found, sent without them: %s", [p.name for p in missing])
        text += "\n\n(Not attached, file missing: " + ", ".join(p.name for p in missing) + ")"
    message.set_content(text)
    if notification.html:
        message.add_alternative(notification.html, subtype="html")
    for path in notification.attachments:
        if path in missing:
            continue
        mime, encoding = mimetypes.guess_type(path.name)
        if mime is None or encoding is not None:
            mime = "application/octet-stream"
        maintype, subtype = mime.split("/", 1)
        data = path.read_bytes()
        if maintype == "text":
            message.add_attachment(data.decode("utf-8", errors="replace"), subtype=subtype, filename=path.name)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_email(settings: SmtpSettings, message: EmailMessage, recipients: tuple[str, ...]) -> str:
    """Deliver ``message`` over SMTP (STARTTLS, implicit TLS, or plain to a local relay), logging in if configured."""
    if not recipients:
        raise ChannelError("no recipients (set FINFLOW_REPORT_RECIPIENTS / FINFLOW_ALERT_RECIPIENTS)")
    if settings.tls == "none" and settings.user and settings.host not in _LOOPBACK:
        raise ChannelError(
            f"refusing to send the SMTP password unencrypted to {settings.host}: set FINFLOW_SMTP_TLS=starttls or ssl"
        )
    context = ssl.create_default_context(cafile=settings.ca_file) if settings.tls != "none" else None
    if settings.tls == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with server:
        server.ehlo()
        if settings.tls == "starttls":
            if not server.has_extn("starttls"):
                raise ChannelError(
                    f"{settings.host}:{settings.port} does not offer STARTTLS "
                    "(use FINFLOW_SMTP_TLS=ssl, or none for a local relay)"
                )
            server.starttls(context=context)
            server.ehlo()
        if settings.user:
            server.login(settings.user, settings.password or "")
        refused = server.send_message(message, from_addr=settings.sender, to_addrs=list(recipients))
    accepted = len(recipients) - len(refused)
    if not accepted:
        raise ChannelError(f"every recipient was refused: {sorted(refused)}")
    detail = f"e-mailed {accepted} recipient(s) via {settings.describe()}"
    return detail + (f"; refused: {sorted(refused)}" if refused else "")


def slack_payload(notification: Notification) -> dict[str, Any]:
    """An incoming-webhook message: a bold headline and the text (Slack's mrkdwn, with its three escapes)."""

    def escape(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    icon = ":rotating_light:" if notification.kind == "alert" else ":bar_chart:"
    text = notification.text
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[:SLACK_TEXT_LIMIT] + "\n… (truncated; the full text is in the e-mail)"
    lines = [f"{icon} *{escape(subject_line(notification))}*", escape(text)]
    if notification.attachments:
        lines.append("_Attached to the e-mail:_ " + ", ".join(escape(p.name) for p in notification.attachments))
    return {"text": "\n".join(lines), "unfurl_links": False, "unfurl_media": False}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def post_to_slack(settings: SlackSettings, payload: dict[str, Any]) -> str:
    """POST the payload to the webhook, retrying 408/429/5xx and network errors (honouring Retry-After, capped)."""
    if secret_path := urlsplit(settings.webhook_url).path.strip("/"):
        _REDACT.secrets.add(secret_path)
    last = "no attempt"
    with httpx.Client(timeout=settings.timeout, follow_redirects=False) as client:
        for attempt in range(1, settings.attempts + 1):
            wait = settings.backoff * 2 ** (attempt - 1)
            try:
                response = client.post(settings.webhook_url, json=payload)
            except httpx.TransportError as exc:
                # the exception text may quote the URL: name the error class only
                last = f"{type(exc).__name__} talking to {settings.describe()}"
            else:
                if response.is_success:
                    return f"posted to Slack ({settings.describe()}, attempt {attempt})"
                last = f"Slack answered HTTP {response.status_code}: {response.text[:200].strip()!r}"
                if response.status_code not in _RETRY_STATUSES:
                    break  # 400 invalid_payload, 403 / 404 a revoked webhook: retrying cannot help
                retry_after = _retry_after(response)
                wait = min(wait if retry_after is None else retry_after, 30.0)
            if attempt < settings.attempts:
                log.info(
                    "Slack webhook attempt %d/%d failed (%s), retrying in %.1f s",
                    attempt,
                    settings.attempts,
                    last,
                    wait,
                )
                time.sleep(wait)
    raise ChannelError(last)


_SLUG = re.compile(r"[^a-z0-9]+")


def write_outbox(folder: Path, notification: Notification, message: EmailMessage) -> str:
    """Write the e-mail as ``.eml`` and the Slack payload as ``.json`` into the outbox (atomically: a reader never
    sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    slug = _SLUG.sub("-", notification.subject.lower()).strip("-")[:60] or "message"
    stem = f"{stamp}-{notification.kind}-{slug}-{secrets.token_hex(3)}"
    written = []
    for suffix, data in (
        (".eml", message.as_bytes()),
        (".json", json.dumps(slack_payload(notification), indent=2, ensure_ascii=False).encode()),
    ):
        path = folder / f"{stem}{suffix}"
        partial = folder / f".{stem}{suffix}.partial"
        partial.write_bytes(data)
        os.replace(partial, path)
        written.append(path.name)
    return f"wrote {', '.join(written)} to {folder}"
