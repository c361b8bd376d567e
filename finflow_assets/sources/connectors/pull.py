"""Pulling an API source incrementally into ``raw.<source>``: one entry point, :func:`pull_source`.

The source's ``ApiSpec.pagination`` picks the loop, and its format the API's dialect:

* ``cursor``: Stripe-style (``format stripe_json``: ``created[gte]``, ``starting_after``, ``has_more``, newest first)
  or token-style (``billing_json``: ``updated_since``, ``cursor``, ``next_cursor``, oldest first). A pull starts at
  the watermark minus ``ApiSpec.overlap`` (everything on the first pull, or ``since``).
* ``date_window``: PayPal-style timestamps (``paypal_json``: ``start_date`` / ``end_date``, at most 31 days) or
  posting dates (``expenses_json``: ``posted_from`` / ``posted_to``), windows of ``ApiSpec.window`` from the
  watermark minus the overlap (first pull: ``since``, default ``now - DEFAULT_BACKFILL``) up to ``now``, each
  window paged with ``page`` / ``page_size`` until ``total_pages``.
* ``report_download``: list the reports, download each one not seen before and land it with
  :func:`~finflow_assets.sources.file_landing.land_bytes` (once per content hash; a bad report is quarantined).

Exactly once: every page is landed in one transaction together with its journal entry in ``raw._loads`` (origin =
the request's path and query, content hash of the body) and the source's position in ``raw._watermarks``. A page
whose body was landed before is skipped by hash; otherwise rows whose ``external_id`` is already in
``raw.<source>`` are skipped, so overlapping windows, re-reads after a crash and retried pages never land a row
twice. A crash leaves the position at the last committed page: Stripe-style pulls resume from the stored
``starting_after``, token-style from the stored ``next_cursor``, date windows from the start of the unfinished
window. Only the newest version of an object is served by the APIs; a later update of an object whose id is
already landed is not landed again.

The connection may be in autocommit mode or not; each page is committed on its own (an open transaction of the
caller is committed first). A session advisory lock keeps two pulls of one source from interleaving.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from ...settings import paths
from ..file_landing import land_bytes, save_quarantined
from ..parsers import ParseError, get_parser
from ..raw_tables import RAW_SCHEMA, already_landed, content_hash, copy_records, ensure_raw_schema, ensure_raw_table
from ..registry import SourceSpec
from ..text_cleaning import CleaningReport, clean_records
from .auth import credentials_from_env
from .http import (
    ApiAuthError,
    ApiClient,
    ApiConfigError,
    ApiError,
    InvalidResponse,
    JsonPage,
    RetryPolicy,
)
from .watermarks import Watermark, ensure_watermarks, get_watermark, set_watermark

log = logging.getLogger(__name__)

DEFAULT_BACKFILL = timedelta(days=90)  # how far back the first pull of a date-window source reaches
PAYPAL_MAX_WINDOW = timedelta(days=31)
_UNCHANGED: Any = object()


class PullError(RuntimeError):
    """A pull that cannot go on for a reason retrying will not fix (a page the parser rejects, a stuck cursor)."""


@dataclass
class PullReport:
    """What one pull did, for logs and Dagster metadata."""

    source: str
    rows_landed: int = 0
    rows_skipped_existing: int = 0
    pages: int = 0  # pages (or reports) fetched
    pages_already_landed: int = 0  # of those, skipped because the same body was landed before
    retries: int = 0
    retry_reasons: dict[str, int] = field(default_factory=dict)
    token_refreshes: int = 0  # OAuth2 tokens the server refused early and that were fetched again
    duration_s: float = 0.0
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    quarantined: list[str] = field(default_factory=list)  # pages and report downloads that could not be landed

    def metadata(self) -> dict[str, Any]:
        """Plain values for ``dg.Output(metadata=...)``."""
        return {
            "rows_landed": self.rows_landed,
            "rows_skipped_existing": self.rows_skipped_existing,
            "pages": self.pages,
            "pages_already_landed": self.pages_already_landed,
            "retries": self.retries,
            "retry_reasons": ", ".join(f"{k}: {v}" for k, v in sorted(self.retry_reasons.items())) or "none",
            "token_refreshes": self.token_refreshes,
            "duration_s": round(self.duration_s, 3),
            "watermark_before": self.watermark_before.isoformat() if self.watermark_before else "none",
            "watermark_after": self.watermark_after.isoformat() if self.watermark_after else "none",
            "quarantined": len(self.quarantined),
        }


@dataclass(frozen=True)
class PageOutcome:
    """One landed page, passed to ``on_page`` after its transaction committed."""

    source: str
    origin: str
    records: int
    rows_landed: int
    rows_skipped_existing: int
    already_landed: bool


def pull_source(
    conn: psycopg.Connection,
    spec: SourceSpec,
    *,
    base_url: str | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
    retry: RetryPolicy | None = None,
    on_page: Callable[[PageOutcome], None] | None = None,
) -> PullReport:
    """Pull what is new at an API source into ``raw.<source>``; safe to rerun and to interrupt at any point.

    ``base_url`` defaults to the environment variable ``spec.api.base_url_env``; the credentials always come from
    the variables of ``spec.api.auth`` (see :mod:`.auth`). A page the parser or the database rejects is
    quarantined (journaled, its body kept in ``landing/<source>/quarantine/`` with a ``.error`` note; nothing of it
    lands) and the pull goes on. ``now`` bounds the date windows (default: the current time, UTC). ``since`` is
    where a source without a watermark starts (default: everything for cursor sources, ``now - DEFAULT_BACKFILL``
    for date windows). ``retry`` sets timeouts and the retry budget. ``on_page`` is called after each committed
    page.

    Raises :class:`~.http.ApiError` (the retry budget ran out, or a 4xx; ``ApiAuthError`` for refused credentials),
    :class:`PullError` for a stuck cursor, both with the partial report as ``exc.report``, and
    :class:`~.http.ApiConfigError` for missing settings.
    """
    if spec.api is None:
        raise ValueError(f"{spec.name} is a {spec.kind} source, not an API source")
    puller = _puller_for(spec)
    url = base_url or os.environ.get(spec.api.base_url_env, "").strip()
    if not url:
        raise ApiConfigError(f"{spec.name}: no API base URL: export {spec.api.base_url_env} or pass base_url")
    credentials = credentials_from_env(spec.name, spec.api.auth)
    now = _utc(now) if now is not None else datetime.now(UTC)
    started = time.perf_counter()
    report = PullReport(spec.name)

    _prepare(conn, spec)
    lock_key = f"finflow.pull.{spec.name}"
    _run(conn, "select pg_advisory_lock(hashtextextended(%s, 0))", (lock_key,))
    client = ApiClient(spec.name, url, credentials, policy=retry)
    try:
        position = get_watermark(conn, spec.name)
        report.watermark_before = position.watermark
        puller(_Pull(conn, spec, client, report, now, since, on_page), position)
        with _transaction(conn):
            conn.execute(
                "insert into raw._watermarks (source) values (%s)"
                " on conflict (source) do update set updated_at = now()",
                (spec.name,),
            )
        report.watermark_after = get_watermark(conn, spec.name).watermark
        _finish(conn)
    except (ApiError, PullError) as exc:
        exc.report = report  # type: ignore[attr-defined]  # the partial report, for run metadata
        raise
    finally:
        report.retries = client.retries
        report.retry_reasons = dict(client.retry_reasons)
        report.token_refreshes = client.token_refreshes
        report.duration_s = time.perf_counter() - started
        client.close()
        _unlock(conn, lock_key)
    log.info(
        "%s: pulled %d pages, landed %d rows, skipped %d already landed, %d retries, watermark %s -> %s (%.2fs)",
        spec.name,
        report.pages,
        report.rows_landed,
        report.rows_skipped_existing,
        report.retries,
        report.watermark_before,
        report.watermark_after,
        report.duration_s,
    )
    return report


# ----------------------------------------------------------------------------------------- landing one page


class _Pull:
    """The state shared by the pagination loops: connection, client, report, clock."""

    def __init__(
        self,
        conn: psycopg.Connection,
        spec: SourceSpec,
        client: ApiClient,
        report: PullReport,
        now: datetime,
        since: datetime | None,
        on_page: Callable[[PageOutcome], None] | None,
    ) -> None:
        assert spec.api is not None
        self.conn, self.spec, self.api, self.client, self.report = conn, spec, spec.api, client, report
        self.now, self.since, self.on_page = now, _utc(since) if since else None, on_page
        self.parser = get_parser(spec.format)

    def start(self, position: Watermark, default: datetime | None) -> datetime | None:
        """Where a pull begins: the watermark minus the overlap, else ``since``, else ``default``."""
        if position.watermark is not None:
            return position.watermark - self.api.overlap
        return self.since or default

    def land(self, page: JsonPage, *, watermark: Any = _UNCHANGED, cursor: str | None, previous: Watermark) -> None:
        """Land one page's new rows, its journal entry and the source's new position in one transaction."""
        spec, conn = self.spec, self.conn
        origin = _origin(page.url)
        try:
            records = self._records(page, origin)
        except ParseError as exc:
            self.quarantine(origin, page.body, str(exc))
            records = []
        mark = previous.watermark if watermark is _UNCHANGED else _latest(previous.watermark, watermark)
        digest = content_hash(page.body)
        landed = skipped = 0
        with _transaction(conn):
            seen_before = bool(records) and already_landed(conn, spec.name, digest)
            if records and not seen_before:
                new, skipped = _new_records(conn, spec.raw_table, records)
                load_id = str(uuid.uuid4())
                conn.execute(
                    "insert into raw._loads (load_id, source, origin, content_hash, status, rows_landed, started_at)"
                    " values (%s, %s, %s, %s, 'landed', %s, now())",
                    (load_id, spec.name, origin, digest, len(new)),
                )
                landed = self._write(load_id, origin, new, page.body)
            elif seen_before:
                skipped = len(records)
            set_watermark(conn, spec.name, mark, cursor)
        self.report.pages += 1
        self.report.pages_already_landed += int(seen_before)
        self.report.rows_landed += landed
        self.report.rows_skipped_existing += skipped
        log.debug("%s: %s: %d records, %d landed, %d skipped", spec.name, origin, len(records), landed, skipped)
        if self.on_page is not None:
            self.on_page(PageOutcome(spec.name, origin, len(records), landed, skipped, seen_before))

    def _records(self, page: JsonPage, origin: str) -> list[dict[str, Any]]:
        """The page's records, text cleaned; any parser failure is a ParseError naming the page."""
        if not page.body.strip():
            return []
        try:
            parsed = self.parser(page.body, origin, self.spec.parser_options)
        except ParseError:
            raise
        except Exception as exc:
            log.exception("%s: the %s parser failed on %s", self.spec.name, self.spec.format, origin)
            raise ParseError(origin, None, f"the parser could not read it ({type(exc).__name__}: {exc})") from None
        cleaning = CleaningReport()
        records = clean_records(parsed.records, cleaning)
        if cleaning.characters:
            log.warning("%s: %s: %s", self.spec.name, origin, cleaning.warning())
        return records

    def _write(self, load_id: str, origin: str, records: list[dict[str, Any]], body: bytes) -> int:
        """COPY the rows inside the page's transaction, under a savepoint: rows the database refuses quarantine the
        page (the watermark still moves past it) instead of failing the pull."""
        if not records:
            return 0
        try:
            with self.conn.transaction():
                return copy_records(self.conn, self.spec.raw_table, load_id, origin, records)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            problem = (exc.diag.message_primary or str(exc)).strip()
            self.conn.execute(
                "update raw._loads set status = 'quarantined', rows_landed = 0, error = %s where load_id = %s",
                (f"{origin}: the database refused the page: {problem}", load_id),
            )
            save_quarantined(self.spec, paths().landing_for(self.spec.name), origin, body, problem)
            self.report.quarantined.append(f"{origin}: {problem}")
            return 0

    def quarantine(self, origin: str, body: bytes, error: str) -> None:
        """Journal a page the parser rejects and keep its body beside a ``.error`` note; the pull goes on."""
        log.error("%s: quarantined page %s: %s", self.spec.name, origin, error)
        with _transaction(self.conn):
            self.conn.execute(
                "insert into raw._loads (load_id, source, origin, content_hash, status, error, started_at)"
                " values (%s, %s, %s, %s, 'quarantined', %s, now())",
                (str(uuid.uuid4()), self.spec.name, origin, content_hash(body), error),
            )
        save_quarantined(self.spec, paths().landing_for(self.spec.name), origin, body, error)
        self.report.quarantined.append(error)


