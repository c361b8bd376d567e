"""Where the review workspace is, for the links alerts, report e-mails and the Dagster UI's asset metadata carry.

``FINFLOW_REVIEW_URL`` is the workspace's address as recipients reach it (e.g. behind a company proxy); unset, it
is ``finflow review serve``'s (and ``finflow ui``'s) own default, http://127.0.0.1:3001. The paths are the
workspace's routes (``review_app/app.py``): the queue (filters ``type`` and ``item``), a transaction's page and
the dashboard.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

REVIEW_HOST = "127.0.0.1"
REVIEW_PORT = 3001  # beside the Dagster UI's 3000 (the simulated source APIs take 8765)


def review_url() -> str:
    """The workspace's base address, without a trailing slash."""
    configured = os.environ.get("FINFLOW_REVIEW_URL", "").strip().rstrip("/")
    return configured or f"http://{REVIEW_HOST}:{REVIEW_PORT}"


def queue_link(item_type: str | None = None, item_id: str | None = None) -> str:
    """The review queue, filtered to one type of item and/or one item when given."""
    query = {key: value for key, value in (("type", item_type), ("item", item_id)) if value}
    return f"{review_url()}/" + (f"?{urlencode(query)}" if query else "")


def transaction_link(transaction_id: str) -> str:
    """A transaction's page: raw record, normalized row, duplicates, reconciliation, scores, decisions."""
    return f"{review_url()}/transactions/{quote(str(transaction_id), safe='')}"


def dashboard_link() -> str:
    return f"{review_url()}/dashboard"
