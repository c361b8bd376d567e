"""A local HTTP server for the simulated API sources, with seeded, injectable faults.

One server serves every API source under its own prefix, from a folder ``api_dir`` holding ``<source>.jsonl``
(one object per line, shapes as in :mod:`finflow_simulator.api_objects`) and ``adyen/*.csv`` settlement reports:

=====================================  ===============================================================================
``GET /stripe/v1/balance_transactions``  Stripe: ``limit`` (1-100, default 10), ``starting_after`` / ``ending_before``
                                         (an object id), ``created[gte|gt|lte|lt]`` (unix seconds); newest first;
                                         ``{"object": "list", "data": [...], "has_more": bool}``
``GET /paypal/v1/reporting/transactions``  PayPal Transaction Search: ``start_date`` and ``end_date`` (ISO 8601
                                         timestamps, required, at most 31 days apart, half-open ``[start, end)`` on
                                         ``transaction_initiation_date``), ``page`` (1-based), ``page_size`` (1-500,
                                         default 100); ``{"transaction_details": [...], "total_items", "total_pages"}``
``GET /adyen/reports``                   the settlement reports: ``{"data": [{"name", "size", "modified_at",
                                         "sha256", "url"}]}``, oldest first
``GET /adyen/reports/<name>``            one report's CSV bytes (header ``X-Content-SHA256``)
``GET /billing/v1/payments``             ``updated_since`` (ISO timestamp), ``cursor`` (opaque), ``limit`` (1-500,
                                         default 100); oldest update first; ``{"data": [...], "next_cursor": str|null}``
``GET /expenses/v1/transactions``        ``posted_from`` / ``posted_to`` (``YYYY-MM-DD``, inclusive), ``page``,
                                         ``page_size`` (1-500, default 100); ``{"data": [...], "total_pages"}``
=====================================  ===============================================================================

Authentication is each vendor's (a missing or wrong credential is a 401, a key without access to the account a 403):

* Stripe: ``Authorization: Bearer <key>`` (or basic auth with the key as user name), the secret key (default
  ``sim-stripe-key``) or the restricted key ``Server.stripe_restricted_key``; an optional ``Stripe-Account`` header
  must name one of ``Server.stripe_accounts``;
* PayPal: OAuth2 client credentials. ``POST /paypal/v1/oauth2/token`` with basic auth (client id
  ``Server.paypal_client_id``, secret default ``sim-paypal-key``) and ``grant_type=client_credentials`` returns
  ``{"access_token", "token_type": "Bearer", "expires_in"}``; data requests need ``Bearer <access_token>`` until it
  expires (``token_ttl`` seconds, or :meth:`Server.expire_tokens`), then 401 ``invalid_token``;
* Adyen: ``X-API-Key: <key>`` (default ``sim-adyen-key``) or basic auth with ``Server.adyen_user`` and its password;
* billing / expenses (internal systems): ``Authorization: Bearer <key>`` (default ``sim-<source>-key``).

:meth:`Server.env` gives the ``FINFLOW_<SOURCE>_...`` variables the connectors read. The jsonl
files are re-read when they change (an ``os.stat`` per request; an append reads only the new lines), and a later
line with the same ``id`` replaces the earlier one, as an API returns the current version of an object.

Faults (:class:`FaultConfig`, seeded): 429 with ``Retry-After``, 500/502/503, slow responses (held longer than a
client's timeout), truncated bodies (status 200, body cut short: half of them with a matching ``Content-Length``
so only the JSON shows it, half with the connection closed early) and per-source outages (always 503).
``Server.requests`` counts requests by outcome (``total``, ``ok``, ``rate_limit``, ``server_error``, ``slow``,
``truncate``, ``outage``, ``unauthorized``, ``bad_request``, ``not_found``)::

    with serve(api_dir, faults=FaultConfig(seed=7, rate_limit=0.1, truncate=0.05)) as server:
        os.environ.update(server.env())  # FINFLOW_<SOURCE>_API_URL / _API_KEY for the connectors
        ...
        assert server.requests["rate_limit"] > 0

Run it by hand with ``python -m finflow_simulator.api_server --api-dir <folder> [--port 8765]``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import hashlib
import json
import logging
import math
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

SOURCES = ("stripe", "paypal", "adyen", "billing", "expenses")
FAULT_KINDS = ("rate_limit", "server_error", "slow", "truncate")
PAYPAL_MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class FaultConfig:
    """Which faults the server injects, and how often (probabilities per request, drawn from a seeded RNG).

    ``script`` is a sequence of fault kinds (``rate_limit``, ``server_error``, ``slow``, ``truncate`` or ``ok``)
    applied, in order, to the first requests before the random faults take over: a deterministic scenario.
    ``sources`` limits the faults to some sources (None: all). ``outages`` are sources that answer 503 always.
    """

    seed: int = 0
    rate_limit: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    truncate: float = 0.0
    retry_after: float = 1.0  # seconds, sent in the Retry-After header of a 429
    slow_seconds: float = 5.0  # how long a slow response is held (make it longer than the client's timeout)
    outages: frozenset[str] = frozenset()
    sources: frozenset[str] | None = None
    script: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        total = self.rate_limit + self.server_error + self.slow + self.truncate
        if min(self.rate_limit, self.server_error, self.slow, self.truncate) < 0 or total > 1:
            raise ValueError(f"fault probabilities must be >= 0 and sum to at most 1 (got {total})")
        unknown = set(self.script) - set(FAULT_KINDS) - {"ok"}
        if unknown:
            raise ValueError(f"unknown fault kinds in script: {sorted(unknown)}; known: {FAULT_KINDS + ('ok',)}")
        unknown = (set(self.outages) | set(self.sources or ())) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown sources {sorted(unknown)}; known: {SOURCES}")
        object.__setattr__(self, "outages", frozenset(self.outages))
        if self.sources is not None:
            object.__setattr__(self, "sources", frozenset(self.sources))
        object.__setattr__(self, "script", tuple(self.script))


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


# ----------------------------------------------------------------------------------------- data


def _epoch(value: Any) -> float:
    """An ISO 8601 timestamp (``Z``, ``+00:00`` or ``+0000``) or a unix time -> unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# source -> the sort key of an object (ascending); ties broken by id
_SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "stripe": lambda o: int(o["created"]),
    "paypal": lambda o: _epoch(o["transaction_info"]["transaction_initiation_date"]),
    "billing": lambda o: _epoch(o["updated_at"]),
    "expenses": lambda o: str(o["posted_at"]),
}


def _object_id(source: str, obj: dict[str, Any]) -> str:
    if source == "paypal":
        return str(obj["transaction_info"]["transaction_id"])
    return str(obj["id"])


class _Dataset:
    """The objects of one ``<source>.jsonl``, sorted, reloaded when the file changes (appends read incrementally).

    Objects are kept as their JSON text (bytes) with their sort key, not as dicts: a third of the memory, and pages
    are served by joining the texts without serializing again.
    """

    def __init__(self, source: str, path: Path) -> None:
        self.source = source
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None  # (inode, size, mtime_ns)
        self._offset = 0  # bytes consumed (complete lines only)
        self._tail = b""  # the last bytes consumed, to tell an append from a rewrite
        self._by_id: dict[str, tuple[Any, bytes]] = {}  # id -> (sort key, JSON text)
        self.keys: list[tuple[Any, str]] = []
        self.objects: list[bytes] = []
        self.positions: dict[str, tuple[Any, str]] = {}

    def snapshot(self) -> tuple[list[tuple[Any, str]], list[bytes], dict[str, tuple[Any, str]]]:
        with self._lock:
            self._refresh()
            return self.keys, self.objects, self.positions

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._stamp is not None:
                self._reset()
            return
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if stamp == self._stamp:
            return
        with self.path.open("rb") as handle:
            if not self._is_append(handle, stamp):
                self._reset()
            handle.seek(self._offset)
            chunk = handle.read(max(stat.st_size - self._offset, 0))
        complete = chunk.rfind(b"\n") + 1
        rest = chunk[complete:]
        if rest.strip():  # an unterminated last line: take it if it is a whole object, else wait for the writer
            try:
                json.loads(rest)
                complete = len(chunk)
            except ValueError:
                pass
        changed = False
        sort_key = _SORT_KEYS[self.source]
        for number, line in enumerate(chunk[:complete].splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
                self._by_id[_object_id(self.source, obj)] = (sort_key(obj), text)
                changed = True
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s: skipping unusable line %d after byte %d: %s", self.path, number, self._offset, exc)
        self._offset += complete
        self._tail = (self._tail + chunk[:complete])[-64:]
        self._stamp = stamp
        if changed:
            self._rebuild()

    def _is_append(self, handle: Any, stamp: tuple[int, int, int]) -> bool:
        """Whether the file only grew since the last read (same inode, the bytes before the offset unchanged)."""
        if self._stamp is None or stamp[0] != self._stamp[0] or stamp[1] < self._offset:
            return False
        handle.seek(self._offset - len(self._tail))
        return handle.read(len(self._tail)) == self._tail

    def _reset(self) -> None:
        self._stamp, self._offset, self._by_id, self._tail = None, 0, {}, b""
        self.keys, self.objects, self.positions = [], [], {}

    def _rebuild(self) -> None:
        keyed = sorted(((key, ident), text) for ident, (key, text) in self._by_id.items())
        # replace (not mutate) so concurrent readers keep a consistent snapshot
        self.keys = [key for key, _ in keyed]
        self.objects = [obj for _, obj in keyed]
        self.positions = {key[1]: key for key in self.keys}


@dataclass
class _Report:
    name: str
    size: int
    modified_at: str
    sha256: str


class _Reports:
    """The Adyen report folder, with checksums cached by (size, mtime)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], str]] = {}

    def listing(self) -> list[_Report]:
        if not self.folder.is_dir():
            return []
        reports = []
        with self._lock:
            for path in self.folder.glob("*.csv"):
                stat = path.stat()
                stamp = (stat.st_size, stat.st_mtime_ns)
                cached = self._cache.get(path.name)
                if cached is None or cached[0] != stamp:
                    cached = (stamp, hashlib.sha256(path.read_bytes()).hexdigest())
                    self._cache[path.name] = cached
                modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat().replace("+00:00", "Z")
                reports.append(_Report(path.name, stat.st_size, modified, cached[1]))
        return sorted(reports, key=lambda r: (r.modified_at, r.name))

    def read(self, name: str) -> bytes:
        if not name or "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".csv"):
            raise _BadRequest(f"no such report {name!r}", 404)
        path = self.folder / name
        if not path.is_file():
            raise _BadRequest(f"no such report {name!r}", 404)
        return path.read_bytes()


# ----------------------------------------------------------------------------------------- request parameters


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _int(params: Mapping[str, list[str]], name: str, default: int | None, low: int, high: int) -> int | None:
    value = _one(params, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}, got {number}")
    return number


def _timestamp(params: Mapping[str, list[str]], name: str) -> float | None:
    value = _one(params, name)
    if value is None:
        return None
    try:
        return _epoch(value)
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO 8601 timestamp, got {value!r}") from None


def _day(params: Mapping[str, list[str]], name: str) -> str | None:
    value = _one(params, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _BadRequest(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _paged(
    objects: list[bytes], lo: int, hi: int, params: Mapping[str, list[str]]
) -> tuple[list[bytes], int, int, int, int]:
    page = _int(params, "page", 1, 1, 1_000_000) or 1
    size = _int(params, "page_size", 100, 1, 500) or 100
    total = max(hi - lo, 0)
    start = lo + (page - 1) * size
    items = objects[start : min(start + size, hi)] if start < hi else []
    return items, page, size, total, math.ceil(total / size)


# ----------------------------------------------------------------------------------------- endpoints


def _stripe(data: _Dataset, params: Mapping[str, list[str]]) -> bytes:
    keys, objects, positions = data.snapshot()
    limit = _int(params, "limit", 10, 1, 100) or 10
    lo, hi = 0, len(keys)
    bounds = {op: _one(params, f"created[{op}]") for op in ("gte", "gt", "lte", "lt")}
    exact = _one(params, "created")
    try:
        if exact is not None:
            bounds["gte"] = bounds["lte"] = exact
        if bounds["gte"] is not None:
            lo = max(lo, bisect.bisect_left(keys, (int(bounds["gte"]),)))
        if bounds["gt"] is not None:
            lo = max(lo, bisect.bisect_left(keys, (int(bounds["gt"]) + 1,)))
        if bounds["lte"] is not None:
            hi = min(hi, bisect.bisect_left(keys, (int(bounds["lte"]) + 1,)))
        if bounds["lt"] is not None:
            hi = min(hi, bisect.bisect_left(keys, (int(bounds["lt"]),)))
    except ValueError:
        raise _BadRequest("created filters must be integers (unix seconds)") from None
    after, before = _one(params, "starting_after"), _one(params, "ending_before")
    if after and before:
        raise _BadRequest("starting_after and ending_before cannot be used together")
    for ident in filter(None, (after, before)):
        if ident not in positions:
            raise _BadRequest(f"No such balance_transaction: '{ident}'", 404)
    if before:  # the `limit` objects just newer than `before`, newest first
        lo = max(lo, bisect.bisect_right(keys, positions[before]))
        page = objects[lo : min(lo + limit, hi)] if lo < hi else []
        has_more = lo + limit < hi
    else:  # the `limit` objects just older than `after` (or the newest), newest first
        if after:
            hi = min(hi, bisect.bisect_left(keys, positions[after]))
        page = objects[max(lo, hi - limit) : hi] if lo < hi else []
        has_more = hi - limit > lo
    return _envelope("data", page[::-1], object="list", url="/v1/balance_transactions", has_more=has_more)


def _paypal(data: _Dataset, params: Mapping[str, list[str]]) -> bytes:
    start, end = _timestamp(params, "start_date"), _timestamp(params, "end_date")
    if start is None or end is None:
        raise _BadRequest("start_date and end_date are required", body=_paypal_error("start_date/end_date missing"))
    if end < start:
        raise _BadRequest("end_date is before start_date", body=_paypal_error("end_date is before start_date"))
    if end - start > PAYPAL_MAX_WINDOW.total_seconds():
        raise _BadRequest(
            "Date range is greater than 31 days", body=_paypal_error("Date range is greater than 31 days")
        )
    keys, objects, _ = data.snapshot()
    lo, hi = bisect.bisect_left(keys, (start,)), bisect.bisect_left(keys, (end,))
    items, page, size, total, pages = _paged(objects, lo, hi, params)
    return _envelope(
        "transaction_details",
        items,
        account_number="SIMPAYPAL0001",
        start_date=_one(params, "start_date"),
        end_date=_one(params, "end_date"),
        last_refreshed_datetime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        page=page,
        total_items=total,
        total_pages=pages,
        links=[],
    )


def _paypal_error(issue: str) -> dict[str, Any]:
    return {
        "name": "INVALID_REQUEST",
        "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
        "details": [{"field": "start_date", "issue": issue}],
    }


def _billing(data: _Dataset, params: Mapping[str, list[str]]) -> bytes:
    keys, objects, _ = data.snapshot()
    limit = _int(params, "limit", 100, 1, 500) or 100
    since = _timestamp(params, "updated_since")
    lo = bisect.bisect_left(keys, (since,)) if since is not None else 0
    cursor = _one(params, "cursor")
    if cursor:
        try:
            moment, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            lo = max(lo, bisect.bisect_right(keys, (float(moment), str(ident))))
        except (ValueError, TypeError):
            raise _BadRequest(f"invalid cursor {cursor!r}") from None
    page = objects[lo : lo + limit]
    more = lo + limit < len(keys)
    next_cursor = None
    if more and page:
        next_cursor = base64.urlsafe_b64encode(json.dumps(list(keys[lo + len(page) - 1])).encode()).decode()
    return _envelope("data", page, object="list", has_more=more, next_cursor=next_cursor)


def _expenses(data: _Dataset, params: Mapping[str, list[str]]) -> bytes:
    first, last = _day(params, "posted_from"), _day(params, "posted_to")
    if first and last and last < first:
        raise _BadRequest("posted_to is before posted_from")
    keys, objects, _ = data.snapshot()
    lo = bisect.bisect_left(keys, (first,)) if first else 0
    hi = bisect.bisect_left(keys, ((date.fromisoformat(last) + timedelta(days=1)).isoformat(),)) if last else len(keys)
    items, page, size, total, pages = _paged(objects, lo, hi, params)
    return _envelope("data", items, page=page, page_size=size, total_items=total, total_pages=pages)


# ----------------------------------------------------------------------------------------- the server


class Server:
    """A running simulated API server (see :func:`serve`)."""

    def __init__(
        self,
        api_dir: Path,
        faults: FaultConfig | None = None,
        tokens: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl: float = 32400.0,
    ) -> None:
        self.api_dir = Path(api_dir)
        # each source's main secret: Stripe secret key, PayPal client secret, Adyen API key, internal Bearer keys
        self.tokens = {source: f"sim-{source}-key" for source in SOURCES} | dict(tokens or {})
        self.stripe_restricted_key = "rk_test_sim-stripe-restricted"
        self.stripe_accounts = {"acct_sim_connected"}
        self.paypal_client_id = "sim-paypal-client"
        self.adyen_user = ("report@Company.FinFlowSim", "sim-adyen-password")
        self.token_ttl = token_ttl  # lifetime of an issued PayPal access token, seconds
        self._access_tokens: dict[str, float] = {}  # issued PayPal token -> monotonic time it expires
        self.requests: Counter[str] = Counter()
        self.requests_by_source: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._outages: set[str] = set()
        self._datasets = {s: _Dataset(s, self.api_dir / f"{s}.jsonl") for s in SOURCES if s != "adyen"}
        self._reports = _Reports(self.api_dir / "adyen")
        self.faults = faults or FaultConfig()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- configuration, safe to change while serving
    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        with self._lock:
            self._faults = config
            self._rng = random.Random(config.seed)
            self._script = list(config.script)

    def set_outage(self, source: str, down: bool = True) -> None:
        """Switch a source's outage on (every request 503) or off."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; known: {SOURCES}")
        with self._lock:
            (self._outages.add if down else self._outages.discard)(source)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def base_url(self, source: str) -> str:
        """The base URL a connector for ``source`` uses (the endpoint paths go under it)."""
        return f"{self.url}/{source}"

    def credentials(self, source: str) -> dict[str, str]:
        """The credentials a client of ``source`` needs, by role (the suffix of their ``FINFLOW_`` variable)."""
        if source == "paypal":
            return {"_CLIENT_ID": self.paypal_client_id, "_CLIENT_SECRET": self.tokens["paypal"]}
        return {"_API_KEY": self.tokens[source]}

    def env(self) -> dict[str, str]:
        """``FINFLOW_<SOURCE>_API_URL`` and the credential variables for every source, as the registry names them."""
        env = {}
        for source in SOURCES:
            env[f"FINFLOW_{source.upper()}_API_URL"] = self.base_url(source)
            for suffix, value in self.credentials(source).items():
                env[f"FINFLOW_{source.upper()}{suffix}"] = value
        return env

    def issue_token(self) -> str:
        """A new PayPal access token, valid ``token_ttl`` seconds."""
        token = "A21AA" + base64.urlsafe_b64encode(random.randbytes(24)).decode().rstrip("=")
        with self._lock:
            self._access_tokens[token] = time.monotonic() + self.token_ttl
        return token

    def expire_tokens(self) -> None:
        """Expire every PayPal access token issued so far (as a server restart or key rotation would)."""
        with self._lock:
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    def auth_headers(self, source: str) -> dict[str, str]:
        """Headers this server accepts for ``source`` (a fresh access token for PayPal), for tests and tools."""
        if source == "paypal":
            return {"Authorization": f"Bearer {self.issue_token()}"}
        if source == "adyen":
            return {"X-API-Key": self.tokens["adyen"]}
        return {"Authorization": f"Bearer {self.tokens[source]}"}

    def _refusal(self, source: str, headers: Mapping[str, str]) -> tuple[int, str, str] | None:
        """(status, outcome kind, message) when the request's credentials are not good for ``source``."""
        authorization = headers.get("Authorization") or ""
        scheme, _, value = authorization.partition(" ")
        basic = _basic_pair(value) if scheme.lower() == "basic" else None
        if source == "stripe":
            key = value if scheme.lower() == "bearer" else basic[0] if basic else ""
            if key not in (self.tokens["stripe"], self.stripe_restricted_key):
                return 401, "unauthorized", "Invalid API key provided" if key else "No API key provided"
            account = headers.get("Stripe-Account")
            if account is not None and account not in self.stripe_accounts:
                return 403, "forbidden", "The provided key does not have access to the account (or it does not exist)"
            return None
        if source == "paypal":
            if scheme.lower() != "bearer" or not value:
                return 401, "unauthorized", "Authentication failed due to invalid authentication credentials"
            with self._lock:
                expires = self._access_tokens.get(value)
            if expires is None:
                return 401, "unauthorized", "Token signature verification failed"
            if expires <= time.monotonic():
                return 401, "token_expired", "Access Token expired"
            return None
        if source == "adyen":
            if headers.get("X-API-Key") == self.tokens["adyen"] or basic == self.adyen_user:
                return None
            return 401, "unauthorized", "HTTP Status Response - Unauthorized"
        if scheme.lower() == "bearer" and value == self.tokens[source]:
            return None
        return 401, "unauthorized", "Invalid API key provided" if value else "No API key provided"

    # -- lifecycle
    def start(self) -> Server:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="finflow-api-sim", daemon=True
        )
        self._thread.start()
        log.info("simulated APIs serving %s at %s", self.api_dir, self.url)
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes requests held by a "slow" fault
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    # -- request handling (called from the handler threads)
    def _count(self, source: str | None, kind: str) -> None:
        with self._lock:
            self.requests["total"] += 1
            self.requests[kind] += 1
            if source:
                self.requests_by_source[source] += 1
                self.requests_by_source[f"{source}:{kind}"] += 1

    def _fault_for(self, source: str) -> str | None:
        with self._lock:
            config = self._faults
            if source in self._outages or source in config.outages:
                return "outage"
            if config.sources is not None and source not in config.sources:
                return None
            if self._script:
                kind = self._script.pop(0)
                return None if kind == "ok" else kind
            draw = self._rng.random()
            for kind in FAULT_KINDS:
                probability = getattr(config, kind)
                if draw < probability:
                    return kind
                draw -= probability
            return None

    def _random(self) -> float:
        with self._lock:
            return self._rng.random()

    def _route(self, source: str, path: str, params: Mapping[str, list[str]]) -> tuple[bytes, str, dict[str, str]]:
        endpoint: Callable[[_Dataset, Mapping[str, list[str]]], bytes] | None = {
            ("stripe", "/v1/balance_transactions"): _stripe,
            ("paypal", "/v1/reporting/transactions"): _paypal,
            ("billing", "/v1/payments"): _billing,
            ("expenses", "/v1/transactions"): _expenses,
        }.get((source, path))
        if endpoint is not None:
            return endpoint(self._datasets[source], params), "application/json", {}
        if source == "adyen" and path == "/reports":
            listing = [
                {
                    "name": r.name,
                    "size": r.size,
                    "modified_at": r.modified_at,
                    "sha256": r.sha256,
                    "url": f"/reports/{r.name}",
                }
                for r in self._reports.listing()
            ]
            return _json({"object": "list", "data": listing}), "application/json", {}
        if source == "adyen" and path.startswith("/reports/"):
            body = self._reports.read(unquote(path.removeprefix("/reports/")))
            return body, "text/csv; charset=utf-8", {"X-Content-SHA256": hashlib.sha256(body).hexdigest()}
        raise _BadRequest(f"no such endpoint {path!r} for {source}", 404)