def _new_records(conn: psycopg.Connection, table: str, records: list[dict[str, Any]]) -> tuple[list[dict], int]:
    """The records whose external id is not in ``raw.<table>`` yet (nor earlier in the same page)."""
    ids = sorted({r["external_id"] for r in records if r.get("external_id") is not None})
    existing: set[str] = set()
    if ids:
        query = sql.SQL("select distinct record->>'external_id' from {table} where record->>'external_id' = any(%s)")
        rows = conn.execute(query.format(table=sql.Identifier(RAW_SCHEMA, table)), (ids,)).fetchall()
        existing = {row[0] for row in rows}
    new, skipped = [], 0
    for record in records:
        ident = record.get("external_id")
        if ident is not None and ident in existing:
            skipped += 1
            continue
        if ident is not None:
            existing.add(ident)
        new.append(record)
    return new, skipped


# ----------------------------------------------------------------------------------------- cursor pagination


def _pull_starting_after(pull: _Pull, position: Watermark) -> None:
    """Stripe: newest first, so the watermark moves only when the last page is in; a crash resumes mid-list."""
    state = _state(position.cursor)
    if state is not None:
        gte, after, high = state.get("gte"), state.get("after"), _parse_time(state.get("high"))
    else:
        start = pull.start(position, None)
        gte, after, high = (int(start.timestamp()) if start else None), None, position.watermark
    resumed = after is not None
    while True:
        params = {"limit": min(pull.api.page_size, 100), "created[gte]": gte, "starting_after": after}
        try:
            page = pull.client.get_json(pull.api.path, params, validate=_list_of("data", "has_more"))
        except ApiError as exc:
            if not (resumed and _cursor_refused(pull, exc)):
                raise
            resumed, after = False, None  # restart the interrupted run from its first page
            continue
        resumed = False
        items = page.document["data"]
        for item in items:
            created = item.get("created") if isinstance(item, dict) else None
            if isinstance(created, int) and not isinstance(created, bool):
                high = _latest(high, datetime.fromtimestamp(created, tz=UTC))
        if page.document.get("has_more") and items:
            last = items[-1].get("id") if isinstance(items[-1], dict) else None
            if not last or last == after:
                raise PullError(f"{pull.spec.name}: pagination does not advance at {page.url}")
            after = last
            cursor = json.dumps({"gte": gte, "after": after, "high": high.isoformat() if high else None})
            pull.land(page, cursor=cursor, previous=position)
        else:
            pull.land(page, watermark=high, cursor=None, previous=position)
            return


