"""What FinFlow sends: a ``Notification`` (a report or an alert), and masking of account numbers in alert text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

Kind = Literal["report", "alert"]
KINDS: tuple[str, ...] = ("report", "alert")


@dataclass(frozen=True)
class Notification:
    """One message to stakeholders.

    ``kind`` picks the audience (``report``: ``FINFLOW_REPORT_RECIPIENTS``; ``alert``: ``FINFLOW_ALERT_RECIPIENTS``)
    and the urgency. ``text`` is always sent; ``html`` is the e-mail's rich alternative when given; ``attachments``
    are files attached to the e-mail (Slack gets their names only: an incoming webhook cannot carry files).
    """

    kind: Kind
    subject: str
    text: str
    html: str | None = None
    attachments: Sequence[Path | str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"notification kind must be one of {KINDS}, not {self.kind!r}")
        if not self.subject.strip():
            raise ValueError("a notification needs a subject")
        # one line: a line break in a subject would be a header injection in an e-mail
        object.__setattr__(self, "subject", " ".join(self.subject.split()))
        object.__setattr__(self, "attachments", tuple(Path(p) for p in self.attachments))

    def masked(self) -> Notification:
        """Alerts leave the building with account numbers masked (reports are composed with care by their asset)."""
        if self.kind != "alert":
            return self
        return replace(
            self,
            subject=mask_accounts(self.subject),
            text=mask_accounts(self.text),
            html=mask_accounts(self.html) if self.html is not None else None,
        )


def mask_account(value: object) -> str:
    """An account number or IBAN shown by its last four characters only: ``DE89 3704 …3000`` → ``****3000``."""
    compact = re.sub(r"[\s-]", "", str(value))
    if len(compact) <= 4:
        return "****"  # too short to show any of it safely
    return "****" + compact[-4:]


# Left alone (matched first so they are never mistaken for account numbers): UUIDs such as Dagster run ids, ISO dates
# and times.
_KEEP = (
    r"(?P<keep>\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?)"
)
# IBAN: country code, check digits, 11-30 alphanumerics, compact or printed in groups of four (the bank
# code may be letters; later groups carry a digit, so a word after the IBAN is left alone).
_IBAN = (
    r"(?P<iban>\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|"
    r" [A-Z0-9]{4}(?: (?=[A-Z0-9]{0,3}\d)[A-Z0-9]{4}){1,6}(?: (?=[A-Z0-9]{0,3}\d)[A-Z0-9]{1,4}(?!\w))?)\b)"
)
# An account / card number: 8 to 34 digits, possibly grouped by single spaces or dashes; not part of a longer word,
# an identifier or an amount (12345678.90 stays).
_NUMBER = r"(?P<number>(?<![\w.,-])\d(?:[ -]?\d){7,33}(?![\w-]|[.,]\d))"
_ACCOUNT_LIKE = re.compile(f"{_KEEP}|{_IBAN}|{_NUMBER}")


def mask_accounts(text: str) -> str:
    """Every IBAN or account-number-looking run of digits in ``text`` masked to its last four characters."""

    def _sub(match: re.Match[str]) -> str:
        if match.group("keep"):
            return match.group("keep")
        return mask_account(match.group(0))

    return _ACCOUNT_LIKE.sub(_sub, text)
