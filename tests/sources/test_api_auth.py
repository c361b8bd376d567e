"""Vendor authentication against the simulator's real HTTP endpoints: PayPal OAuth2 client credentials (token
caching, refresh on expiry and on a 401), Stripe secret/restricted keys and Stripe-Account, Adyen API key and basic
auth; wrong credentials fail at once with a clear error that names the source and its variables, never a value."""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from finflow_assets.resources import WarehouseResource
from finflow_assets.sources.assets import source_assets
from finflow_assets.sources.connectors import ApiAuthError, ApiConfigError
from finflow_assets.sources.registry import get_source
from finflow_assets.warehouse import connect
from finflow_simulator.api_server import append_jsonl, serve

from ..conftest import fresh_database
from .test_api_connectors import isolated, key_env, landed_ids, pull
from .test_api_server import BUILDERS, adyen_report, make_objects, object_id


def _paypal(api_dir: Path, count: int = 120, **kwargs) -> list[str]:
    objects = make_objects("paypal", count, **kwargs)
    append_jsonl(api_dir, "paypal", objects)
    return [object_id("paypal", o) for o in objects]


def test_paypal_token_is_fetched_once_and_refreshed_after_a_401(tmp_path: Path, db, monkeypatch, caplog) -> None:
    ids = _paypal(tmp_path)
    caplog.set_level(logging.DEBUG)
    with serve(tmp_path) as server:
        spec = isolated("paypal", server, monkeypatch)
        expired: list[int] = []

        def expire_once(outcome) -> None:
            if not expired:  # the server drops every token after the first page (a key rotation)
                server.expire_tokens()
                expired.append(1)

        report = pull(db, spec, on_page=expire_once)
        tokens = list(server._access_tokens)
    assert sorted(landed_ids(db, spec)) == sorted(ids)
    assert report.token_refreshes == 1 and report.retries == 0
    assert server.requests["token"] == 2 and server.requests["token_expired"] == 1
    assert server.requests["unauthorized"] == 0
    for secret in [*tokens, server.tokens["paypal"]]:
        assert secret not in caplog.text and secret not in str(report.metadata())


def test_paypal_token_is_cached_and_renewed_before_it_expires(tmp_path: Path, db, monkeypatch) -> None:
    _paypal(tmp_path, 40)
    with serve(tmp_path, token_ttl=0.6) as server:
        spec = isolated("paypal", server, monkeypatch)
        first = pull(db, spec)
        second = pull(db, spec)  # within the lifetime: the cached token, no new one
        assert server.requests["token"] == 1
        time.sleep(0.6)
        third = pull(db, spec)  # expired by now: renewed before the request, so the server never says 401
        assert server.requests["token"] == 2
    assert server.requests["token_expired"] == 0 and server.requests["unauthorized"] == 0
    assert first.rows_landed == 40 and second.rows_landed == 0 and third.rows_landed == 0
    assert first.token_refreshes == second.token_refreshes == third.token_refreshes == 0


def test_a_refused_refresh_is_one_attempt_not_a_retry_storm(tmp_path: Path, db, monkeypatch) -> None:
    _paypal(tmp_path, 10)
    with serve(tmp_path, token_ttl=0) as server:  # every token is already expired when it arrives
        spec = isolated("paypal", server, monkeypatch)
        with pytest.raises(ApiAuthError) as error:
            pull(db, spec)
    assert server.requests["token"] == 2 and server.requests["token_expired"] == 2
    assert server.requests["total"] == 4  # token, data (401), token again, data (401): then it stops
    assert error.value.status == 401 and error.value.report.retries == 0
    assert str(error.value).startswith(f"{spec.name}: GET ")


def test_wrong_paypal_client_secret_is_a_clear_error(tmp_path: Path, db, monkeypatch) -> None:
    _paypal(tmp_path, 10)
    with serve(tmp_path) as server:
        spec = isolated("paypal", server, monkeypatch)
        monkeypatch.setenv(key_env(spec), "not-the-secret-0123")
        with pytest.raises(ApiAuthError) as error:
            pull(db, spec)
    message = str(error.value)
    assert message.startswith(f"{spec.name}: POST {server.url}/paypal/v1/oauth2/token: 401")
    assert spec.api.auth.env["client_id"] in message and spec.api.auth.env["client_secret"] in message
    assert "not-the-secret" not in message and server.requests["total"] == 1
    monkeypatch.delenv(spec.api.auth.env["client_id"])
    with pytest.raises(ApiConfigError, match=spec.api.auth.env["client_id"]):
        pull(db, spec)