def _basic_pair(value: str) -> tuple[str, str] | None:
    """(user, password) of a basic-auth value, or None when it does not decode."""
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), default=str).encode()


def _envelope(items_key: str, items: list[bytes], **fields: Any) -> bytes:
    """``{"<items_key>": [<items as stored>], <fields>}`` without parsing the stored JSON texts."""
    rest = _json(fields)
    tail = b"}" if rest == b"{}" else b"," + rest[1:]
    return b'{"' + items_key.encode() + b'":[' + b",".join(items) + b"]" + tail


def _handler_for(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so a client's connection pool is exercised
        disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
        server_version = "FinFlowSim/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            log.debug("%s %s", self.address_string(), format % args)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            try:
                self._get()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout): nothing to answer

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            """The PayPal OAuth2 token endpoint (client credentials); nothing else accepts a POST."""
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
            if urlsplit(self.path).path != "/paypal/v1/oauth2/token":
                server._count(None, "not_found")
                return self._send(404, _json({"error": {"message": "no such endpoint"}}))
            authorization = self.headers.get("Authorization") or ""
            scheme, _, value = authorization.partition(" ")
            pair = _basic_pair(value) if scheme.lower() == "basic" else None
            if pair != (server.paypal_client_id, server.tokens["paypal"]):
                server._count("paypal", "unauthorized")
                body = {"error": "invalid_client", "error_description": "Client Authentication failed"}
                return self._send(401, _json(body))
            if form.get("grant_type") != ["client_credentials"]:
                server._count("paypal", "bad_request")
                body = {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL or unsupported"}
                return self._send(400, _json(body))
            server._count("paypal", "token")
            token = server.issue_token()
            document = {
                "scope": "https://uri.paypal.com/services/reporting/search/read",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-SIM",
                "expires_in": server.token_ttl,
                "nonce": "sim",
            }
            return self._send(200, _json(document))

        def _get(self) -> None:
            parts = urlsplit(self.path)
            source, _, rest = parts.path.lstrip("/").partition("/")
            if source not in SOURCES:
                server._count(None, "not_found")
                return self._send(404, _json({"error": {"message": f"unknown source {source!r}"}}))
            refusal = server._refusal(source, self.headers)
            if refusal is not None:
                status, kind, message = refusal
                server._count(source, kind)
                if source == "paypal":
                    document: dict[str, Any] = {"error": "invalid_token", "error_description": message}
                else:
                    document = {"error": {"type": "invalid_request_error", "message": message}}
                return self._send(status, _json(document))
            fault = server._fault_for(source)
            if fault == "outage":
                server._count(source, "outage")
                return self._send(503, _json({"error": {"message": f"{source} is unavailable (outage)"}}))
            if fault == "rate_limit":
                server._count(source, "rate_limit")
                wait = server.faults.retry_after
                header = str(int(wait)) if float(wait).is_integer() else f"{wait:g}"
                return self._send(
                    429, _json({"error": {"message": "Too many requests"}}), headers={"Retry-After": header}
                )
            if fault == "server_error":
                server._count(source, "server_error")
                status = (500, 502, 503)[int(server._random() * 3)]
                return self._send(status, _json({"error": {"message": HTTPStatus(status).phrase}}))
            if fault == "slow":
                server._count(source, "slow")
                if server._stopping.wait(server.faults.slow_seconds):
                    self.close_connection = True
                    return None
            params = parse_qs(parts.query, keep_blank_values=False)
            try:
                body, content_type, headers = server._route(source, "/" + rest, params)
            except _BadRequest as exc:
                kind = "not_found" if exc.status == 404 else "bad_request"
                if fault != "slow":
                    server._count(source, kind)
                document = exc.body or {"error": {"type": "invalid_request_error", "message": str(exc)}}
                return self._send(exc.status, _json(document))
            if fault == "truncate" and len(body) > 1:
                server._count(source, "truncate")
                cut = 1 + int(server._random() * (len(body) - 1))
                if server._random() < 0.5:  # consistent length: only the content shows the cut
                    return self._send(200, body[:cut], content_type, headers)
                return self._send(200, body, content_type, headers, cut=cut)
            if fault != "slow":
                server._count(source, "ok")
            return self._send(200, body, content_type, headers)

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            headers: Mapping[str, str] | None = None,
            cut: int | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if cut is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body if cut is None else body[:cut])
            self.wfile.flush()

    return Handler


