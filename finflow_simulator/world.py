"""The simulated company: its accounts, customers, employees and recurring contracts (seeded, built once)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date

from .catalog import (
    COUNTERPARTIES,
    CUSTOMER_PREFIXES,
    CUSTOMER_SUFFIXES,
    EU_CUSTOMER_SUFFIXES,
    FIRST_NAMES,
    LAST_NAMES,
    NOT_VENDOR_FLOW,
    RECURRING,
)
from .model import ALNUM_MIXED, Template, code, digits, log_uniform_cents

COMPANY = "NORTHWIND ANALYTICS INC"
COMPANY_EU = "Northwind Analytics GmbH"
MERCHANT_ACCOUNT = "NorthwindEU"
COMPANY_ACCOUNT = "NorthwindAnalytics"
REGIONS = ("", "West ", "East ", "North ", "South ", "Pacific ", "Atlantic ", "Central ")


# the simulator's default first day: numbering starts there (World.number_from)
NUMBERING_EPOCH = date(2026, 10, 1)


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    paypal_id: str
    email: str


@dataclass(frozen=True)
class Employee:
    id: str
    name: str
    net_cents: int  # usual net pay per run
    card_last4: str


@dataclass
class Contract:
    """A recurring bill: same vendor reference, same amount every time (until an anomaly drifts it)."""

    counterparty: str
    category: str
    description: str
    cents: int


@dataclass
class Account:
    key: str  # internal key: operating, payroll, eu_main, ...
    source: str  # the source whose files carry it
    number: str  # as the bank prints it (account number / IBAN)
    currency: str
    balance: int  # cents
    bank_id: str = ""
    name: str = ""
    gl_code: str = ""  # journal id part for the ERP export
    sequence: int = 0


@dataclass
class World:
    seed: int
    per_day: int
    customers: list[Customer] = field(default_factory=list)
    eu_customers: list[str] = field(default_factory=list)
    employees: list[Employee] = field(default_factory=list)
    contracts: dict[str, list[Contract]] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    # recent payments by flow, for the "duplicate_payment" anomaly (paid again on a later day)
    recent: dict[str, deque] = field(default_factory=dict)
    next_invoice: int = 20_000
    next_payment: int = 1
    next_run: int = 1
    next_batch: int = 1
    next_file: int = 1
    id_salt: str = ""

    @classmethod
    def build(cls, seed: int, per_day: int) -> World:
        rng = random.Random(f"finflow-world-{seed}")
        world = cls(seed=seed, per_day=per_day)
        n_customers = max(40, min(len(CUSTOMER_PREFIXES) * len(CUSTOMER_SUFFIXES) * len(REGIONS), per_day // 8))
        names = [f"{p} {r}{s}" for r in REGIONS for p in CUSTOMER_PREFIXES for s in CUSTOMER_SUFFIXES]
        rng.shuffle(names)
        for number, name in enumerate(sorted(names[:n_customers]), start=1):
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:16]
            world.customers.append(Customer(f"cus_{number:05d}", name, code(rng, 13), f"ap@{slug}.example"))
        world.eu_customers = sorted(
            {f"{rng.choice(CUSTOMER_PREFIXES)} {rng.choice(EU_CUSTOMER_SUFFIXES)}" for _ in range(60)}
        )
        n_employees = max(5, min(3000, per_day // 60))
        for number in range(1, n_employees + 1):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            world.employees.append(Employee(f"E{number:05d}", name, log_uniform_cents(rng, 1800, 9000), digits(rng, 4)))
        vendors = [cp for cp in COUNTERPARTIES if cp.name not in NOT_VENDOR_FLOW]
        total_weight = sum(cp.weight for cp in vendors)
        day_volume = per_day * 0.17  # the vendor flow's share of a day
        for cp in vendors:
            if cp.name not in RECURRING:
                continue
            expected = day_volume * cp.weight / total_weight
            count = max(8, int(expected * 3) + 1)  # each contract billed every few days at most once a day
            world.contracts[cp.name] = [
                Contract(
                    cp.name,
                    cp.category,
                    Template(rng.choice(cp.descriptors)).fill(rng, date(2026, 1, 1)),
                    log_uniform_cents(rng, cp.low, cp.high),
                )
                for _ in range(count)
            ]
        accounts = (
            Account(
                "operating", "bank_operating", "000123456789", "USD", 2_500_000_00, "021000021", "OPERATING", "OPER"
            ),
            Account("payroll", "bank_payroll", "987654321", "USD", 150_000_00, "021000021", "PAYROLL", "PAYR"),
            Account("eu_main", "bank_eu", "DE89370400440532013000", "EUR", 800_000_00, "COBADEFF", "EUR MAIN", "EUR1"),
            Account(
                "eu_reserve", "bank_eu", "DE02370400440532013001", "EUR", 300_000_00, "COBADEFF", "EUR RSV", "EUR2"
            ),
            Account("treasury", "bank_treasury", "4410012345", "USD", 12_000_000_00, "SVBKUS6S", "TREASURY", "TRS1"),
            Account(
                "money_market", "bank_treasury", "4410067890", "USD", 5_000_000_00, "SVBKUS6S", "MMF SWEEP", "TRS2"
            ),
            Account("lockbox_east", "bank_lockbox", "1000123451", "USD", 0, "026009593", "LOCKBOX EAST", "LBX1"),
            Account("lockbox_west", "bank_lockbox", "1000123452", "USD", 0, "026009593", "LOCKBOX WEST", "LBX2"),
        )
        world.accounts = {account.key: account for account in accounts}
        world.recent = {name: deque(maxlen=400) for name in ("ops", "eu", "expenses")}
        world.id_salt = code(rng, 4, ALNUM_MIXED)
        return world

    def number_from(self, start: date) -> None:
        """Continue the company's numbering (billing payments, invoices, Adyen batches, payroll runs) where days
        simulated from ``start`` fall, instead of starting at the first number every time: two simulations of
        different days landed in one warehouse (the history and a later tick) would otherwise share payment ids
        (a re-delivery to the connectors) and invoice numbers (a match to the reconciliation). Each counter
        advances by more per day than any day uses, so numbers of different runs never meet."""
        days = max(0, (start - NUMBERING_EPOCH).days)
        self.next_payment += days * 10_000
        self.next_invoice += days * 10_000
        self.next_batch += days * 100
        self.next_run += days * 10
