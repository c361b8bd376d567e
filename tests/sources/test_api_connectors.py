"""API connectors end to end: the real simulated server (with faults), the real client, the real embedded Postgres.

Each test pulls into its own copy of a registry source (``<source>_<random>``: own raw table, journal entries and
watermark), so tests stay independent inside the one session database. Backoffs and timeouts are shrunk through
``RetryPolicy`` so the file runs in seconds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from finflow_assets.sources.assets import delivered_version
from finflow_assets.sources.connectors import (
    ApiAuthError,
    ApiConfigError,
    ApiError,
    PageOutcome,
    PullReport,
    RetryPolicy,
    get_watermark,
    pull_source,
)
from finflow_assets.sources.parsers import PARSERS, get_parser
from finflow_assets.sources.parsers.base import RECORD_FIELDS, ParseError
from finflow_assets.sources.raw_tables import ensure_raw_schema
from finflow_assets.sources.registry import AuthSpec, SourceSpec, get_source
from finflow_assets.warehouse import connect
from finflow_simulator.api_objects import BILLING_PAYMENT, EXPENSES_TRANSACTION
from finflow_simulator.api_server import FaultConfig, Server, append_jsonl, serve

from .test_api_server import BUILDERS, DAYS, START, make_objects, object_id, write_dataset

FAST = RetryPolicy(
    attempts=10, backoff_initial=0.005, backoff_max=0.05, retry_after_max=0.1, timeout=0.3, connect_timeout=1.0
)
# every fault kind early (scripted), then seeded random ones all along
FAULTS = FaultConfig(
    seed=11,
    rate_limit=0.08,
    server_error=0.08,
    slow=0.02,
    truncate=0.08,
    retry_after=0.02,
    slow_seconds=1.0,
    script=("rate_limit", "server_error", "truncate", "slow", "truncate", "truncate"),
)
NOW = START + timedelta(days=DAYS)
COUNTS = {"stripe": 260, "paypal": 220, "billing": 240, "expenses": 200, "adyen": 3}
JSON_SOURCES = ("stripe", "paypal", "billing", "expenses")


@pytest.fixture
def api(tmp_path: Path) -> tuple[Path, dict[str, list[str]]]:
    return tmp_path, write_dataset(tmp_path, COUNTS)


def isolated(source: str, server: Server, monkeypatch: pytest.MonkeyPatch, page_size: int = 20) -> SourceSpec:
    """A private copy of a registry source: own raw table and watermark, env vars pointing at the server."""
    spec = get_source(source)
    assert spec.api is not None
    name = f"{source}_{uuid.uuid4().hex[:8]}"
    prefix = f"FINFLOW_TEST_{name.upper()}"
    api = dataclasses.replace(
        spec.api,
        page_size=page_size,
        base_url_env=f"{prefix}_URL",
        auth=AuthSpec.named(spec.api.auth.scheme, prefix),
    )
    monkeypatch.setenv(api.base_url_env, server.base_url(source))
    for suffix, value in server.credentials(source).items():
        monkeypatch.setenv(prefix + suffix, value)
    return dataclasses.replace(spec, name=name, api=api)


def key_env(spec: SourceSpec) -> str:
    """The variable of the source's main secret (API key; PayPal: client secret)."""
    assert spec.api is not None
    return spec.api.auth.env.get("key") or spec.api.auth.env["client_secret"]


def pull(conn, spec: SourceSpec, **kwargs) -> PullReport:
    return pull_source(conn, spec, now=kwargs.pop("now", NOW), since=START, retry=kwargs.pop("retry", FAST), **kwargs)


def landed_ids(db, spec: SourceSpec) -> Counter[str]:
    rows = db.execute(f"select record->>'external_id' from raw.{spec.raw_table}").fetchall()
    return Counter(row[0] for row in rows)


def assert_exactly_once(db, spec: SourceSpec, expected: list[str]) -> None:
    counts = landed_ids(db, spec)
    assert set(counts) == set(expected), (
        f"missing {len(set(expected) - set(counts))}, extra {set(counts) - set(expected)}"
    )
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]


def _dumps(obj: object) -> str:
    return json.dumps(obj)


class Crash(RuntimeError):
    pass


def crash_after(pages: int):
    seen: list[PageOutcome] = []

    def hook(outcome: PageOutcome) -> None:
        seen.append(outcome)
        if len(seen) == pages:
            raise Crash(f"killed after {pages} pages")

    return hook