def _pull_next_cursor(pull: _Pull, position: Watermark) -> None:
    """Billing: oldest update first, so the watermark follows each page; a crash resumes at the stored cursor."""
    state = _state(position.cursor)
    if state is not None:
        since, token = state.get("since"), state.get("cursor")
    else:
        start = pull.start(position, None)
        since, token = (_iso(start) if start else None), None
    high = position.watermark
    resumed = token is not None
    while True:
        params = {"limit": min(pull.api.page_size, 500), "updated_since": since, "cursor": token}
        try:
            page = pull.client.get_json(pull.api.path, params, validate=_list_of("data"))
        except ApiError as exc:
            if not (resumed and _cursor_refused(pull, exc)):
                raise
            resumed, token = False, None  # restart from updated_since
            continue
        resumed = False
        items = page.document["data"]
        for item in items:
            if isinstance(item, dict):
                high = _latest(high, _parse_time(item.get("updated_at") or item.get("received_at")))
        following = page.document.get("next_cursor")
        if following and items:
            if following == token:
                raise PullError(f"{pull.spec.name}: pagination does not advance at {page.url}")
            token = following
            pull.land(page, watermark=high, cursor=json.dumps({"since": since, "cursor": token}), previous=position)
        else:
            pull.land(page, watermark=high, cursor=None, previous=position)
            return


