"""Notifications, delivered for real: e-mail to an SMTP server (aiosmtpd) and Slack JSON to an HTTP receiver, both
started here on 127.0.0.1; the outbox when nothing is configured; one failing channel never stops another."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import http.server
import ipaddress
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from finflow_assets.automation.alerts import send_daily_report
from finflow_assets.notify import (
    Notification,
    Notifier,
    NotifyConfigError,
    NotifySettings,
    mask_account,
    mask_accounts,
)
from finflow_assets.notify.resource import NotifierResource

PASSWORD = "pa55-w0rd-never-logged"
WEBHOOK_SECRET = "T000/B000/XXXXsecretXXXX"
NOTIFY_VARS = (
    "FINFLOW_SMTP_HOST",
    "FINFLOW_SMTP_PORT",
    "FINFLOW_SMTP_USER",
    "FINFLOW_SMTP_PASSWORD",
    "FINFLOW_SMTP_FROM",
    "FINFLOW_SMTP_TLS",
    "FINFLOW_SMTP_CA_FILE",
    "FINFLOW_REPORT_RECIPIENTS",
    "FINFLOW_ALERT_RECIPIENTS",
    "FINFLOW_SLACK_WEBHOOK_URL",
    "FINFLOW_NOTIFY_OUTBOX",
    "FINFLOW_DAGSTER_UI_URL",
    "FINFLOW_REVIEW_URL",
)


# --- a real SMTP server and a real webhook receiver, on loopback ----------------------------------------------------


def free_port() -> int:
    """A port nothing listens on (bound and released: a connection to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    login: str | None


@dataclass
class Inbox:
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        login = session.auth_data.login.decode() if getattr(session, "auth_data", None) else None
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, login))
        return "250 OK"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost (the client trusts it through FINFLOW_SMTP_CA_FILE)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextlib.contextmanager
def local_smtp_server(tls: str = "none", certificate: tuple[Path, Path] | None = None, password: str | None = None):
    """An aiosmtpd server on 127.0.0.1: plain, STARTTLS (required) or implicit TLS; with a login when ``password``."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox(port=free_port())

    def authenticator(server, session, envelope, mechanism, auth_data):
        login, secret = auth_data.login.decode(), auth_data.password.decode()
        inbox.logins.append((mechanism, login))
        return AuthResult(success=secret == password, auth_data=auth_data)

    kwargs: dict = {"ready_timeout": 10}
    context = None
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif tls == "ssl":
        kwargs.update(ssl_context=context, server_hostname="localhost")
    if password is not None:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls != "none")
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **kwargs)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class Webhook:
    url: str
    requests: list[dict] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)  # served in order, then 200 "ok"


@contextlib.contextmanager
def local_webhook():
    """An HTTP server on 127.0.0.1 standing in for Slack's incoming webhook."""
    hook = Webhook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests.append(
                {"path": self.path, "content_type": self.headers.get("Content-Type"), "json": json.loads(body)}
            )
            status, text = hook.answers.pop(0) if hook.answers else (200, "ok")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            if status == 503:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/{WEBHOOK_SECRET}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def notify_env(monkeypatch, tmp_path):
    """Nothing configured, and a data folder of the test's own (the outbox lives in it)."""
    for name in NOTIFY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "outbox"


def configure_smtp(monkeypatch, port: int, tls: str = "none", **extra: str) -> None:
    monkeypatch.setenv("FINFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINFLOW_SMTP_PORT", str(port))
    monkeypatch.setenv("FINFLOW_SMTP_TLS", tls)
    monkeypatch.setenv("FINFLOW_SMTP_FROM", "finflow@example.com")
    monkeypatch.setenv("FINFLOW_REPORT_RECIPIENTS", "cfo@example.com; controller@example.com")
    monkeypatch.setenv("FINFLOW_ALERT_RECIPIENTS", "oncall@example.com")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def report_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "category_summary.csv"
    csv_path.write_text("booked_date,category,transactions\n2024-05-02,payroll,12\n", encoding="utf-8")
    html_path = folder / "category_summary.html"
    html_path.write_text("<html><body><h1>Category summary</h1></body></html>", encoding="utf-8")
    return [csv_path, html_path]


# --- e-mail -----------------------------------------------------------------------------------------------------


