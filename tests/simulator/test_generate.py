"""generate(): deterministic, exact volume, streamed day by day, the documented layout and history."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from finflow_simulator import generate
from finflow_simulator.catalog import GL_ACCOUNTS
from finflow_simulator.generate import HISTORY_COLUMNS, TRUTH_COLUMNS

from .conftest import DAYS, PER_DAY, START, SimRun


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _run(root: Path, **kwargs) -> dict[str, bytes]:
    generate(root / "landing", root / "truth", history_dir=root / "history", history_days=3, **kwargs)
    return _tree(root)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    args = {"days": 4, "per_day": 300, "seed": 5, "faults": True, "redelivery_rate": 0.3}
    first = _run(tmp_path / "a", **args)
    second = _run(tmp_path / "b", **args)
    assert first == second
    assert len(first) > 30
    other = _run(tmp_path / "c", **{**args, "seed": 6})
    assert other.keys() != first.keys() or any(other[name] != first[name] for name in first)


def test_a_run_is_a_prefix_of_a_longer_run(tmp_path: Path) -> None:
    """Each day is seeded on its own: the first days of a longer run are the same days (echoes aside)."""
    short = _run(tmp_path / "short", days=2, per_day=200, seed=3)
    long = _run(tmp_path / "long", days=4, per_day=200, seed=3)
    for name in ("landing/bank_eu/MT940_20261001.sta", "landing/bank_treasury/camt053_20261002.xml"):
        assert short[name] == long[name]


def test_volume_is_exactly_days_times_per_day(sim: SimRun) -> None:
    transactions = sim.table("transactions.csv")
    assert sim.result.transactions == len(transactions) == DAYS * PER_DAY
    per_day = Counter(t["txn_id"][1:9] for t in transactions)
    assert set(per_day.values()) == {PER_DAY} and len(per_day) == DAYS
    assert len({t["txn_id"] for t in transactions}) == len(transactions)


@pytest.mark.parametrize("per_day", [1, 7, 59, 60, 61, 250])
def test_volume_is_exact_at_any_size(tmp_path: Path, per_day: int) -> None:
    result = generate(
        tmp_path / "landing", tmp_path / "truth", days=3, per_day=per_day, seed=2, start=date(2026, 10, 1)
    )
    with result.truth_file.open() as handle:  # type: ignore[union-attr]
        assert sum(1 for _ in handle) - 1 == result.transactions == 3 * per_day


def test_layout_and_truth_columns(sim: SimRun) -> None:
    landing = {path.parent.name for path in sim.landing.rglob("*") if path.is_file()}
    assert landing == {
        "bank_operating",
        "bank_payroll",
        "bank_eu",
        "bank_treasury",
        "bank_lockbox",
        "payroll",
        "erp_gl",
    }
    assert sorted(p.name for p in sim.api.glob("*.jsonl")) == [
        "billing.jsonl",
        "expenses.jsonl",
        "paypal.jsonl",
        "stripe.jsonl",
    ]
    assert sim.result.api_dir == sim.api  # default: beside the truth folder, as <FINFLOW_HOME>/simulator/api
    assert all(path.exists() for path in sim.result.files)
    with sim.result.truth_file.open() as handle:  # type: ignore[union-attr]
        assert tuple(next(csv.reader(handle))) == TRUTH_COLUMNS
    assert set(sim.result.rows) == {
        "bank_operating", "bank_payroll", "bank_eu", "bank_treasury", "bank_lockbox", "payroll", "erp_gl",
        "stripe", "paypal", "adyen", "billing", "expenses",
    }  # fmt: skip


def test_bank_operating_rows_keep_source_file_and_row(sim: SimRun) -> None:
    """The end-to-end test keys bank_operating truth by (source_file, source_row)."""
    rows = {
        (r["file"], r["row"]): r
        for r in sim.table("source_rows.csv")
        if r["source"] == "bank_operating" and r["role"] == "primary"
    }
    primaries = [t for t in sim.table("transactions.csv") if t["source"] == "bank_operating"]
    assert primaries
    for txn in primaries:
        assert rows[(txn["source_file"], txn["source_row"])]["txn_id"] == txn["txn_id"]


def test_overlapping_statement_repeats_the_previous_days_tail(sim: SimRun) -> None:
    third = f"operating_{date(2026, 10, 5):%Y%m%d}.csv"  # the 3rd simulated day
    rows = [
        r for r in sim.table("source_rows.csv") if r["source"] == "bank_operating" and r["file"].startswith(third[:-4])
    ]
    repeated = [r for r in rows if r["role"] == "redelivery" and r["booked_date"] == "2026-10-02"]
    assert len(repeated) == 25
    assert sorted(int(r["row"]) for r in repeated) == list(range(2, 27))


def test_history_is_labeled_and_before_the_start(sim: SimRun) -> None:
    path = sim.result.history_file
    assert path is not None and path.name == "categorized_history.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == HISTORY_COLUMNS
        rows = list(reader)
    assert len(rows) > 3 * PER_DAY
    assert all(row["date"] < START.isoformat() for row in rows)
    assert {row["category"] for row in rows} <= set(GL_ACCOUNTS)
    assert "bank_operating" in {row["source"] for row in rows}


def test_runs_of_different_days_continue_the_numbering(tmp_path: Path) -> None:
    """The history and a later day simulated on their own land in one warehouse: the later run's billing payment
    ids, invoice numbers and Adyen payout batches are new, not the first run's again."""
    import re

    def numbers(root: Path, start: date) -> tuple[set[str], set[str], set[str]]:
        generate(root / "landing", root / "truth", days=1, per_day=600, seed=9, start=start)
        with (root / "truth" / "source_rows.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        payments = {row["object_id"] for row in rows if row["source"] == "billing"}
        text = "\n".join(path.read_text(errors="replace") for path in (root / "landing").rglob("*") if path.is_file())
        text += "\n".join(path.read_text(errors="replace") for path in (root / "api").rglob("*") if path.is_file())
        invoices = set(re.findall(r"INV-\d+", text))
        batches = {path.name for path in (root / "api").rglob("*batch*")}
        return payments, invoices, batches

    first = numbers(tmp_path / "first", date(2026, 10, 1))
    later = numbers(tmp_path / "later", date(2026, 10, 8))
    for earlier, then in zip(first, later, strict=True):
        assert earlier and then
        assert not earlier & then, sorted(earlier & then)[:5]
