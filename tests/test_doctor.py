"""``finflow doctor`` on real parts: an embedded PostgreSQL of its own (running, then stopped), the simulated source
APIs over HTTP, and an SMTP port nobody listens on."""

from __future__ import annotations

import socket

import pytest

from finflow_assets.doctor import Check, check_notifications, check_sources, run_checks

API_SOURCES = ("stripe", "paypal", "adyen", "billing", "expenses")


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """A data folder of its own, with nothing configured from the developer's environment."""
    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path / "data"))
    for name in ("FINFLOW_DATABASE_URL", "MLFLOW_TRACKING_URI", "FINFLOW_SMTP_HOST", "FINFLOW_SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for source in API_SOURCES:
        monkeypatch.delenv(f"FINFLOW_{source.upper()}_API_URL", raising=False)
        monkeypatch.delenv(f"FINFLOW_{source.upper()}_API_KEY", raising=False)
    from finflow_assets.settings import paths

    return paths().ensure()


def _by_name(results: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in results}


def test_a_stopped_database_is_named_with_its_fix(own_home, capsys) -> None:
    from finflow_assets.cli import main
    from finflow_assets.warehouse import embedded

    embedded.start(own_home.pgdata)
    try:
        assert main(["doctor"]) == 0, capsys.readouterr().out
        database = _by_name(run_checks())["database"]
        assert database.status != "FAIL" and "embedded PostgreSQL" in database.detail
        capsys.readouterr()
    finally:
        embedded.stop(own_home.pgdata)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  database" in out and "embedded PostgreSQL is stopped" in out
    assert "fix: finflow db start" in out and out.rstrip().endswith("1 problem(s): database")


def test_api_sources_are_reached_with_their_keys(own_home, monkeypatch) -> None:
    from finflow_simulator.api_server import serve

    assert [c.status for c in check_sources() if c.name == "API sources"] == ["note"]  # none configured: optional
    with serve(own_home.simulator / "api") as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        results = _by_name(check_sources())
        assert {results[f"source {s}"].status for s in API_SOURCES} == {"ok"}, results
        monkeypatch.setenv("FINFLOW_STRIPE_API_KEY", "not-the-key")
        monkeypatch.delenv("FINFLOW_PAYPAL_API_KEY")
        results = _by_name(check_sources())
    stripe, paypal = results["source stripe"], results["source paypal"]
    assert stripe.status == "FAIL" and "refused the key" in stripe.detail and "FINFLOW_STRIPE_API_KEY" in stripe.fix
    assert paypal.status == "FAIL" and paypal.detail == "FINFLOW_PAYPAL_API_KEY is not set"


def test_an_unreachable_or_misconfigured_mail_server_is_named(own_home, monkeypatch) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FINFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINFLOW_SMTP_PORT", str(port))
    (mail,) = check_notifications()
    assert mail.status == "FAIL" and f"smtp://127.0.0.1:{port}" in mail.detail and "FINFLOW_SMTP_HOST" in mail.fix
    monkeypatch.setenv("FINFLOW_SMTP_TLS", "maybe")
    (config,) = check_notifications()
    assert config.status == "FAIL" and "FINFLOW_SMTP_TLS" in config.detail