# ----------------------------------------------------------------------------------------- parsers


def test_billing_and_expenses_parsers_map_the_api_objects() -> None:
    assert PARSERS["billing_json"] and PARSERS["expenses_json"]
    refund = BILLING_PAYMENT | {"id": "pay_2", "kind": "refund", "amount": "75.10"}  # positive refund: still money out
    body = f'{{"object": "list", "data": [{_dumps(BILLING_PAYMENT)}, {_dumps(refund)}], "next_cursor": null}}'
    payment, refunded = get_parser("billing_json")(body.encode(), "page", {}).records
    assert set(payment) == set(RECORD_FIELDS)
    assert (payment["external_id"], payment["amount"], payment["currency"], payment["booked_date"]) == (
        "pay_000123",
        "1250.00",
        "USD",
        "2026-10-01",
    )
    assert (payment["counterparty"], payment["reference"], payment["transaction_type"]) == (
        "Globex Inc",
        "INV-20418",
        "payment",
    )
    assert payment["description"] == "WIRE REF 8812 INV-20418" and payment["extra"]["method"] == "wire"
    assert (refunded["amount"], refunded["row"]) == ("-75.10", 2)

    jpy = EXPENSES_TRANSACTION | {"id": "exp_2", "amount": {"amount": 5000, "currency": "JPY"}, "type": "refund"}
    purchase, refund_jpy = get_parser("expenses_json")(
        f"[{_dumps(EXPENSES_TRANSACTION)}, {_dumps(jpy)}]".encode(), "p", {}
    ).records
    assert (purchase["external_id"], purchase["amount"], purchase["booked_date"], purchase["counterparty"]) == (
        "exp_9f8e7d",
        "-432.10",
        "2026-10-01",
        "UNITED AIRLINES",
    )
    assert purchase["extra"]["mcc"] == "3000" and purchase["description"] == "Flight SFO-JFK customer visit"
    assert (refund_jpy["amount"], refund_jpy["currency"]) == ("5000", "JPY")
    assert Decimal(purchase["amount"]) == Decimal("-432.10")


@pytest.mark.parametrize(
    ("fmt", "body", "row", "problem"),
    [
        ("billing_json", b'{"data": [{"id": "p1"}]}', 1, "'kind' is missing"),
        ("billing_json", b'{"data": [{}, {"id": "p", "kind": "payment", "amount": "1,00"}]}', 1, "missing"),
        ("billing_json", b'[{"id": "p", "kind": "payment", "amount": "x", "currency": "USD"}]', 1, "not a decimal"),
        ("billing_json", b'{"data": [{"id": "p1", "kind": "payment", "amount": "1', None, "truncated"),
        ("expenses_json", f'{{"data": [{_dumps(EXPENSES_TRANSACTION)}, {{"type": "fee"}}]}}'.encode(), 2, "fee"),
        ("expenses_json", b'[{"id": "e", "type": "purchase", "amount": {"amount": 1.5, "currency": "USD"}}]', 1,
         "minor"),
    ],
)  # fmt: skip
def test_malformed_objects_are_parse_errors_with_the_row(fmt: str, body: bytes, row: int | None, problem: str) -> None:
    with pytest.raises(ParseError) as error:
        get_parser(fmt)(body, "page.json", {})
    assert error.value.row == row and problem in str(error.value)


# ----------------------------------------------------------------------------------------- exactly once under faults