def test_daily_report_is_emailed_over_starttls_with_login(monkeypatch, tmp_path, caplog, notify_env):
    certificate = self_signed_certificate(tmp_path)
    with local_smtp_server("starttls", certificate, password=PASSWORD) as inbox:
        configure_smtp(
            monkeypatch,
            inbox.port,
            "starttls",
            FINFLOW_SMTP_CA_FILE=str(certificate[0]),
            FINFLOW_SMTP_USER="finflow-bot",
            FINFLOW_SMTP_PASSWORD=PASSWORD,
        )
        caplog.set_level(logging.DEBUG)
        resource = NotifierResource()
        report = send_daily_report(
            resource,
            report_files(tmp_path / "reports"),
            report_date="2024-05-02",
            summary="1,204 transactions; 99.6% reconciled.",
            highlights=["3 items in the review queue"],
        )

    assert report.delivered and report.channels == ("smtp",), report.summary()
    assert [login for _, login in inbox.logins] == ["finflow-bot"]
    [received] = inbox.messages
    assert received.login == "finflow-bot"
    assert received.mail_from == "finflow@example.com"
    assert received.rcpt_tos == ["cfo@example.com", "controller@example.com"]
    message = received.message
    assert message["Subject"] == "[FinFlow report] Daily report 2024-05-02"
    assert message["To"] == "cfo@example.com, controller@example.com"
    plain = message.get_body(("plain",)).get_content()
    assert "99.6% reconciled" in plain
    # links to the review workspace, at its default address (FINFLOW_REVIEW_URL unset)
    assert "Dashboard: http://127.0.0.1:3001/dashboard" in plain and "Review queue: http://127.0.0.1:3001/" in plain
    html_part = message.get_body(("html",))
    assert html_part is not None and "<h1>FinFlow daily report, 2024-05-02</h1>" in html_part.get_content()
    assert '<a href="http://127.0.0.1:3001/dashboard">Dashboard</a>' in html_part.get_content()
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {"category_summary.csv", "category_summary.html"}
    assert attachments["category_summary.csv"].get_content_type() == "text/csv"
    assert "2024-05-02,payroll,12" in attachments["category_summary.csv"].get_content()
    assert not notify_env.exists()  # delivered: nothing in the outbox

    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(resource.notifier()) + repr(resource.notifier().settings)
    assert PASSWORD not in report.summary()


