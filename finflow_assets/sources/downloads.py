"""Fetching a file-drop source's file from a URL into its landing folder (the ECB publishes its rates as a zip).

Only for sources with ``SourceSpec.download_url_env``, and only when that variable is set: the download is then one
more dropped file, landed (once per content, by hash) by the same code as a file put there by hand. A failed
download is logged and skipped, so files dropped by hand still land.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .connectors.http import safe_url
from .registry import SourceSpec

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024  # the full ECB history zip is ~0.6 MB; anything this large is not a rates file


def download_to_landing(spec: SourceSpec, folder: Path, *, timeout: float = 30.0) -> Path | None:
    """GET the URL in ``spec.download_url_env`` into ``folder`` as ``<UTC stamp>-<file name>``; None if unset or
    the download failed (logged with the URL, secrets masked)."""
    url = os.environ.get(spec.download_url_env or "", "").strip()
    if not url:
        return None
    shown = safe_url(url)
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        log.warning("%s: download from %s failed: %s", spec.name, shown, type(exc).__name__)
        return None
    if response.status_code != 200 or not response.content or len(response.content) > MAX_BYTES:
        log.warning(
            "%s: download from %s: HTTP %s, %d bytes; nothing saved",
            spec.name,
            shown,
            response.status_code,
            len(response.content),
        )
        return None
    name = Path(urlsplit(url).path).name or "download"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{name}"
    partial = target.with_name(f".{target.name}.part")  # never seen half-written by a landing run
    partial.write_bytes(response.content)
    partial.replace(target)
    log.info("%s: downloaded %d bytes from %s to %s", spec.name, len(response.content), shown, target.name)
    return target