@pytest.mark.parametrize("source", ["stripe", "paypal", "billing", "expenses", "adyen"])
def test_every_object_lands_exactly_once_under_faults_and_a_rerun_lands_nothing(
    source: str, api, db, monkeypatch
) -> None:
    api_dir, ids = api
    with serve(api_dir, FAULTS) as server:
        spec = isolated(source, server, monkeypatch)
        ensure_raw_schema(db)
        empty = delivered_version(db, spec.name)
        report = pull(db, spec)
        landed = delivered_version(db, spec.name)
        assert landed != empty  # rows landed: a new data version, so automation builds downstream
        for kind in ("rate_limit", "server_error", "truncate", "slow"):
            assert server.requests[kind] > 0, kind
        assert report.retries >= 6 and report.retry_reasons.get("timeout", 0) >= 1
        if source == "adyen":
            origins = db.execute(f"select origin, count(*) from raw.{spec.raw_table} group by 1 order by 1").fetchall()
            assert [(o, n) for o, n in origins] == [(f"settlement_detail_report_batch_{b}.csv", 13) for b in (1, 2, 3)]
            assert report.rows_landed == 39 and report.pages == 3
        else:
            assert_exactly_once(db, spec, ids[source])
            assert report.rows_landed == COUNTS[source] and report.pages >= COUNTS[source] // 20
        assert report.watermark_after is not None and report.watermark_before is None

        again = pull(db, spec)
        assert again.rows_landed == 0 and again.watermark_after == report.watermark_after
        assert delivered_version(db, spec.name) == landed  # nothing new: an idle tick triggers nothing downstream
        if source == "adyen":
            assert again.pages_already_landed == 3
        else:
            assert_exactly_once(db, spec, ids[source])
        loads = db.execute("select count(*) from raw._loads where source = %s", (spec.name,)).fetchone()[0]
        assert loads <= report.pages + again.pages  # empty pages are not journaled; nothing landed twice


# ----------------------------------------------------------------------------------------- crashes and restarts


