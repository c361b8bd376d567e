"""Notifications: the daily report to stakeholders and urgent alerts, by e-mail, Slack, or the outbox folder.

The Dagster resource is ``finflow_assets.notify.resource.NotifierResource`` (kept apart so this package's plain
Python needs no Dagster import).
"""

from .channels import ChannelError, build_email, slack_payload
from .message import Notification, mask_account, mask_accounts
from .notifier import ChannelResult, DeliveryReport, NotificationError, Notifier, send
from .settings import NotifyConfigError, NotifySettings, SlackSettings, SmtpSettings

__all__ = [
    "ChannelError",
    "ChannelResult",
    "DeliveryReport",
    "Notification",
    "NotificationError",
    "Notifier",
    "NotifyConfigError",
    "NotifySettings",
    "SlackSettings",
    "SmtpSettings",
    "build_email",
    "mask_account",
    "mask_accounts",
    "send",
    "slack_payload",
]