def test_email_over_implicit_tls(monkeypatch, tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with local_smtp_server("ssl", certificate) as inbox:
        configure_smtp(monkeypatch, inbox.port, "ssl", FINFLOW_SMTP_CA_FILE=str(certificate[0]))
        report = Notifier.from_env().send(Notification("alert", "Run failed: nightly", "Job: nightly"))
    assert report.channels == ("smtp",), report.summary()
    [received] = inbox.messages
    assert received.rcpt_tos == ["oncall@example.com"]  # alerts go to the alert recipients
    assert received.message["Subject"] == "[FinFlow alert] Run failed: nightly"
    assert received.message["X-Priority"] == "1"


def test_starttls_against_a_server_without_it_fails_clearly_and_keeps_the_message(monkeypatch, notify_env):
    with local_smtp_server("none") as inbox:
        configure_smtp(monkeypatch, inbox.port, "starttls")
        report = Notifier.from_env().send(Notification("alert", "Missed delivery: stripe", "stripe is late"))
    assert inbox.messages == []
    [smtp, outbox] = report.results
    assert not smtp.ok and "does not offer STARTTLS" in smtp.detail
    assert outbox.ok and report.delivered  # every configured channel failed: the outbox keeps it
    assert len(list(notify_env.glob("*.eml"))) == 1


def test_a_password_is_never_sent_in_clear_to_a_remote_server(monkeypatch, notify_env):
    monkeypatch.setenv("FINFLOW_SMTP_HOST", "smtp.example.invalid")
    monkeypatch.setenv("FINFLOW_SMTP_TLS", "none")
    monkeypatch.setenv("FINFLOW_SMTP_USER", "bot@example.com")
    monkeypatch.setenv("FINFLOW_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("FINFLOW_REPORT_RECIPIENTS", "cfo@example.com")
    report = Notifier.from_env().send(Notification("report", "Daily report", "text"))
    assert not report.results[0].ok and "refusing to send the SMTP password unencrypted" in report.results[0].detail
    assert report.channels == ("outbox",)


# --- Slack ------------------------------------------------------------------------------------------------------


def test_slack_webhook_gets_the_json_after_a_retry(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with local_webhook() as hook:
        hook.answers.append((503, "service unavailable"))  # with Retry-After: 0
        monkeypatch.setenv("FINFLOW_SLACK_WEBHOOK_URL", hook.url)
        text = "raw_bank_eu failed while landing a file for IBAN DE89 3704 0044 0532 0130 00 <today> & more"
        report = NotifierResource().send(Notification("alert", "Run failed: bank_eu", text))

    assert report.channels == ("slack",), report.summary()
    assert len(hook.requests) == 2  # the 503 was retried
    request = hook.requests[-1]
    assert request["path"] == f"/services/{WEBHOOK_SECRET}"
    assert request["content_type"] == "application/json"
    posted = request["json"]["text"]
    assert "*[FinFlow alert] Run failed: bank_eu*" in posted
    assert "****3000" in posted and "3704 0044" not in posted  # account numbers masked in alerts
    assert "&lt;today&gt; &amp; more" in posted  # Slack's escapes
    assert WEBHOOK_SECRET not in caplog.text and WEBHOOK_SECRET not in report.summary()


def test_slack_payload_of_a_report_names_the_attachments(monkeypatch, tmp_path):
    with local_webhook() as hook:
        monkeypatch.setenv("FINFLOW_SLACK_WEBHOOK_URL", hook.url)
        send_daily_report(Notifier.from_env(), report_files(tmp_path), report_date="2024-05-02", summary="All good.")
    posted = hook.requests[0]["json"]["text"]
    assert posted.startswith(":bar_chart: *[FinFlow report] Daily report 2024-05-02*")
    assert "All good." in posted and "category_summary.csv" in posted


def test_slack_webhook_must_be_https_unless_local(monkeypatch):
    monkeypatch.setenv("FINFLOW_SLACK_WEBHOOK_URL", f"http://hooks.slack.com/services/{WEBHOOK_SECRET}")
    with pytest.raises(NotifyConfigError) as error:
        NotifySettings.from_env()
    assert WEBHOOK_SECRET not in str(error.value)


# --- the outbox, and channels failing independently ----------------------------------------------------------------


def test_outbox_is_the_default_when_nothing_is_configured(notify_env):
    notifier = Notifier.from_env()
    assert not notifier.settings.configured
    report = notifier.send(
        Notification("alert", "Missed delivery: bank_operating", "account 12345678901 has had no file since Monday")
    )
    assert report.channels == ("outbox",) and not report.failures
    [eml] = notify_env.glob("*.eml")
    [payload] = notify_env.glob("*.json")
    assert not list(notify_env.glob(".*"))  # no half-written files left behind
    assert "-alert-missed-delivery-bank-operating-" in eml.name
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "[FinFlow alert] Missed delivery: bank_operating"
    body = message.get_body(("plain",)).get_content()
    assert "****8901" in body and "12345678901" not in body
    assert "Missed delivery: bank_operating" in json.loads(payload.read_text())["text"]


def test_a_failing_smtp_server_does_not_stop_slack(monkeypatch, notify_env):
    configure_smtp(monkeypatch, free_port())  # nothing listens there: connection refused
    with local_webhook() as hook:
        monkeypatch.setenv("FINFLOW_SLACK_WEBHOOK_URL", hook.url)
        report = Notifier.from_env().send(Notification("alert", "Run failed: erp_gl", "boom"))
    by_channel = {r.channel: r for r in report.results}
    assert not by_channel["smtp"].ok and "ConnectionRefusedError" in by_channel["smtp"].detail
    assert by_channel["slack"].ok and len(hook.requests) == 1
    assert "outbox" not in by_channel and not notify_env.exists()  # Slack delivered: no fallback needed


def test_a_failing_webhook_does_not_stop_email(monkeypatch, notify_env):
    with local_smtp_server() as inbox, local_webhook() as hook:
        hook.answers.append((404, "no_service"))  # a revoked webhook: not retried
        configure_smtp(monkeypatch, inbox.port)
        monkeypatch.setenv("FINFLOW_SLACK_WEBHOOK_URL", hook.url)
        report = Notifier.from_env().send(Notification("report", "Daily report 2024-05-02", "All good."))
    by_channel = {r.channel: r for r in report.results}
    assert by_channel["smtp"].ok and len(inbox.messages) == 1
    assert not by_channel["slack"].ok and "HTTP 404" in by_channel["slack"].detail and len(hook.requests) == 1
    assert WEBHOOK_SECRET not in by_channel["slack"].detail
    assert not notify_env.exists()


def test_outbox_always_keeps_a_copy_beside_delivery(monkeypatch, notify_env):
    with local_smtp_server() as inbox:
        configure_smtp(monkeypatch, inbox.port, FINFLOW_NOTIFY_OUTBOX="always")
        report = Notifier.from_env().send(Notification("report", "Daily report", "text"))
    assert report.channels == ("smtp", "outbox") and len(inbox.messages) == 1
    assert len(list(notify_env.glob("*.eml"))) == 1


# --- masking ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 SENT", "IBAN ****3000 SENT"),
        ("to GB29NWBK60161331926819.", "to ****6819."),
        ("account 12345678901 is late", "account ****8901 is late"),
        ("card 4111-1111-1111-1111", "card ****1111"),
        ("run 3f2a1b4c-1234-4abc-9def-012345678901 failed", "run 3f2a1b4c-1234-4abc-9def-012345678901 failed"),
        ("on 2024-05-02 amount 12345678.90, 1,234,567 rows, port 5432", None),
    ],
)
def test_account_numbers_are_masked_to_the_last_four(text, expected):
    assert mask_accounts(text) == (text if expected is None else expected)


def test_mask_account():
    assert mask_account("DE89 3704 0044 0532 0130 00") == "****3000"
    assert mask_account(12345678) == "****5678"
    assert mask_account("123") == "****"