def _cursor_refused(pull: _Pull, exc: ApiError) -> bool:
    """A stored cursor the API no longer accepts (expired, or its object is gone): the run restarts, not sticks."""
    if isinstance(exc, ApiAuthError) or exc.status not in (400, 404, 410):
        return False
    log.warning("%s: the stored cursor was refused (%s); restarting the interrupted run", pull.spec.name, exc)
    return True


# ----------------------------------------------------------------------------------------- date windows


@dataclass(frozen=True)
class _WindowStyle:
    from_param: str
    to_param: str
    items: str
    dates_only: bool  # date parameters with an inclusive end (else timestamps, half-open)
    max_window: timedelta | None


_WINDOW_STYLES = {
    "paypal_json": _WindowStyle("start_date", "end_date", "transaction_details", False, PAYPAL_MAX_WINDOW),
    "expenses_json": _WindowStyle("posted_from", "posted_to", "data", True, None),
}


def _windows(pull: _Pull, start: datetime, style: _WindowStyle) -> Iterator[tuple[Any, Any, datetime]]:
    """(from, to, watermark once done) for each window between ``start`` and ``now``."""
    span = pull.api.window if style.max_window is None else min(pull.api.window, style.max_window)
    if style.dates_only:
        days = max(span.days, 1)
        first, today = start.astimezone(UTC).date(), pull.now.date()
        while first <= today:
            last = min(first + timedelta(days=days - 1), today)
            done = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
            yield first.isoformat(), last.isoformat(), min(done, pull.now)
            first = last + timedelta(days=1)
        return
    begin = start.replace(microsecond=0)
    while begin < pull.now:
        end = min(begin + span, pull.now)
        yield _paypal_time(begin), _paypal_time(end), end
        begin = end


