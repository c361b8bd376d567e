"""FinFlow running itself: a real ``dagster-daemon`` over the project's workspace, the simulator's APIs over real
HTTP, files dropped into the landing folders, and a real SMTP server receiving what goes out. Nobody starts a run.

The tick is shortened to every minute (``FINFLOW_TICK_CRON``) and the daily report is due every minute
(``FINFLOW_DAILY_REPORT_CRON``) so the test sees in minutes what a day of 15-minute ticks does.
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finflow_assets.settings import write_dagster_yaml
from finflow_simulator import generate
from finflow_simulator.api_server import serve
from tests.automation.test_notifications import Inbox, local_smtp_server
from tests.conftest import REPO_ROOT, fresh_dagster_database, fresh_database

WITHHELD = "bank_treasury"  # a file-drop source that stops delivering: its freshness check must alert
REFUSED = "billing"  # an API source whose key the server refuses: its pull fails, the failure alert goes out
TIMEOUT = 600.0  # a flow through every stage on 2 busy cores, the daemon ticking beside it

# the daemon needs a few ticks of a minute each; on a loaded 2-core machine that is several minutes
pytestmark = pytest.mark.timeout(900)


class Automatic:
    def __init__(self, home: Path, staged: Path, inbox: Inbox, log: Path) -> None:
        self.home, self.staged, self.inbox, self.log = home, staged, inbox, log

    def subjects(self) -> list[str]:
        return [str(m.message["Subject"]) for m in self.inbox.messages]

    def wait_for(self, what: str, predicate, timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(2)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"timed out waiting for {what}; e-mails: {self.subjects()}\n--- daemon log tail ---\n{tail}")


def _scalar(db, query: str):
    with contextlib.suppress(Exception):
        return db.execute(query).fetchone()[0]
    return None


@pytest.fixture(scope="module")
def automatic(finflow_home, tmp_path_factory):
    root = tmp_path_factory.mktemp("automatic")
    home, staged = root / "home", root / "staged"
    with fresh_database("test_automatic_runs") as url, contextlib.ExitStack() as stack:
        sim = generate(
            staged, root / "truth", days=1, per_day=150, seed=23, history_dir=home / "history", history_days=20
        )
        api = stack.enter_context(serve(sim.api_dir))
        inbox = stack.enter_context(local_smtp_server())
        env = {
            **os.environ,
            **api.env(),
            "FINFLOW_HOME": str(home),
            "FINFLOW_DATABASE_URL": url,
            "DAGSTER_HOME": str(home / "dagster"),
            "FINFLOW_DAGSTER_PG_URL": fresh_dagster_database(url, "test_automatic_runs_dagster"),  # its runs only
            "FINFLOW_TICK_CRON": "* * * * *",
            "FINFLOW_DAILY_REPORT_CRON": "* * * * *",
            f"FINFLOW_{REFUSED.upper()}_API_KEY": "not-the-right-key",
            "FINFLOW_SMTP_HOST": "127.0.0.1",
            "FINFLOW_SMTP_PORT": str(inbox.port),
            "FINFLOW_SMTP_TLS": "none",
            "FINFLOW_REPORT_RECIPIENTS": "controller@example.com",
            "FINFLOW_ALERT_RECIPIENTS": "oncall@example.com",
        }
        write_dagster_yaml(home / "dagster")  # the product's own instance settings
        log = root / "daemon.log"
        daemon = shutil.which("dagster-daemon", path=str(Path(sys.executable).parent)) or "dagster-daemon"
        with log.open("w") as out:
            process = subprocess.Popen(
                [daemon, "run", "-w", str(REPO_ROOT / "workspace.yaml")],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        saved_instance_url = os.environ.get("FINFLOW_DAGSTER_PG_URL")
        os.environ["FINFLOW_DAGSTER_PG_URL"] = env["FINFLOW_DAGSTER_PG_URL"]  # the tests read the same instance
        try:
            drop_files(staged, home / "landing")  # as the banks and internal systems would
            yield Automatic(home, staged, inbox, log)
        finally:
            if saved_instance_url is None:
                os.environ.pop("FINFLOW_DAGSTER_PG_URL", None)
            else:
                os.environ["FINFLOW_DAGSTER_PG_URL"] = saved_instance_url
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def drop_files(staged: Path, landing: Path) -> None:
    """Every source's files except the withheld one, each written beside and renamed: never seen half-written."""
    for folder in sorted(p for p in staged.iterdir() if p.is_dir() and p.name != WITHHELD):
        target = landing / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for file in folder.iterdir():
            shutil.copy(file, target / f".{file.name}.part")
            (target / f".{file.name}.part").rename(target / file.name)


