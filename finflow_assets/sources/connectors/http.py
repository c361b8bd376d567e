"""An HTTP client for API sources: vendor auth, timeouts, and retries with backoff that honours Retry-After.

Retried (up to ``RetryPolicy.attempts`` attempts per request, exponential backoff with jitter, capped): 408, 429 and
5xx answers, timeouts, connection errors, bodies cut short (a connection closed before ``Content-Length`` bytes, a
checksum mismatch, or JSON that does not parse) and JSON of the wrong shape. A ``Retry-After`` header (seconds or an
HTTP date) sets the wait, capped at ``RetryPolicy.retry_after_max``. 401/403 and other 4xx fail at once, except
that a 401 lets OAuth2 credentials fetch a new token and repeat the request once (see :mod:`.auth`).

Credentials are sent in headers only: they are never part of a URL, a log line or an error message (any text quoted
from a response is scrubbed of them too). URLs in messages have passwords and secret-looking query parameters
masked.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import tenacity

from .auth import Credentials

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_SECRET_PARAMS = ("key", "token", "secret", "password", "signature", "sig", "auth", "credential")


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts and the retry budget of one request (tests shrink these to stay fast)."""

    attempts: int = 6  # tries per request, the first one included
    backoff_initial: float = 0.5  # seconds before the first retry (doubling, with jitter)
    backoff_max: float = 30.0  # cap of one backoff
    retry_after_max: float = 60.0  # cap on an honoured Retry-After
    timeout: float = 30.0  # read / write / pool timeout of one attempt
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")


class ApiError(RuntimeError):
    """A request that failed for good: names the source, the URL (no secrets) and the last error."""

    def __init__(
        self,
        source: str,
        url: str,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        method: str = "GET",
    ) -> None:
        self.source = source
        self.url = url
        self.last_error = message
        self.status = status
        self.attempts = attempts
        super().__init__(f"{source}: {method} {url}: {message}")


class ApiAuthError(ApiError):
    """The API refused the credentials (401/403): retrying cannot help."""


class ApiConfigError(ValueError):
    """A missing base URL or credential setting."""