def _pull_windows(pull: _Pull, position: Watermark) -> None:
    style = _WINDOW_STYLES[pull.spec.format]
    start = pull.start(position, pull.now - DEFAULT_BACKFILL)
    assert start is not None
    for first, last, done in _windows(pull, start, style):
        number = 1
        while True:
            params = {
                style.from_param: first,
                style.to_param: last,
                "page": number,
                "page_size": min(pull.api.page_size, 500),
            }
            page = pull.client.get_json(pull.api.path, params, validate=_list_of(style.items))
            total = page.document.get("total_pages")
            items = page.document[style.items]
            more = isinstance(total, int) and number < total and bool(items)
            if more:
                window = json.dumps({"window": [first, last], "page": number})
                pull.land(page, cursor=window, previous=position)
                number += 1
            else:
                pull.land(page, watermark=done, cursor=None, previous=position)
                position = Watermark(position.source, _latest(position.watermark, done), None)
                break


# ----------------------------------------------------------------------------------------- report downloads


def _pull_reports(pull: _Pull, position: Watermark) -> None:
    """List the reports and land each one not landed (or quarantined) before; the watermark is the newest seen."""
    conn, spec = pull.conn, pull.spec
    listing = pull.client.get_json(pull.api.path, validate=_list_of("data"))
    entries = [e for e in listing.document["data"] if isinstance(e, dict) and e.get("name")]
    entries.sort(key=lambda e: (str(e.get("modified_at") or ""), str(e["name"])))
    high = position.watermark
    for entry in entries:
        name = str(entry["name"])
        modified = _parse_time(entry.get("modified_at"))
        digest = entry.get("sha256")
        known = _journaled(conn, spec.name, digest=str(digest)) if digest else False
        if not digest and modified is not None and position.watermark is not None and modified <= position.watermark:
            known = _journaled(conn, spec.name, origin=name)
        landed = 0
        if not known:
            download = pull.client.get_bytes(f"{pull.api.path.rstrip('/')}/{quote(name)}")
            outcome = land_bytes(conn, spec, name, download.body)
            _finish(conn)
            landed = outcome.rows
            known = outcome.status == "already_landed"
            if outcome.status == "quarantined":
                pull.report.quarantined.append(outcome.error or name)
                save_quarantined(spec, paths().landing_for(spec.name), name, download.body, outcome.error or "")
        high = _latest(high, modified)
        with _transaction(conn):
            set_watermark(conn, spec.name, high, None)
        pull.report.pages += 1
        pull.report.pages_already_landed += int(known)
        pull.report.rows_landed += landed
        if pull.on_page is not None:
            pull.on_page(PageOutcome(spec.name, name, landed, landed, 0, known))


