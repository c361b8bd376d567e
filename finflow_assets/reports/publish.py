"""Publishing each day's report files to a folder URL as well: ``FINFLOW_REPORTS_URL`` (``s3://``, ``gs://``,
``abfs://``, ``file://`` ... anything fsspec opens).

The files are always written to the data folder first (the daily e-mail attaches them from there); the URL adds a
copy where people and other systems can read them when the data folder is a container's volume. Unset, nothing is
published. The object store's own package (s3fs, gcsfs, adlfs) and credentials are the deployment's (docs/deploy.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPORTS_URL_ENV = "FINFLOW_REPORTS_URL"


class PublishError(RuntimeError):
    """The reports URL cannot be used (unknown scheme, missing file system package, refused write)."""


def reports_url() -> str | None:
    """``FINFLOW_REPORTS_URL`` (read at call time), or None when unset."""
    return os.environ.get(REPORTS_URL_ENV, "").strip() or None


def _shown(url: str) -> str:
    """The URL for messages, without any user or password in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def publish(files: Sequence[Path], day: str, url: str | None = None) -> list[str]:
    """Copy ``files`` to ``<url>/<day>/<file name>``; returns the URLs written (none when no URL is configured)."""
    url = url or reports_url()
    if not url or not files:
        return []
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as error:
        raise PublishError(f"{REPORTS_URL_ENV}={_shown(url)}: cannot open it ({error})") from error
    folder = f"{root.rstrip('/')}/{day}"
    written = []
    try:
        fs.makedirs(folder, exist_ok=True)
        for path in files:
            target = f"{folder}/{path.name}"
            fs.put_file(str(path), target)
            written.append(fs.unstrip_protocol(target))
    except OSError as error:
        raise PublishError(f"{REPORTS_URL_ENV}={_shown(url)}: writing {path.name} failed ({error})") from error
    return written
