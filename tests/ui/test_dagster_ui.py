"""The Dagster UI as a person uses it: ``finflow demo`` fills a fresh data folder, the webserver serves the
project's workspace on localhost, and headless Chromium (Debian's ``chromium``, driven by Playwright) walks the
lineage graph, the asset catalog and two asset pages. What the pages show is checked against FinFlow's own
definitions, the demo's output and the webserver's GraphQL API.

Needs a Chromium: ``/usr/bin/chromium`` (``make test`` installs Debian's package when it runs as root) or
``FINFLOW_CHROMIUM``; without one the module is skipped with the reason. ``FINFLOW_UPDATE_SCREENSHOT=1`` runs the
demo with more data and refreshes ``docs/images/lineage.png``; the screenshot always lands in the test's tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest

from finflow_assets.cli import ui_command
from finflow_assets.doctor import find_chromium
from tests.conftest import REPO_ROOT

# the demo, the webserver's start and the browser walk share one module-scoped setup: allow for a busy machine
pytestmark = pytest.mark.timeout(900)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UPDATE_SCREENSHOT = os.environ.get("FINFLOW_UPDATE_SCREENSHOT") == "1"
# a small day keeps the test quick; the committed screenshot comes from a demo with realistic volume
PER_DAY = 2000 if UPDATE_SCREENSHOT else 300
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "images" / "lineage.png"
# tall enough that the zoomed-to-width lineage graph, one step zoomed out, fits on the screen whole
VIEWPORT = {"width": 1600, "height": 2600}  # tall enough for the whole lineage one zoom step out


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        custom = os.environ.get("FINFLOW_CHROMIUM")
        pytest.skip(
            f"FINFLOW_CHROMIUM={custom} is not an executable"
            if custom
            else "no Chromium: install Debian's chromium (make browser, as root) or set FINFLOW_CHROMIUM"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    return path


@dataclass
class Site:
    url: str
    home: Path
    artifacts: Path
    demo_output: str

    def graphql(self, query: str, **variables: object) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without any FinFlow, Dagster or MLflow setting other tests may have left,
    pointed at the test's own data folder (its own embedded PostgreSQL, Dagster instance and MLflow store)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINFLOW_", "DAGSTER_", "MLFLOW_"))}
    env.update(FINFLOW_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    return env


def _finflow(*args: str, env: dict[str, str], log: Path, timeout: float) -> subprocess.CompletedProcess:
    with log.open("w") as out:
        return subprocess.run(
            [sys.executable, "-m", "finflow_assets.cli", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )


def _instance_url(env: dict[str, str]) -> str:
    """The data folder's Dagster instance URL, derived as the ``finflow`` commands derive it for Dagster processes."""
    script = (
        "import os; from finflow_assets.instance import ensure_dagster_home; ensure_dagster_home(); "
        "print(os.environ['FINFLOW_DAGSTER_PG_URL'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _wait_until_loaded(url: str, server: subprocess.Popen, log: Path, deadline: float) -> None:
    """Until the webserver answers and the ``finflow`` code location has loaded (or failed to load)."""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            body = httpx.post(f"{url}/graphql", json={"query": WORKSPACE_QUERY}, timeout=10).json()
        except httpx.HTTPError:
            time.sleep(1)
            continue
        entries = (body.get("data") or {}).get("workspaceOrError", {}).get("locationEntries") or []
        loaded = [e for e in entries if e["name"] == "finflow" and e["loadStatus"] == "LOADED"]
        if loaded:
            location = loaded[0]["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location
            return
        time.sleep(1)
    pytest.fail(f"the Dagster UI did not load the finflow code location in time:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def site(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``finflow demo`` on a fresh data folder, then ``dagster-webserver`` over the workspace on a free port."""
    home = tmp_path_factory.mktemp("finflow_ui_home")
    artifacts = tmp_path_factory.mktemp("finflow_ui")
    env = _clean_env(home)
    demo_log = artifacts / "demo.log"
    demo = _finflow("demo", "--days", "1", "--per-day", str(PER_DAY), env=env, log=demo_log, timeout=600)
    try:
        assert demo.returncode == 0, demo_log.read_text()[-5000:]
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command, cwd = ui_command("127.0.0.1", port, daemon=False)  # as `finflow ui`, without the daemon's ticks
        env = {**env, "FINFLOW_DAGSTER_PG_URL": _instance_url(env)}  # what `finflow ui` gives the processes it starts
        web_log = artifacts / "webserver.log"
        with web_log.open("w") as out:
            server = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            _wait_until_loaded(url, server, web_log, time.monotonic() + 240)
            yield Site(url=url, home=home, artifacts=artifacts, demo_output=demo_log.read_text())
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    finally:
        _finflow("db", "stop", env=env, log=artifacts / "db-stop.log", timeout=120)


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    """Every asset FinFlow defines, with its group: what the UI must show."""
    from finflow_assets.definitions import defs

    return {spec.key.to_user_string(): spec.group_name for spec in defs.resolve_all_asset_specs()}


@pytest.fixture(scope="module")
def materializable(expected: dict[str, str]) -> dict[str, str]:
    """The assets a run materializes (not the external ones, such as review_decisions, that the CLI writes)."""
    from finflow_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return {name: group for name, group in expected.items() if graph.get(dg.AssetKey(name)).is_materializable}


@pytest.fixture(scope="module")
def page(site: Site, chromium: str):
    """One browser tab for the module, opened on the UI's front page like a first-time visitor."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        # UTC and en-US so the timestamps the page shows can be compared with GraphQL's
        scale = 1.5 if UPDATE_SCREENSHOT else 1  # a sharper picture for the docs
        context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US", device_scale_factor=scale)
        context.set_default_timeout(60_000)
        tab = context.new_page()
        tab.goto(site.url + "/")
        # a fresh Dagster instance greets its first visitor with a "Join the Dagster community" dialog
        try:
            tab.get_by_role("dialog").get_by_role("button", name="Skip").click(timeout=15_000)
        except PlaywrightTimeout:
            pass
        yield tab
        context.close()
        browser.close()


LATEST = """
{ assetNodes { assetKey { path } groupName
    assetMaterializations(limit: 1) { timestamp runId }
    assetChecksOrError { ... on AssetChecks { checks { name
        executionForLatestMaterialization { status evaluation { success } } } } } }
  runsOrError { ... on Runs { results { runId status } } } }
"""


@pytest.fixture(scope="module")
def latest(site: Site) -> dict:
    """What the webserver's GraphQL API says: per asset its group, latest materialization and checks; the runs."""
    data = site.graphql(LATEST)
    assets = {}
    for node in data["assetNodes"]:
        checks = node["assetChecksOrError"].get("checks", [])
        assets["/".join(node["assetKey"]["path"])] = {
            "group": node["groupName"],
            "materialization": (node["assetMaterializations"] or [None])[0],
            "checks": {c["name"]: c["executionForLatestMaterialization"] for c in checks},
        }
    return {"assets": assets, "runs": data["runsOrError"]["results"]}


def _shown_time(millis: str) -> str:
    """A timestamp as the UI prints it in a list (``Nov 23, 11:36 PM``, this year, in the browser's UTC)."""
    return datetime.fromtimestamp(int(millis) / 1000, UTC).strftime("%b %-d, %-I:%M %p")


def _go_to(page, section: str) -> None:
    """Click a section in the app's navigation (links are named by icon and label: ``lineage Lineage``)."""
    page.get_by_role("navigation").get_by_role("link", name=re.compile(rf"(^|\s){section}$")).click()


def _abbreviates(label: str, name: str) -> bool:
    """The graph middle-truncates long names when zoomed out: ``stg…__transactions``."""
    if "…" not in label:
        return label == name
    head, _, tail = label.partition("…")
    return len(name) > len(head) + len(tail) and name.startswith(head) and name.endswith(tail)


def test_the_demo_run_is_what_the_ui_knows(site: Site, latest: dict, expected: dict[str, str], materializable):
    runs = latest["runs"]
    assert [r["status"] for r in runs] == ["SUCCESS"], runs
    assert set(latest["assets"]) == set(expected)
    for name, asset in latest["assets"].items():
        assert asset["group"] == expected[name], name
        if name in materializable:
            assert asset["materialization"] and asset["materialization"]["runId"] == runs[0]["runId"], name


def test_lineage_graph_shows_every_group_and_asset(site: Site, page, expected: dict[str, str]):
    from playwright.sync_api import expect

    _go_to(page, "Lineage")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    graph = page.locator("svg foreignObject")  # the graph's nodes
    groups = sorted(set(expected.values()))
    # the global lineage opens with every group collapsed to one box
    for group in groups:
        expect(graph.get_by_text(group, exact=True).first).to_be_visible()

    # room for the graph: hide the asset list beside it and the app's navigation (icon buttons, named by icon)
    page.get_by_role("button", name="panel_show_right", exact=True).click()
    page.get_by_role("button", name="Hide navigation").click()
    try:
        page.get_by_role("button", name="settings", exact=True).last.click()  # the graph's settings, not the app's
        page.get_by_role("menuitem", name="Expand all groups").click()
        page.keyboard.press("Escape")
        expect(graph.get_by_text("fct_transactions", exact=True)).to_be_visible()
        page.get_by_role("button", name="zoom_out", exact=True).click()  # zoomed to the width; one step out: all
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)

        labels = [text.strip() for text in graph.all_text_contents() if text.strip() and text.strip() not in groups]
        missing = [n for n in expected if not any(_abbreviates(label, n) for label in labels)]
        assert len(labels) == len(expected), missing
        for label in labels:
            assert any(_abbreviates(label, name) for name in expected), f"{label!r} is no FinFlow asset"
        for name in expected:
            assert any(_abbreviates(label, name) for label in labels), f"{name} is not on the lineage graph"
        for group in groups:  # every expanded group still shows its name on its box
            expect(graph.get_by_text(group, exact=True).first).to_be_visible()

        page.wait_for_timeout(2000)  # let the nodes' status colours settle before the picture
        page.screenshot(path=site.artifacts / "lineage.png")
        if UPDATE_SCREENSHOT:
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site.artifacts / "lineage.png", DOCS_SCREENSHOT)
    finally:
        nav = page.get_by_role("navigation")
        nav.get_by_role("button", name="panel_show_left", exact=True).click()  # the navigation back
    assert (site.artifacts / "lineage.png").stat().st_size > 10_000


# The text of each listed asset's row on screen whose status has arrived: from the element titled with the asset's
# name up to the nearest box that also shows "Materialized" and names no other asset.
ROWS_ON_SCREEN = """
({wanted, all}) => {
  const rows = {};
  for (const name of wanted) {
    let box = document.querySelector(`[title="${name}"]`);
    while (box && box.parentElement) {
      box = box.parentElement;
      const others = [...box.querySelectorAll('[title]')].filter(e => e.title !== name && all.includes(e.title));
      if (others.length) break;
      if (box.innerText.includes('Materialized')) { rows[name] = box.innerText; break; }
    }
  }
  return rows;
}
"""


def test_catalog_lists_every_asset_with_its_latest_materialization(
    site: Site, page, materializable: dict[str, str], latest: dict
):
    expected = materializable
    from playwright.sync_api import expect

    _go_to(page, "Catalog")
    expect(page.get_by_text("Asset name")).to_be_visible()
    expect(page.get_by_text("Materialized").first).to_be_visible()  # the rows' live status has arrived
    # the list is virtualized: read the rows on screen, scroll, read again, as a person would (down, then back up)
    rows: dict[str, str] = {}
    for step in [400] * 15 + [-400] * 15:
        wanted = sorted(set(expected) - set(rows))
        rows.update(page.evaluate(ROWS_ON_SCREEN, {"wanted": wanted, "all": sorted(expected)}))
        if len(rows) == len(expected):
            break
        page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] / 2)
        page.mouse.wheel(0, step)
        page.wait_for_timeout(500)
    assert set(rows) == set(expected), f"not in the catalog: {sorted(set(expected) - set(rows))}"
    for name, text in rows.items():
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert expected[name] in lines, f"{name}: group {expected[name]} not shown in {lines}"
        shown = re.search(r"Materialized\s*•\s*(.+)", text)
        assert shown, f"{name}: no latest materialization shown in {lines}"
        assert shown.group(1).strip() == _shown_time(latest["assets"][name]["materialization"]["timestamp"]), name


