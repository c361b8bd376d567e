"""The notifier: sends one ``Notification`` through every configured channel and reports what happened.

- E-mail (``FINFLOW_SMTP_HOST`` set) and Slack (``FINFLOW_SLACK_WEBHOOK_URL`` set) are tried side by side; a failing
  channel is logged and reported back, and never stops the other one.
- The outbox (``<FINFLOW_HOME>/outbox/``: an ``.eml`` and the Slack ``.json`` per message) is used when no channel
  is configured (the default: nothing leaves the machine), when every configured channel failed (so nothing is
  lost), and always with ``FINFLOW_NOTIFY_OUTBOX=always``.
- Alerts go out with account numbers masked to their last four characters.
- Secrets (the SMTP password, the webhook URL) are scrubbed from every log line and error this module writes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .channels import build_email, post_to_slack, send_email, slack_payload, write_outbox
from .message import Notification
from .settings import NotifySettings

log = logging.getLogger("finflow.notify")


class NotificationError(RuntimeError):
    """No channel delivered the notification (not even the outbox)."""


@dataclass(frozen=True)
class ChannelResult:
    channel: str  # "smtp", "slack" or "outbox"
    ok: bool
    detail: str  # what was done, or why it failed (no secrets)

    def __str__(self) -> str:
        return f"{self.channel}: {'ok' if self.ok else 'FAILED'}: {self.detail}"


@dataclass(frozen=True)
class DeliveryReport:
    subject: str
    kind: str
    results: tuple[ChannelResult, ...]

    @property
    def delivered(self) -> bool:
        """Whether at least one channel (the outbox included) took the message."""
        return any(r.ok for r in self.results)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(r.channel for r in self.results if r.ok)

    @property
    def failures(self) -> tuple[ChannelResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def summary(self) -> str:
        return f"{self.kind} {self.subject!r}: " + "; ".join(str(r) for r in self.results)

    def raise_if_undelivered(self) -> DeliveryReport:
        if not self.delivered:
            raise NotificationError(f"notification not delivered by any channel: {self.summary()}")
        return self


class Notifier:
    """Sends notifications as configured by ``settings`` (``Notifier.from_env()`` reads the environment)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        return cls(NotifySettings.from_env(environ))

    def __repr__(self) -> str:
        return f"Notifier({self.describe()})"

    def describe(self) -> str:
        s = self.settings
        parts = []
        if s.smtp:
            parts.append(f"e-mail {s.smtp.describe()}")
        if s.slack:
            parts.append(f"Slack {s.slack.describe()}")
        if not s.configured or s.outbox_always:
            parts.append(f"outbox {s.outbox}")
        return ", ".join(parts)

    def scrub(self, text: str) -> str:
        for secret in self.settings.secrets():
            text = text.replace(secret, "***")
        return text

    def _attempt(self, channel: str, action: Callable[[], str]) -> ChannelResult:
        try:
            detail = self.scrub(action())
        except Exception as exc:  # any failure of one channel is reported, never raised
            detail = self.scrub(f"{type(exc).__name__}: {exc}")
            log.warning("%s channel failed: %s", channel, detail)
            return ChannelResult(channel, False, detail)
        log.info("%s channel: %s", channel, detail)
        return ChannelResult(channel, True, detail)

    def send(self, notification: Notification) -> DeliveryReport:
        """Send through every configured channel; see the module docstring for when the outbox is used."""
        settings = self.settings
        notification = notification.masked()
        recipients = settings.recipients(notification.kind)
        sender = settings.smtp.sender if settings.smtp else "finflow@localhost"
        # built on first use, inside a channel: an unreadable attachment fails e-mail and the outbox, not Slack
        message = functools.cache(lambda: build_email(notification, sender, recipients))

        tasks: list[tuple[str, Callable[[], str]]] = []
        if settings.smtp:
            smtp = settings.smtp
            tasks.append(("smtp", lambda: send_email(smtp, message(), recipients)))
        if settings.slack:
            slack = settings.slack
            tasks.append(("slack", lambda: post_to_slack(slack, slack_payload(notification))))
        if len(tasks) > 1:  # side by side: a slow or dead mail server does not hold back the Slack alert
            with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="finflow-notify") as pool:
                results = list(pool.map(lambda task: self._attempt(*task), tasks))
        else:
            results = [self._attempt(*task) for task in tasks]

        if not settings.configured or settings.outbox_always or not any(r.ok for r in results):
            if settings.configured and not any(r.ok for r in results):
                log.warning("every configured channel failed; keeping %r in the outbox", notification.subject)
            results.append(self._attempt("outbox", lambda: write_outbox(settings.outbox, notification, message())))

        report = DeliveryReport(notification.subject, notification.kind, tuple(results))
        (log.info if report.delivered and not report.failures else log.warning)("%s", report.summary())
        return report


def send(notification: Notification) -> DeliveryReport:
    """Send with the settings in the environment right now."""
    return Notifier.from_env().send(notification)
