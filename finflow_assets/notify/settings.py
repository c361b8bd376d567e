"""Notification settings, from the environment only (read at call time; secrets never in code, config or logs).

| variable | meaning |
|---|---|
| ``FINFLOW_SMTP_HOST`` | SMTP server; setting it turns the e-mail channel on |
| ``FINFLOW_SMTP_PORT`` | default 465 with ``FINFLOW_SMTP_TLS=ssl``, else 587 |
| ``FINFLOW_SMTP_TLS`` | ``starttls`` (default), ``ssl`` (implicit TLS) or ``none`` (a local relay only) |
| ``FINFLOW_SMTP_USER`` / ``FINFLOW_SMTP_PASSWORD`` | login (optional; sent unencrypted only to a
  loopback relay with ``FINFLOW_SMTP_TLS=none``) |
| ``FINFLOW_SMTP_FROM`` | sender address (default: the user if it is an address, else ``finflow@localhost``) |
| ``FINFLOW_SMTP_CA_FILE`` | a private CA bundle to verify the server's certificate (optional) |
| ``FINFLOW_REPORT_RECIPIENTS`` | who gets the daily report (comma- or semicolon-separated) |
| ``FINFLOW_ALERT_RECIPIENTS`` | who gets alerts (default: the report recipients) |
| ``FINFLOW_SLACK_WEBHOOK_URL`` | a Slack incoming webhook; setting it turns the Slack channel on |
| ``FINFLOW_NOTIFY_OUTBOX`` | ``auto`` (default: the outbox when no channel is configured) or ``always`` (keep a copy) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import paths

TLS_MODES = ("starttls", "ssl", "none")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class NotifyConfigError(ValueError):
    """A notification setting that cannot work (the message never names a secret)."""


def split_addresses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(a.strip() for a in value.replace(";", ",").split(",") if a.strip()))


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # the password never shows, not even its length
        auth = f", user={self.user!r}, password='***'" if self.password else f", user={self.user!r}"
        return f"SmtpSettings(host={self.host!r}, port={self.port}, tls={self.tls!r}, sender={self.sender!r}{auth})"

    def describe(self) -> str:
        return f"smtp://{self.host}:{self.port} ({self.tls})"


@dataclass(frozen=True)
class SlackSettings:
    webhook_url: str = field(repr=False)
    timeout: float = 10.0
    attempts: int = 3  # tries per message, the first one included
    backoff: float = 1.0  # seconds before the first retry, doubling

    def __repr__(self) -> str:
        return f"SlackSettings(webhook={self.describe()!r}, attempts={self.attempts})"

    def describe(self) -> str:
        """The webhook without its secret path (the path *is* the credential)."""
        parts = urlsplit(self.webhook_url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/***"


@dataclass(frozen=True)
class NotifySettings:
    smtp: SmtpSettings | None
    slack: SlackSettings | None
    report_recipients: tuple[str, ...]
    alert_recipients: tuple[str, ...]
    outbox: Path
    outbox_always: bool = False

    @property
    def configured(self) -> bool:
        """Whether any real channel (e-mail or Slack) is set up."""
        return self.smtp is not None or self.slack is not None

    def recipients(self, kind: str) -> tuple[str, ...]:
        return self.alert_recipients if kind == "alert" else self.report_recipients

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a log line or an error message."""
        found = []
        if self.smtp and self.smtp.password:
            found.append(self.smtp.password)
        if self.slack:
            found.append(self.slack.webhook_url)
            path = urlsplit(self.slack.webhook_url).path.strip("/")
            if path:
                found.append(path)
        return tuple(s for s in found if s)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        smtp = None
        if host := get("FINFLOW_SMTP_HOST"):
            tls = (get("FINFLOW_SMTP_TLS") or "starttls").lower()
            if tls not in TLS_MODES:
                raise NotifyConfigError(f"FINFLOW_SMTP_TLS must be one of {TLS_MODES}, not {tls!r}")
            port_text = get("FINFLOW_SMTP_PORT") or ("465" if tls == "ssl" else "587")
            try:
                port = int(port_text)
            except ValueError:
                raise NotifyConfigError(f"FINFLOW_SMTP_PORT must be a number, not {port_text!r}") from None
            user = get("FINFLOW_SMTP_USER")
            sender = get("FINFLOW_SMTP_FROM") or (user if user and "@" in user else "finflow@localhost")
            smtp = SmtpSettings(
                host=host,
                port=port,
                tls=tls,
                sender=sender,
                user=user,
                password=env.get("FINFLOW_SMTP_PASSWORD") or None,  # not stripped: a password may end in a space
                ca_file=get("FINFLOW_SMTP_CA_FILE"),
            )

        slack = None
        if url := get("FINFLOW_SLACK_WEBHOOK_URL"):
            parts = urlsplit(url)
            # the webhook path is the credential: only https, except to this machine (a local test receiver)
            if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
                raise NotifyConfigError("FINFLOW_SLACK_WEBHOOK_URL must be an https:// URL")
            if not parts.hostname:
                raise NotifyConfigError("FINFLOW_SLACK_WEBHOOK_URL has no host")
            slack = SlackSettings(webhook_url=url)

        reports = split_addresses(get("FINFLOW_REPORT_RECIPIENTS"))
        alerts = split_addresses(get("FINFLOW_ALERT_RECIPIENTS")) or reports
        outbox_mode = (get("FINFLOW_NOTIFY_OUTBOX") or "auto").lower()
        if outbox_mode not in ("auto", "always"):
            raise NotifyConfigError(f"FINFLOW_NOTIFY_OUTBOX must be 'auto' or 'always', not {outbox_mode!r}")
        return cls(
            smtp=smtp,
            slack=slack,
            report_recipients=reports,
            alert_recipients=alerts,
            outbox=paths().home / "outbox",
            outbox_always=outbox_mode == "always",
        )
