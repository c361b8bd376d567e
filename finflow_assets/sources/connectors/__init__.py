"""Connectors for the API sources: an HTTP client with retries, watermarks in Postgres, and :func:`pull_source`."""

from .http import ApiAuthError, ApiClient, ApiConfigError, ApiError, RetryPolicy
from .pull import DEFAULT_BACKFILL, PageOutcome, PullError, PullReport, pull_source
from .watermarks import Watermark, get_watermark, reset_watermark

__all__ = [
    "DEFAULT_BACKFILL",
    "ApiAuthError",
    "ApiClient",
    "ApiConfigError",
    "ApiError",
    "PageOutcome",
    "PullError",
    "PullReport",
    "RetryPolicy",
    "Watermark",
    "get_watermark",
    "pull_source",
    "reset_watermark",
]