@contextlib.contextmanager
def serve(
    api_dir: Path | str,
    faults: FaultConfig | None = None,
    *,
    tokens: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    token_ttl: float = 32400.0,
) -> Iterator[Server]:
    """Serve the simulated APIs from ``api_dir`` on ``host:port`` (port 0 picks a free one) while the block runs."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("the simulated APIs bind to the loopback interface only")
    server = Server(Path(api_dir), faults, tokens, host, port, token_ttl).start()
    try:
        yield server
    finally:
        server.close()


def append_jsonl(api_dir: Path | str, source: str, objects: Iterable[Mapping[str, Any]]) -> int:
    """Append objects to ``<api_dir>/<source>.jsonl`` in one write (a running server picks them up)."""
    if source not in SOURCES or source == "adyen":
        raise ValueError(f"{source!r} is not a JSON API source; known: {[s for s in SOURCES if s != 'adyen']}")
    lines = [json.dumps(obj, separators=(",", ":"), default=str) for obj in objects]
    path = Path(api_dir) / f"{source}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return len(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the simulated FinFlow API sources on localhost.")
    parser.add_argument("--api-dir", required=True, type=Path, help="folder with <source>.jsonl and adyen/*.csv")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    for kind in FAULT_KINDS:
        parser.add_argument(f"--{kind.replace('_', '-')}", type=float, default=0.0, help=f"probability of {kind}")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--outage", action="append", default=[], choices=SOURCES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    faults = FaultConfig(
        seed=args.seed,
        rate_limit=args.rate_limit,
        server_error=args.server_error,
        slow=args.slow,
        truncate=args.truncate,
        retry_after=args.retry_after,
        slow_seconds=args.slow_seconds,
        outages=frozenset(args.outage),
    )
    # stop cleanly on SIGTERM even when started from a shell or job runner that ignores it (children inherit that)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    with serve(args.api_dir, faults, port=args.port) as server:
        for name, value in server.env().items():
            print(f"export {name}={value}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
