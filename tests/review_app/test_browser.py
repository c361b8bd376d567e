"""The review workspace as a person uses it: ``finflow review serve`` in a process of its own on a seeded
warehouse, headless Chromium (Debian's, driven by Playwright, as tests/ui does) signs in as a reviewer, approves a
suggestion, bulk-recategorizes one merchant's lines, picks the model's second category with the keyboard, clears an
anomaly, links an unmatched item and makes a rule;
the decisions are then read from the database. A viewer sees the dashboard (its figures equal the report's
headline SQL) and cannot POST. The server stops within 10 s of SIGTERM. ``FINFLOW_UPDATE_SCREENSHOT=1``
refreshes docs/images/review_queue.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from finflow_assets.warehouse import connect
from tests.conftest import REPO_ROOT
from tests.ui.test_dagster_ui import CHROMIUM_ARGS, find_chromium

from .seed import MERCHANT, MERCHANT_LINES, PASSWORD, seed

pytestmark = pytest.mark.timeout(300)
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "images" / "review_queue.png"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium: install Debian's chromium (make browser, as root) or set FINFLOW_CHROMIUM")
    pytest.importorskip("playwright.sync_api")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, tmp_path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "FINFLOW_DATABASE_URL": url,
        "PYTHONPATH": str(REPO_ROOT),
        "FINFLOW_REVIEW_SECRET": "test-secret-" + str(port),
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "finflow_assets.cli", "review", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"finflow review serve exited: {(tmp_path / 'serve.log').read_text()}")
        try:
            httpx.get(base + "/login", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("finflow review serve did not answer within 60 s")


@pytest.fixture
def server(review_url, tmp_path):
    with connect(review_url, autocommit=True) as conn:
        seed(conn, filler=40, reconciliation=True)  # a page that looks like a morning's queue
    process, base = start_server(review_url, tmp_path)
    yield base
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def sign_in(page, base: str, name: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_reviewer_and_viewer_in_the_browser(server, review_url, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    base = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
            sign_in(page, base, "rita")
            page.wait_for_selector("table.queue")
            assert page.evaluate("window.__xss") is None  # the <script> description did not run
            page.screenshot(path=tmp_path / "review_queue.png")
            if os.environ.get("FINFLOW_UPDATE_SCREENSHOT") == "1":
                shutil.copy(tmp_path / "review_queue.png", DOCS_SCREENSHOT)

            # approve one suggestion
            page.check("input[name=item][value='category:tx-101']")
            page.click("button[name=decision][value=approve]")
            assert "approve: 1 item(s) recorded by rita" in page.text_content(".flash")

            # bulk-recategorize one merchant's lines
            page.fill("input[name=q]", MERCHANT)
            page.click(".filters button[type=submit]")
            page.check("#select-all")
            page.fill("#bulk-category", "office_supplies_equipment")
            page.click("button[name=decision][value=recategorize]")
            assert f"{MERCHANT_LINES} item(s) recorded" in page.text_content(".flash")

            # the model's second category for one line, with the keyboard: j selects the row, 2 picks
            page.goto(base + "/?type=category&item=tx-102")
            assert "travel" in page.text_content("tr.item button[name=pick]")  # the model's first choice first
            page.keyboard.press("j")
            page.keyboard.press("2")
            page.wait_for_selector(".flash")
            assert "recategorize as meals_entertainment: 1 item(s)" in page.text_content(".flash")

            # clear the anomaly, with the keyboard: j selects the first row, n clears it
            page.goto(base + "/?type=anomaly")
            page.keyboard.press("j")
            page.keyboard.press("n")
            page.wait_for_selector(".flash")
            assert "not_anomalous: 1 item(s)" in page.text_content(".flash")

            # link the unmatched invoice to its closest candidate bank line
            page.goto(base + "/transactions/tx-odd")
            page.click("tr[data-candidate=r-bank-near] button")
            assert "linked r-invoice with r-bank-near by rita" in page.text_content(".flash")

            # make a rule from the transaction page
            page.goto(base + "/transactions/tx-1")
            assert "ACME OFFICE SUPPLY 1001" in page.text_content("h1")
            page.fill("#rule-form input[name=category]", "office_supplies_equipment")
            page.click("#rule-form button[type=submit]")
            assert "pending rule" in page.text_content(".flash")

            # a viewer: the dashboard's figures are the report's, and a POST is refused
            viewer = browser.new_context().new_page()
            sign_in(viewer, base, "vic")
            viewer.wait_for_url(base + "/dashboard")
            viewer.wait_for_selector(".card[data-figure=transactions]")
            shown = viewer.text_content(".card[data-figure=transactions] .value")
            token = viewer.get_attribute("input[name=csrf]", "value")
            refused = viewer.request.post(
                base + "/decide", form={"csrf": token, "item": "category:tx-102", "decision": "approve"}
            )
            assert refused.status == 403
        finally:
            browser.close()

    with connect(review_url) as conn:
        rows = conn.execute(
            "select item_type, item_id, decision, category, reviewer from review.review_decisions order by decision_id"
        ).fetchall()
        transactions = conn.execute("select coalesce(sum(transactions), 0) from reports.category_summary").fetchone()[0]
        rule = conn.execute("select pattern, category, proposed_by from review.pending_rules").fetchone()
    assert rows[0] == ("category", "tx-101", "approve", "software_saas", "rita")
    bulk = rows[1 : 1 + MERCHANT_LINES]
    assert {r[1] for r in bulk} == {f"tx-{i}" for i in range(1, MERCHANT_LINES + 1)}
    assert {r[2:] for r in bulk} == {("recategorize", "office_supplies_equipment", "rita")}
    assert rows[-3] == ("category", "tx-102", "recategorize", "meals_entertainment", "rita")
    assert rows[-2] == ("anomaly", "tx-odd", "not_anomalous", None, "rita")
    assert rows[-1] == ("reconciliation", "r-invoice", "link", None, "rita")
    assert len(rows) == MERCHANT_LINES + 4  # nothing from the viewer
    assert rule == ("^ACME OFFICE SUPPLY", "office_supplies_equipment", "rita")
    assert shown.replace(",", "") == str(transactions)


def test_serve_stops_within_10_seconds_of_sigterm(review_url, tmp_path):
    process, base = start_server(review_url, tmp_path)
    with httpx.Client() as client:  # an open keep-alive connection does not hold the shutdown up
        client.get(base + "/login")
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("finflow review serve was still running 10 s after SIGTERM")
    print(f"stopped {time.monotonic() - started:.2f} s after SIGTERM")
