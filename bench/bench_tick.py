"""One 15-minute tick: after a business day (or ``--days`` of them) is loaded and the models trained, a tick's
worth of new transactions arrives in every source; how long until it is landed, modelled, scored and reported? A
tick runs what automation runs on new data: the sources and everything downstream of them.

Prints the wall time of each tick (target <= 15 s) and its stages, for several ticks in a row so a growing cost
(work in proportion to history rather than to new rows) would show. Training is not part of a tick (it runs
nightly), nor is the daily e-mail.

    .venv/bin/python bench/bench_tick.py [--days 1] [--per-day 10000] [--per-tick 400] [--ticks 3]
    .venv/bin/python bench/bench_tick.py --resume FOLDER [--ticks 3]   # more ticks on a kept data folder

Each tick is a run launched as the Dagster daemon launches the automation's runs (``--worker``): ``spawn``, in a new
Python process, as Dagster's default launcher does (FinFlow's default: it then loads FinFlow's definitions, ~2 s,
and imports MLflow, skops and scikit-learn, ~3.5 s, every tick); ``warm``, in a fork of FinFlow's warm run server
(``optin/warm_runs.py``, the default with the opt-in ``FINFLOW_WARM_RUNS=1``); ``in-process``, in this process
(warm imports: the pipeline's own cost alone). ``FINFLOW_FAST_DBT=1`` selects the opt-in dbt resource. The
instance is on PostgreSQL (a ``dagster`` database beside the bench's warehouse), as FinFlow's own. With and
without every opt-in:

    FINFLOW_WARM_RUNS=1 FINFLOW_FAST_DBT=1 .venv/bin/python bench/bench_tick.py
    .venv/bin/python bench/bench_tick.py
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

from harness import WORKERS, Bench


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=10_000, help="transactions per day loaded before the ticks")
    parser.add_argument("--days", type=int, default=1, help="business days of history loaded before the ticks")
    parser.add_argument("--per-tick", type=int, default=400, help="new true transactions per tick (all sources)")
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument(
        "--no-idle", dest="idle", action="store_false", help="skip the idle tick (a tick that brings nothing new)"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        help="a data folder an earlier run kept (FINFLOW_BENCH_KEEP=1): tick on its history instead of loading one "
        "(loading 60 days takes minutes); the ticks take the days after its last tick's",
    )
    from finflow_assets.settings import WARM_RUNS_ENV, opted_in

    default_worker = "warm" if opted_in(WARM_RUNS_ENV) else "spawn"
    parser.add_argument("--worker", choices=WORKERS, default=default_worker, help="how each tick's run is started")
    args = parser.parse_args()

    import dagster as dg

    from finflow_assets.automation.conditions import SOURCE_GROUP, TRAINING_ASSETS

    if args.resume:
        bench = Bench(home=args.resume.resolve())
        # the simulated days' folders are named by their first day: the ticks go on after the newest
        last = max(
            date.fromisoformat(folder.name.removeprefix("api-")) for folder in bench.paths.simulator.glob("api-*")
        )
        bench.age_scores("2 hours")
    else:
        bench = Bench("finflow-bench-tick-")
        # history and ticks in the past: a booking date more than 3 days ahead is quarantined (date_not_in_future)
        start = date.today() - timedelta(days=args.days * 7 // 5 + args.ticks + 10)
        history = bench.simulate(days=args.days, per_day=args.per_day, start=start)
        first, result = bench.run(history.api_dir)
        assert result.success, "loading the history failed"
        first.print(history.transactions, f"first run: {args.days} day(s) of history (with training)")
        # the ticks come minutes after the history; in production the previous tick is 15 minutes back and the
        # history's scores are older than late_arrival_window, so fct_transactions does not redo them all
        bench.age_scores("2 hours")
        bench.settle()
        last = history.days[-1] + timedelta(days=2)

    from finflow_assets.definitions import all_assets

    present = {
        key.to_user_string()
        for asset in all_assets
        for key in ([asset.key] if isinstance(asset, dg.AssetSpec) else asset.keys)
    }
    # what automation runs when new data lands: the sources and everything downstream of them. Seeds (reference
    # data) rebuild only when their CSV changes, training nightly, the e-mail once a day
    not_in_a_tick = (set(TRAINING_ASSETS) | {"daily_report_email"}) & present
    tick_selection = dg.AssetSelection.groups(SOURCE_GROUP).downstream() - dg.AssetSelection.assets(*not_in_a_tick)
    walls = []
    kept = bench.count("select count(*) from marts.fct_transactions")
    for tick in range(1, args.ticks + 1):
        # each tick brings the next business day's first transactions (new ids, new files, new API objects)
        next_day = last + timedelta(days=tick)  # a later date each tick, after the history
        sim = bench.simulate(days=1, per_day=args.per_tick, start=next_day, seed=100 + next_day.toordinal() % 1000)
        bench.rewind_date_windows(sim.days[0])
        figures, result = bench.run(sim.api_dir, tick_selection, worker=args.worker)
        assert result.success, f"tick {tick} failed"
        walls.append(figures.wall)
        before, kept = kept, bench.count("select count(*) from marts.fct_transactions")
        # most of a tick's rows are transactions of their own (the rest duplicates or held back): they must arrive
        assert kept - before > sim.transactions // 2, f"tick {tick}: only {kept - before} new rows in fct_transactions"
        figures.print(sim.transactions, f"tick {tick} ({sim.transactions} new, {kept:,} in fct_transactions)")
    if args.idle:  # twice: a date-window API may still hand over the tick day's last rows on the first
        for _ in range(2):
            idle_tick(bench, sim.api_dir, args.worker, tick_selection)
    print(
        f"\nticks (run worker: {args.worker}): "
        f"{', '.join(f'{w:.1f} s' for w in walls)}; worst {max(walls):.1f} s (target <= 15 s); "
        f"last / first tick = {walls[-1] / walls[0]:.2f}x"
    )
    bench.close()


def idle_tick(bench: Bench, api_dir: Path, worker: str, tick_selection) -> None:  # noqa: ANN001
    """A tick that brings nothing new, as production runs it: the schedule's run pulls the API sources (0 rows),
    then declarative automation decides what to bring up to date (nothing, when the pulls kept their data
    versions), and whatever it requests would run too. Prints the pull run's wall time and what was requested."""
    import time

    import dagster as dg

    from finflow_assets.automation.conditions import SOURCE_GROUP
    from finflow_assets.definitions import defs

    api_sources = dg.AssetSelection.groups(SOURCE_GROUP) & dg.AssetSelection.kind("api")
    with dg.DagsterInstance.get() as instance:
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the sensor's last tick
    figures, result = bench.run(api_dir, api_sources, worker=worker)
    assert result.success, "the idle tick's pulls failed"
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    evaluated = time.perf_counter() - started
    landed = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata.get("rows_landed")
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }
    landed = {key: value.value for key, value in landed.items() if value is not None and value.value}
    keys = tick_selection.resolve(defs.resolve_asset_graph())
    requested = sorted(k.to_user_string() for k in keys if after.get_num_requested(k))
    wall = figures.wall
    if requested:  # what automation would run after the pulls
        more, result = bench.run(api_dir, dg.AssetSelection.assets(*requested), worker=worker)
        assert result.success, "the idle tick's requested run failed"
        wall += more.wall
    print(
        f"idle tick: API pulls {figures.wall:.1f} s, rows landed: {landed or 'none'}; automation requested "
        f"{', '.join(requested) or 'nothing'} (evaluated in {evaluated:.1f} s, the daemon's work, not counted); "
        f"tick {wall:.1f} s (target <= 3 s)"
    )


if __name__ == "__main__":
    main()
