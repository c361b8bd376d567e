"""The Dagster resource around the notifier; settings are read from the environment at each send."""

from __future__ import annotations

import dagster as dg

from .message import Notification
from .notifier import DeliveryReport, Notifier


class NotifierResource(dg.ConfigurableResource):
    """Reports and alerts by e-mail (``FINFLOW_SMTP_*``), Slack (``FINFLOW_SLACK_WEBHOOK_URL``) or, when neither is
    configured, the outbox folder ``<FINFLOW_HOME>/outbox/``. No setting lives in Dagster config: secrets stay in
    the environment and are never shown in the UI or logs."""

    def notifier(self) -> Notifier:
        return Notifier.from_env()

    def send(self, notification: Notification) -> DeliveryReport:
        return self.notifier().send(notification)

    def describe(self) -> str:
        return self.notifier().describe()