def _journaled(conn: psycopg.Connection, source: str, *, digest: str | None = None, origin: str | None = None) -> bool:
    column = "content_hash" if digest is not None else "origin"
    query = sql.SQL("select 1 from raw._loads where source = %s and {column} = %s limit 1").format(
        column=sql.Identifier(column)
    )
    return conn.execute(query, (source, digest if digest is not None else origin)).fetchone() is not None


# ----------------------------------------------------------------------------------------- plumbing

_CURSOR_DIALECTS: dict[str, Callable[[_Pull, Watermark], None]] = {
    "stripe_json": _pull_starting_after,
    "billing_json": _pull_next_cursor,
}


def _puller_for(spec: SourceSpec) -> Callable[[_Pull, Watermark], None]:
    assert spec.api is not None
    pagination = spec.api.pagination
    if pagination == "report_download":
        return _pull_reports
    if pagination == "cursor" and spec.format in _CURSOR_DIALECTS:
        return _CURSOR_DIALECTS[spec.format]
    if pagination == "date_window" and spec.format in _WINDOW_STYLES:
        return _pull_windows
    known = sorted(_CURSOR_DIALECTS) if pagination == "cursor" else sorted(_WINDOW_STYLES)
    raise ValueError(f"{spec.name}: no {pagination} connector for format {spec.format!r} (known: {known})")


def _prepare(conn: psycopg.Connection, spec: SourceSpec) -> None:
    ensure_raw_schema(conn)
    ensure_raw_table(conn, spec.raw_table)
    ensure_watermarks(conn)
    conn.execute(
        sql.SQL("create index if not exists {index} on {table} ((record->>'external_id'))").format(
            index=sql.Identifier(f"{spec.raw_table}_external_id"), table=sql.Identifier(RAW_SCHEMA, spec.raw_table)
        )
    )
    _finish(conn)


@contextmanager
def _transaction(conn: psycopg.Connection) -> Iterator[None]:
    """A real top-level transaction (committed at the end), whether or not the connection autocommits."""
    _finish(conn)
    with conn.transaction():
        yield


def _finish(conn: psycopg.Connection) -> None:
    status = conn.info.transaction_status
    if status == TransactionStatus.INTRANS:
        conn.commit()
    elif status == TransactionStatus.INERROR:
        conn.rollback()


def _run(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> None:
    conn.execute(query, params)
    _finish(conn)


def _unlock(conn: psycopg.Connection, key: str) -> None:
    if conn.closed:
        return
    try:
        _finish(conn)
        _run(conn, "select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
    except psycopg.Error as exc:  # the session ends with the connection anyway
        log.warning("could not release the pull lock %s: %s", key, exc)


def _list_of(key: str, *flags: str) -> Callable[[Any], None]:
    def validate(document: Any) -> None:
        if not isinstance(document, dict) or not isinstance(document.get(key), list):
            raise InvalidResponse(f"expected a JSON object with a {key!r} array")
        missing = [flag for flag in flags if flag not in document]
        if missing:
            raise InvalidResponse(f"response lacks {missing}")

    return validate


def _origin(url: str) -> str:
    """The journal's origin of a page: its path and query (no host: ports and hosts change, secrets are masked)."""
    parts = urlsplit(url)
    return f"GET {parts.path}" + (f"?{parts.query}" if parts.query else "")


def _state(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
    except ValueError:
        log.warning("ignoring an unreadable cursor %r", cursor[:80])
        return None
    return state if isinstance(state, dict) else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _paypal_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