NAME = "fct_transactions"


def test_asset_page_shows_latest_materialization_and_check_results(site: Site, page, latest: dict):
    from playwright.sync_api import expect

    from finflow_assets.definitions import defs

    defined = sorted(
        key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key.to_user_string() == NAME
    )
    graphql = latest["assets"][NAME]
    assert sorted(graphql["checks"]) == defined and defined

    page.goto(f"{site.url}/assets")
    page.get_by_title(NAME, exact=True).click()
    expect(page).to_have_url(re.compile(f"/assets/{NAME}"))
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text("Latest check results")).to_be_visible()
    status = page.locator("div").filter(has=page.get_by_text("Latest check results")).filter(has_text=re.compile(r"\d"))
    assert re.search(r"Latest check results\s+(\d+)", status.last.inner_text()).group(1) == str(len(defined))

    page.get_by_role("tab", name="Events").click()
    run_id = graphql["materialization"]["runId"]
    expect(page.get_by_text(f"Materialized in run {run_id[:8]}").first).to_be_visible()

    page.get_by_role("tab", name="Checks").click()
    expect(page.get_by_text(f"Checks ({len(defined)})")).to_be_visible()
    for check in defined:
        row = page.locator("div").filter(has=page.get_by_title(check, exact=True)).filter(has_text="Succeeded")
        expect(row.last).to_be_visible()
        execution = graphql["checks"][check]
        assert execution["status"] == "SUCCEEDED" and execution["evaluation"]["success"], check
    assert page.get_by_text("Succeeded", exact=True).count() == len(defined)


def test_report_asset_shows_its_headline_numbers(site: Site, page):
    from playwright.sync_api import expect

    facts = re.search(r"fct_transactions: ([\d,]+) rows from (\d+) sources", site.demo_output)
    assert facts, site.demo_output[-2000:]
    transactions = int(facts.group(1).replace(",", ""))
    node = site.graphql(
        """query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
            assetMaterializations(limit: 1) { metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }""",
        path=["category_summary"],
    )["assetNodeOrError"]
    metadata = {e["label"]: e.get("intValue") for e in node["assetMaterializations"][0]["metadataEntries"]}
    assert metadata["transactions"] == transactions

    page.goto(f"{site.url}/assets/category_summary")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text("CSV and HTML under reports/<date>/")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="transactions", exact=True))
    expect(row).to_have_count(1)
    shown = row.get_by_role("cell").last.inner_text().strip()
    assert int(shown.replace(",", "")) == transactions