@pytest.mark.parametrize("source", JSON_SOURCES)
def test_crash_mid_pull_then_rerun_lands_every_row_once(source: str, api, db, monkeypatch) -> None:
    api_dir, ids = api
    with serve(api_dir, FAULTS) as server:
        spec = isolated(source, server, monkeypatch)
        with pytest.raises(Crash):
            pull(db, spec, on_page=crash_after(3))
        partial = sum(landed_ids(db, spec).values())
        assert 0 < partial < COUNTS[source]
        position = get_watermark(db, spec.name)
        if source in ("stripe", "billing"):
            assert position.cursor is not None  # mid-list: the rerun resumes from the stored cursor
        report = pull(db, spec)
        assert_exactly_once(db, spec, ids[source])
        assert report.rows_landed == COUNTS[source] - partial
        if source in ("stripe", "billing"):
            assert report.pages == -(-COUNTS[source] // 20) - 3  # resumed, no page read twice
        assert get_watermark(db, spec.name).cursor is None


def test_a_stored_cursor_the_api_refuses_restarts_the_interrupted_run(tmp_path: Path, db, monkeypatch) -> None:
    objects = make_objects("stripe", 100)
    append_jsonl(tmp_path, "stripe", objects)
    with serve(tmp_path) as server:
        spec = isolated("stripe", server, monkeypatch)
        with pytest.raises(Crash):
            pull(db, spec, on_page=crash_after(2))
        gone = json.loads(get_watermark(db, spec.name).cursor)["after"]  # the object the cursor points at vanishes
        (tmp_path / "stripe.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objects if o["id"] != gone))
        report = pull(db, spec)
        assert server.requests["not_found"] == 1 and report.rows_landed == 60
        assert_exactly_once(db, spec, [o["id"] for o in objects])


def test_retry_budget_killed_mid_pull_then_rerun_lands_every_row_once(api, db, monkeypatch) -> None:
    api_dir, ids = api
    with serve(api_dir, FaultConfig(seed=5, rate_limit=0.05, retry_after=0.01)) as server:
        spec = isolated("paypal", server, monkeypatch)

        def outage_after_two_pages(outcome: PageOutcome, seen: list[str] = []) -> None:  # noqa: B006
            seen.append(outcome.origin)
            if len(seen) == 2:
                server.set_outage("paypal")

        small = dataclasses.replace(FAST, attempts=3)
        with pytest.raises(ApiError) as error:
            pull(db, spec, on_page=outage_after_two_pages, retry=small)
        assert error.value.report.pages == 2 and error.value.attempts == 3
        server.set_outage("paypal", False)
        pull(db, spec)
        assert_exactly_once(db, spec, ids["paypal"])


def test_a_page_the_parser_rejects_is_quarantined_and_the_pull_goes_on(tmp_path: Path, db, monkeypatch) -> None:
    objects = sorted(make_objects("billing", 30), key=lambda o: o["updated_at"])
    objects[25]["kind"] = "chargeback"  # on page 2 of 2 (page size 20, oldest update first)
    append_jsonl(tmp_path, "billing", objects)
    with serve(tmp_path) as server:
        spec = isolated("billing", server, monkeypatch)
        report = pull(db, spec)
        assert sum(landed_ids(db, spec).values()) == 20  # nothing of the rejected page lands
        assert len(report.quarantined) == 1 and "chargeback" in report.quarantined[0]
        journal = db.execute(
            "select status, error from raw._loads where source = %s order by finished_at", (spec.name,)
        ).fetchall()
        assert [status for status, _ in journal] == ["landed", "quarantined"] and "chargeback" in journal[1][1]
        from finflow_assets.settings import paths

        notes = list((paths().landing_for(spec.name) / "quarantine").glob("*.error"))
        assert any("chargeback" in note.read_text() for note in notes)
        kept = [note.with_name(note.name.removesuffix(".error")) for note in notes]
        assert any(b"chargeback" in path.read_bytes() for path in kept)  # the page's body is kept as evidence

        # the source is not blocked: what arrives next lands
        later = make_objects("billing", 35)[30:]
        for item in later:
            item["updated_at"] = "2099-01-01T00:00:00Z"
        append_jsonl(tmp_path, "billing", later)
        pull(db, spec)
        counts = landed_ids(db, spec)
        assert all(counts[object_id("billing", item)] == 1 for item in later)
        assert counts[object_id("billing", objects[25])] == 0 and max(counts.values()) == 1


# ----------------------------------------------------------------------------------------- incremental pulls


@pytest.mark.parametrize("source", JSON_SOURCES)
def test_new_objects_are_picked_up_incrementally_from_the_watermark(source: str, api, db, monkeypatch) -> None:
    api_dir, ids = api
    with serve(api_dir, FAULTS) as server, connect() as conn:  # a transactional (non-autocommit) connection
        spec = isolated(source, server, monkeypatch)
        first = pull(conn, spec)
        assert first.rows_landed == COUNTS[source]
        before = server.requests_by_source[source]

        # the simulator appends a new day, plus (for timestamped sources) a late arrival inside the overlap
        later = make_objects(source, 30, start=NOW, days=1, seed=9, tag="n", first=10_000)
        if source in ("stripe", "billing", "paypal"):
            late_moment = first.watermark_after - timedelta(minutes=20)
            later.append(BUILDERS[source](20_000, late_moment, random.Random(3), "late"))
        append_jsonl(api_dir, source, later)
        second = pull(conn, spec, now=NOW + timedelta(days=1))
        assert second.rows_landed == len(later)
        assert second.watermark_after > first.watermark_after
        assert server.requests_by_source[source] - before < 20  # only the new part is read
        assert_exactly_once(db, spec, ids[source] + [object_id(source, o) for o in later])  # committed: other conn


def test_date_window_pulls_never_ask_for_more_than_31_days(tmp_path: Path, db, monkeypatch) -> None:
    append_jsonl(tmp_path, "paypal", make_objects("paypal", 40, start=START - timedelta(days=60), days=60))
    with serve(tmp_path) as server:
        spec = isolated("paypal", server, monkeypatch)
        spec = dataclasses.replace(spec, api=dataclasses.replace(spec.api, window=timedelta(days=45)))
        report = pull_source(db, spec, now=START, since=START - timedelta(days=61), retry=FAST)
        assert report.rows_landed == 40 and server.requests["bad_request"] == 0


# ----------------------------------------------------------------------------------------- failures


def test_permanent_outage_fails_clearly_after_the_retry_budget(api, db, monkeypatch) -> None:
    api_dir, _ = api
    with serve(api_dir, FaultConfig(outages=frozenset({"billing"}))) as server:
        spec = isolated("billing", server, monkeypatch)
        started = time.monotonic()
        with pytest.raises(ApiError) as error:
            pull(db, spec, retry=dataclasses.replace(FAST, attempts=4))
        assert time.monotonic() - started < 3
        message = str(error.value)
        assert message.startswith(f"{spec.name}: GET {server.url}/billing/v1/payments?limit=20")
        assert "gave up after 4 attempts" in message and "503" in message and "outage" in message
        assert server.requests["outage"] == 4 and error.value.report.retries == 3
        assert get_watermark(db, spec.name).watermark is None


def test_wrong_token_is_a_clear_401_error_without_retries(api, db, monkeypatch) -> None:
    api_dir, _ = api
    with serve(api_dir) as server:
        spec = isolated("stripe", server, monkeypatch)
        monkeypatch.setenv(key_env(spec), "sk_wrong_0123456789")
        with pytest.raises(ApiAuthError) as error:
            pull(db, spec)
        assert error.value.status == 401 and server.requests["unauthorized"] == 1
        assert key_env(spec) in str(error.value) and "sk_wrong" not in str(error.value)


def test_token_is_never_logged_or_in_errors(tmp_path: Path, db, monkeypatch, caplog) -> None:
    secret = "sk_live_TOPSECRET_" + uuid.uuid4().hex
    append_jsonl(tmp_path, "stripe", make_objects("stripe", 60))
    caplog.set_level(logging.DEBUG)
    with serve(tmp_path, FAULTS, tokens={"stripe": secret}) as server:
        spec = isolated("stripe", server, monkeypatch)
        report = pull(db, spec)
        server.set_outage("stripe")
        with pytest.raises(ApiError) as error:
            pull(db, spec, retry=dataclasses.replace(FAST, attempts=2))
    assert report.retries > 0 and "retry" in caplog.text  # retries were logged ...
    for text in (caplog.text, str(error.value), repr(error.value), repr(report), str(report.metadata())):
        assert secret not in text  # ... without the token
    journal = db.execute("select string_agg(origin || coalesce(error, ''), ' ') from raw._loads").fetchone()[0]
    assert secret not in journal


def test_missing_settings_are_clear_errors(api, db, monkeypatch) -> None:
    api_dir, ids = api
    with serve(api_dir) as server:
        spec = isolated("expenses", server, monkeypatch)
        monkeypatch.delenv(spec.api.base_url_env)
        with pytest.raises(ApiConfigError, match=spec.api.base_url_env):
            pull(db, spec)
        assert pull(db, spec, base_url=server.base_url("expenses")).rows_landed == COUNTS["expenses"]
        monkeypatch.delenv(key_env(spec))
        with pytest.raises(ApiConfigError, match=key_env(spec)):
            pull(db, spec, base_url=server.base_url("expenses"))


def test_retry_after_is_honoured(api, db, monkeypatch) -> None:
    api_dir, _ = api
    faults = FaultConfig(script=("rate_limit", "rate_limit"), retry_after=0.3)
    with serve(api_dir, faults) as server:
        spec = isolated("billing", server, monkeypatch, page_size=500)
        report = pull(db, spec, retry=dataclasses.replace(FAST, retry_after_max=1.0))
        assert report.retry_reasons == {"429": 2} and report.duration_s >= 0.6
        assert report.rows_landed == COUNTS["billing"]


def test_a_source_down_for_hours_catches_up_its_backlog_in_order_when_back(api, db, monkeypatch) -> None:
    api_dir, ids = api
    with serve(api_dir) as server, connect(autocommit=True) as conn:
        spec = isolated("billing", server, monkeypatch)
        first = pull(conn, spec)
        # the source goes down for six hours while payments keep coming in on its side
        server.faults = FaultConfig(outages=frozenset({"billing"}))
        backlog = make_objects("billing", 150, start=NOW, days=1, seed=11, tag="b", first=30_000)
        append_jsonl(api_dir, "billing", backlog)
        for hour in range(1, 7):  # every tick of the outage fails clearly, lands nothing, keeps the watermark
            with pytest.raises(ApiError, match="503"):
                pull(conn, spec, now=NOW + timedelta(hours=hour), retry=dataclasses.replace(FAST, attempts=2))
            assert get_watermark(conn, spec.name).watermark == first.watermark_after
        assert sum(landed_ids(db, spec).values()) == COUNTS["billing"]

        server.faults = FaultConfig()  # back
        caught_up = pull(conn, spec, now=NOW + timedelta(days=1))
    assert caught_up.rows_landed == len(backlog)
    assert_exactly_once(db, spec, ids["billing"] + [object_id("billing", o) for o in backlog])
    # in order: the backlog landed oldest update first, so the watermark never ran ahead of a missing row
    updated = {object_id("billing", o): o["updated_at"] for o in backlog}
    landed = [
        row[0]
        for row in db.execute(
            f"select record->>'external_id' from raw.{spec.raw_table} order by ingested_at, load_id, source_row"  # noqa: S608
        )
        if row[0] in updated
    ]
    assert [updated[i] for i in landed] == sorted(updated[i] for i in landed)
    newest = datetime.fromisoformat(max(o["updated_at"] for o in backlog).replace("Z", "+00:00"))
    assert caught_up.watermark_after >= newest
