"""Write a simulated company's days into the landing folders, and the ground truth apart from them."""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from .bank_csv import render_bank_csv
from .company import TrueTransaction, business_days, simulate_day

log = logging.getLogger(__name__)

DEFAULT_START = date(2026, 10, 1)
TRUTH_COLUMNS = (
    "txn_id",
    "booked_date",
    "amount",
    "currency",
    "counterparty",
    "description",
    "category",
    "is_anomaly",
    "anomaly_kind",
    "source",
    "source_file",
    "source_row",
)
HISTORY_COLUMNS = ("date", "description", "amount", "currency", "category")


@dataclass
class SimulationResult:
    days: list[date]
    transactions: int
    files: list[Path] = field(default_factory=list)
    truth_file: Path | None = None
    history_file: Path | None = None


def generate(
    landing: Path,
    truth_dir: Path,
    *,
    days: int = 1,
    per_day: int = 10_000,
    seed: int = 7,
    start: date = DEFAULT_START,
    history_dir: Path | None = None,
    history_days: int = 40,
) -> SimulationResult:
    """Simulate ``days`` business days of ``per_day`` transactions from ``start``.

    Also writes ``history_days`` earlier days of labeled history (the finance team's past categorizations)
    to ``history_dir`` when given: the categorizer's training data.
    """
    rng = random.Random(seed)
    result = SimulationResult(days=business_days(start, days), transactions=0)
    truth_dir.mkdir(parents=True, exist_ok=True)
    bank_dir = landing / "bank_operating"
    bank_dir.mkdir(parents=True, exist_ok=True)
    truth_path = truth_dir / "transactions.csv"
    balance = Decimal("250000.00")
    with truth_path.open("w", newline="") as truth_file:
        truth = csv.writer(truth_file)
        truth.writerow(TRUTH_COLUMNS)
        for day in result.days:
            txns = list(simulate_day(day, per_day, rng))
            data, balance = render_bank_csv(txns, balance)
            path = bank_dir / f"operating_{day:%Y%m%d}.csv"
            path.write_bytes(data)
            result.files.append(path)
            for row, txn in enumerate(txns, start=2):
                truth.writerow(_truth_row(txn, "bank_operating", path.name, row))
            result.transactions += len(txns)
            log.info("simulated %s: %s transactions -> %s", day, len(txns), path.name)
    result.truth_file = truth_path
    if history_dir is not None:
        result.history_file = write_history(history_dir, start, history_days, min(per_day, 1000), seed + 1)
    return result


def write_history(folder: Path, before: date, days: int, per_day: int, seed: int) -> Path:
    """Labeled history: the days before ``before`` as the finance team categorized them."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "categorized_history.csv"
    first = before - timedelta(days=int(days * 7 / 5) + 3)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for day in business_days(first, days):
            if day >= before:
                break
            for txn in simulate_day(day, per_day, rng):
                writer.writerow((txn.booked_date.isoformat(), txn.description, txn.amount, txn.currency, txn.category))
    return path


def _truth_row(txn: TrueTransaction, source: str, file: str, row: int) -> tuple:
    return (
        txn.txn_id,
        txn.booked_date.isoformat(),
        txn.amount,
        txn.currency,
        txn.counterparty,
        txn.description,
        txn.category,
        int(txn.is_anomaly),
        txn.anomaly_kind or "",
        source,
        file,
        row,
    )
