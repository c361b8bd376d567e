"""The simulated company's true transactions: what really happened, before any source system renders it."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .catalog import CITIES, COMPANIES, COUNTERPARTIES, VENDORS, Counterparty

ANOMALY_RATE = 0.004  # share of transactions with an injected anomaly


@dataclass(frozen=True)
class TrueTransaction:
    """Ground truth for one real money movement."""

    txn_id: str
    booked_date: date
    amount: Decimal  # + in, - out
    currency: str
    counterparty: str
    description: str
    category: str
    is_anomaly: bool
    anomaly_kind: str | None


def business_days(start: date, count: int) -> list[date]:
    """``count`` weekdays from ``start`` on (banks book on business days)."""
    days: list[date] = []
    current = start
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days


def _fill(template: str, rng: random.Random, day: date) -> str:
    out = template
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        key = out[start + 1 : end]
        if key == "mmdd":
            value = day.strftime("%m%d")
        elif key == "city":
            value = rng.choice(CITIES)
        elif key == "company":
            value = rng.choice(COMPANIES)
        elif key == "vendor":
            value = rng.choice(VENDORS)
        elif key[0] == "n":
            value = "".join(rng.choices(string.digits, k=int(key[1:])))
        else:  # a<k>: letters and digits, as in card processor reference codes
            value = "".join(rng.choices(string.ascii_uppercase + string.digits, k=int(key[1:])))
        out = out[:start] + value + out[end + 1 :]
    return out


def _amount(cp: Counterparty, rng: random.Random) -> Decimal:
    # log-uniform: many small, few large, as real spend is
    low, high = cp.low, cp.high
    value = low * (high / low) ** rng.random()
    if cp.round_amounts:
        return Decimal(int(value / 100) * 100 or 100)
    return Decimal(f"{value:.2f}")


def simulate_day(day: date, per_day: int, rng: random.Random, start_index: int = 0) -> Iterator[TrueTransaction]:
    """``per_day`` transactions booked on ``day``."""
    weights = [cp.weight for cp in COUNTERPARTIES]
    chosen = rng.choices(COUNTERPARTIES, weights=weights, k=per_day)
    for offset, cp in enumerate(chosen):
        amount = _amount(cp, rng) * cp.direction
        anomaly_kind = None
        if rng.random() < ANOMALY_RATE:
            anomaly_kind = "amount_spike"
            amount = (amount * Decimal(rng.randint(8, 20))).quantize(Decimal("0.01"))
        yield TrueTransaction(
            txn_id=f"T{day:%Y%m%d}-{start_index + offset:07d}",
            booked_date=day,
            amount=amount,
            currency="USD",
            counterparty=cp.name,
            description=_fill(rng.choice(cp.descriptors), rng, day),
            category=cp.category,
            is_anomaly=anomaly_kind is not None,
            anomaly_kind=anomaly_kind,
        )