def test_stripe_restricted_key_and_connected_account(tmp_path: Path, db, monkeypatch) -> None:
    objects = make_objects("stripe", 30)
    append_jsonl(tmp_path, "stripe", objects)
    with serve(tmp_path) as server:
        spec = isolated("stripe", server, monkeypatch)
        monkeypatch.setenv(key_env(spec), server.stripe_restricted_key)
        monkeypatch.setenv(spec.api.auth.env["account"], "acct_sim_connected")
        assert pull(db, spec).rows_landed == 30
        monkeypatch.setenv(spec.api.auth.env["account"], "acct_someone_else")
        with pytest.raises(ApiAuthError) as error:
            pull(db, spec)
        assert error.value.status == 403 and server.requests["forbidden"] == 1
        assert spec.api.auth.env["account"] in str(error.value)
        total = server.requests["total"]
        monkeypatch.setenv(key_env(spec), "pk_test_publishable0123")
        with pytest.raises(ApiConfigError, match="publishable key"):
            pull(db, spec)
        assert server.requests["total"] == total  # refused before any request


def test_adyen_api_key_or_basic_auth(tmp_path: Path, db, monkeypatch) -> None:
    (tmp_path / "adyen").mkdir()
    (tmp_path / "adyen" / "settlement_detail_report_batch_1.csv").write_bytes(adyen_report(1, 5))
    with serve(tmp_path) as server:
        spec = isolated("adyen", server, monkeypatch)  # X-API-Key
        assert pull(db, spec).rows_landed == 6
        env = spec.api.auth.env
        monkeypatch.delenv(env["key"])
        user, password = server.adyen_user
        monkeypatch.setenv(env["username"], user)
        monkeypatch.setenv(env["password"], "wrong-password")
        with pytest.raises(ApiAuthError) as error:
            pull(db, spec)
        assert env["username"] in str(error.value) and "wrong-password" not in str(error.value)
        assert server.requests["unauthorized"] == 1
        monkeypatch.setenv(env["password"], password)
        (tmp_path / "adyen" / "settlement_detail_report_batch_2.csv").write_bytes(adyen_report(2, 5))
        assert pull(db, spec).rows_landed == 6  # basic auth reads the new report


def test_token_expiry_does_not_fail_a_tick(tmp_path: Path, finflow_home, monkeypatch) -> None:
    """The raw_paypal asset, materialized tick after tick while the OAuth2 server expires its tokens: every tick
    succeeds and lands what is new."""
    now = datetime.now(UTC)
    start = (now - timedelta(days=3)).replace(microsecond=0)
    first = _paypal(tmp_path, 50, start=start, days=2)
    asset = next(a for a in source_assets if a.key == dg.AssetKey(get_source("paypal").asset_name))
    with fresh_database("test_api_auth_ticks"), serve(tmp_path, token_ttl=3600) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        ticks = []
        for tick in range(3):
            if tick == 1:
                server.expire_tokens()  # the cached token is refused on the next tick's first request
            if tick == 2:
                late = datetime.now(UTC) - timedelta(minutes=30)  # inside the re-read overlap of the watermark
                rng = random.Random(2)
                append_jsonl(tmp_path, "paypal", [BUILDERS["paypal"](1000 + i, late, rng, "") for i in range(20)])
            result = dg.materialize([asset], resources={"warehouse": WarehouseResource()}, raise_on_error=False)
            assert result.success, tick
            ticks.append(result.asset_materializations_for_node(asset.node_def.name)[0].metadata)
        with connect(os.environ["FINFLOW_DATABASE_URL"]) as conn:
            landed = conn.execute("select count(*) from raw.paypal").fetchone()[0]
    assert [m["rows_landed"].value for m in ticks] == [50, 0, 20]
    assert [m["token_refreshes"].value for m in ticks] == [0, 1, 0]
    assert landed == len(first) + 20 and server.requests["token_expired"] == 1