class _Retryable(Exception):
    def __init__(self, reason: str, kind: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class InvalidResponse(ValueError):
    """Raised by a response validator for a body of the wrong shape (treated like a truncated body: retried)."""


@dataclass(frozen=True)
class JsonPage:
    """One API response: the raw body (hashed for the load journal), its decoded JSON and where it came from."""

    url: str  # safe for logs: no secrets
    body: bytes
    document: Any


def safe_url(url: str | httpx.URL) -> str:
    """The URL with a password and secret-looking query parameters masked."""
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = [
        (name, "***" if any(word in name.lower() for word in _SECRET_PARAMS) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return parts._replace(netloc=netloc, query=urlencode(query, safe="[]:,")).geturl()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


class ApiClient:
    """GET requests to one API source, retried per :class:`RetryPolicy`; counts retries for run metadata."""

    def __init__(
        self,
        source: str,
        base_url: str,
        credentials: Credentials,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._credentials = credentials
        self.token_refreshes = 0
        self.retries = 0
        self.retry_reasons: Counter[str] = Counter()
        timeout = httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout)
        self._client = httpx.Client(
            timeout=timeout,
            headers={"Accept": "application/json, text/csv"},
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.source!r}, {safe_url(self.base_url)!r})"

    # -- public API
    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, validate: Callable[[Any], None] | None = None
    ) -> JsonPage:
        """GET a JSON document; a body that does not parse, or that ``validate`` rejects, is retried."""

        def decode(response: httpx.Response) -> Any:
            try:
                document = json.loads(response.content)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _Retryable(
                    f"invalid JSON in a {len(response.content)}-byte body (truncated?): {exc}", "invalid_json"
                ) from None
            if validate is not None:
                try:
                    validate(document)
                except InvalidResponse as exc:
                    raise _Retryable(f"unexpected response: {exc}", "invalid_json") from None
            return document

        response, document = self._authorized("GET", path, params, decode)
        return JsonPage(safe_url(response.request.url), response.content, document)

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None) -> JsonPage:
        """GET a file, checked against an ``X-Content-SHA256`` header when the server sends one."""

        def check(response: httpx.Response) -> None:
            expected = response.headers.get("X-Content-SHA256")
            if expected and hashlib.sha256(response.content).hexdigest() != expected.lower():
                raise _Retryable(f"checksum mismatch on a {len(response.content)}-byte body (truncated?)", "truncated")
            return None

        response, _ = self._authorized("GET", path, params, check)
        return JsonPage(safe_url(response.request.url), response.content, None)

    def post_form(self, path: str, form: Mapping[str, str], *, headers: Mapping[str, str]) -> Any:
        """POST a form with the given (authentication) headers and decode the JSON answer (an OAuth2 token)."""

        def decode(response: httpx.Response) -> Any:
            try:
                return json.loads(response.content)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _Retryable(
                    f"invalid JSON in a {len(response.content)}-byte body: {exc}", "invalid_json"
                ) from None

        _, document = self._send("POST", path, None, decode, headers=headers, form=form)
        return document

    # -- internals
    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _scrub(self, text: str) -> str:
        for secret in self._credentials.secrets():
            text = text.replace(secret, "***")
        return text

    def _authorized(
        self, method: str, path: str, params: Mapping[str, Any] | None, decode: Callable[[httpx.Response], Any]
    ) -> tuple[httpx.Response, Any]:
        """A request with the source's credentials; a 401 may refresh them (OAuth2) and repeat it once."""
        headers = self._credentials.headers(self)  # a refused OAuth2 client secret fails here, at once
        try:
            return self._send(method, path, params, decode, headers=headers)
        except ApiAuthError as exc:
            if exc.status != 401 or not self._credentials.refresh(self):
                raise
        self.token_refreshes += 1
        log.info("%s: the access token was refused; fetched a new one, repeating the request once", self.source)
        return self._send(method, path, params, decode, headers=self._credentials.headers(self))

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[httpx.Response], Any],
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, Any]:
        url = self._url(path)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        shown = safe_url(httpx.URL(url, params=clean))
        started = time.monotonic()
        backoff = tenacity.wait_exponential_jitter(
            initial=self.policy.backoff_initial, max=self.policy.backoff_max, jitter=self.policy.backoff_initial
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                honoured = min(exc.retry_after, self.policy.retry_after_max)
                return honoured + random.uniform(0, min(self.policy.backoff_initial, 1.0))
            return backoff(state)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            kind = exc.kind if isinstance(exc, _Retryable) else "error"
            self.retries += 1
            self.retry_reasons[kind] += 1
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s: %s %s: %s; retry %d of %d in %.2fs",
                self.source,
                method,
                shown,
                self._scrub(str(exc)),
                state.attempt_number,
                self.policy.attempts - 1,
                delay,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, url, clean, shown, decode, headers, form)
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", self.policy.attempts)
            elapsed = time.monotonic() - started
            raise ApiError(
                self.source,
                shown,
                f"gave up after {attempts} attempts in {elapsed:.1f}s; last error: {self._scrub(exc.reason)}",
                status=exc.status,
                attempts=attempts,
                method=method,
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any],
        shown: str,
        decode: Callable[[httpx.Response], Any],
        headers: Mapping[str, str],
        form: Mapping[str, str] | None,
    ) -> tuple[httpx.Response, Any]:
        try:
            response = self._client.request(method, url, params=params, headers=headers, data=form)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__}, timeout {self.policy.timeout:g}s)", "timeout") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {self._scrub(str(exc))}", "transport") from None
        status = response.status_code
        if status in (401, 403):
            raise ApiAuthError(
                self.source,
                shown,
                f"{status} {response.reason_phrase}: the API refused the credentials in {self._credentials.hint}; "
                "check that they are set and valid",
                status=status,
                method=method,
            )
        if status in RETRY_STATUSES or status >= 500:
            raise _Retryable(
                f"HTTP {status} {response.reason_phrase}: {self._snippet(response)}",
                str(status) if status in (429, 500, 502, 503, 504) else "http",
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400 or status < 200:
            raise ApiError(
                self.source,
                shown,
                f"HTTP {status} {response.reason_phrase}: {self._snippet(response)}",
                status=status,
                method=method,
            )
        return response, decode(response)

    def _snippet(self, response: httpx.Response) -> str:
        text = response.content[:300].decode("utf-8", "replace")
        return self._scrub(" ".join(text.split())) or "(empty body)"