def test_api_tick_flows_through_to_reports_without_anyone_starting_a_run(automatic, db):
    def flowed():
        return _scalar(db, "select count(*) from marts.fct_transactions where source = 'stripe'")

    automatic.wait_for("the API pull to reach fct_transactions", flowed)
    automatic.wait_for(
        "the reports to cover fct_transactions",
        lambda: (
            _scalar(db, "select sum(transactions) from reports.category_summary")
            == _scalar(db, "select count(*) from marts.fct_transactions")
        ),
    )


def test_dropped_files_flow_through_to_reports_and_the_daily_email(automatic, db):
    automatic.wait_for(
        "the operating account's file to reach fct_transactions",
        lambda: _scalar(db, "select count(*) from marts.fct_transactions where source = 'bank_operating'"),
    )

    def daily_report_covering_everything():
        # the e-mail whose figures cover every transaction landed so far (API pulls and dropped files alike)
        expected = _scalar(db, "select count(*) from marts.fct_transactions")
        for received in automatic.inbox.messages:
            if "Daily report" in str(received.message["Subject"]):
                body = received.message.get_body(("plain",)).get_content()
                figure = re.search(r"Category summary: transactions ([\d,]+)", body)
                if figure and int(figure.group(1).replace(",", "")) == expected:
                    return received
        return None

    received = automatic.wait_for("a daily report covering the dropped files", daily_report_covering_everything)
    assert received.rcpt_tos == ["controller@example.com"]
    names = {part.get_filename() for part in received.message.walk() if part.get_filename()}
    assert {"category_summary.csv", "category_summary.html", "data_quality_summary.html"} <= names
    total = _scalar(db, "select sum(transactions) from reports.category_summary")
    assert total == _scalar(db, "select count(*) from marts.fct_transactions")
    assert _scalar(db, "select count(*) from marts.fct_transactions where source = 'bank_operating'") > 0


def test_a_source_that_stops_delivering_triggers_the_freshness_alert(automatic):
    def missed():
        return [
            m
            for m in automatic.inbox.messages
            if "Missed delivery" in str(m.message["Subject"]) and WITHHELD in str(m.message["Subject"])
        ]

    (alert, *_) = automatic.wait_for(f"a missed-delivery alert for {WITHHELD}", missed)
    assert alert.rcpt_tos == ["oncall@example.com"]
    assert f"landing/{WITHHELD}/" in alert.message.get_body(("plain",)).get_content()


def test_a_failing_run_sends_the_failure_alert(automatic):
    def failed():
        subjects = [(m, str(m.message["Subject"])) for m in automatic.inbox.messages]
        return [m for m, subject in subjects if subject.startswith("[FinFlow alert] Run failed")]

    alerts = automatic.wait_for("a run-failure alert", failed)
    text = "\n".join(m.message.get_body(("plain",)).get_content() for m in alerts)
    assert f"raw_{REFUSED}" in text and "401" in text
    assert "not-the-right-key" not in text  # the key itself is never quoted


def test_the_daemon_launches_runs_the_stock_way(automatic):
    """By default the daemon launches through Dagster's own launcher (the warm run workers are opt-in:
    ``test_warm_runs.py``): each run ran in a process of its own, started by the code server, none tagged with a
    warm worker's pid, with run monitoring on."""
    import dagster as dg

    from finflow_assets.optin.warm_runs import WORKER_PID_TAG

    automatic.wait_for("a finished run", lambda: any(_finished_runs(automatic)))
    with dg.DagsterInstance.from_config(str(automatic.home / "dagster")) as instance:
        assert type(instance.run_launcher) is dg.DefaultRunLauncher
        assert instance.run_monitoring_enabled
        runs = instance.get_runs(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE])
        )
        assert runs
        for run in runs:
            assert WORKER_PID_TAG not in run.tags, run.tags
            started = [e.message for e in instance.all_logs(run.run_id) if "Started process for run" in e.message]
            assert len(started) == 1, started


def _finished_runs(automatic) -> list:  # noqa: ANN001
    import dagster as dg

    with dg.DagsterInstance.from_config(str(automatic.home / "dagster")) as instance:
        return instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
