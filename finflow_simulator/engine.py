"""Simulate one business day of the company: every true transaction and every source's view of it.

A day's ``per_day`` true transactions are split over the flows below (card payments and expenses numerous,
treasury and payroll few); the aggregates (Stripe payout, PayPal withdrawal, Adyen batch payout, payroll run
debit and funding) count as transactions of their own. Each flow books its primary view (an API object, a
report row or a bank line) and its echoes in other systems: the payout deposit in the operating account a
business day or two later, the invoice payment's wire or lockbox check, the other side of an internal transfer.
Rendering into files is :mod:`finflow_simulator.generate`'s job; nothing here touches the disk.
"""

from __future__ import annotations

import calendar
import random
from bisect import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from math import log

from .adyen import AdyenRow
from .api_json import STRIPE_AVAILABLE_ON, STRIPE_PAYOUT, STRIPE_STATUS, billing_text, expense_text, paypal_text
from .catalog import CARD_MERCHANTS, COUNTERPARTIES, EU_VENDORS, NEW_VENDORS, NOT_VENDOR_FLOW, RECURRING
from .model import ALNUM_MIXED, Line, Template, Txn, between, code, collapse, digits, log_uniform_cents, money, pick
from .mt940 import details as mt940_details
from .statement import AccountDay
from .world import COMPANY, COMPANY_EU, MERCHANT_ACCOUNT, Customer, Employee, World

ANOMALY_RATE = 0.004  # share of eligible transactions with an injected anomaly
DRIFT_RATE = 0.02  # share of recurring bills that come in above their usual amount
MIN_FOR_AGGREGATES = 60  # below this daily volume no payouts / payroll runs are simulated

# flow -> relative share of a day's transactions
VOLUME: tuple[tuple[str, float], ...] = (
    ("stripe_charge", 26.0),
    ("stripe_refund", 1.0),
    ("stripe_fee", 0.2),
    ("expense_purchase", 24.0),
    ("expense_refund", 0.6),
    ("paypal_sale", 7.0),
    ("paypal_refund", 0.3),
    ("adyen_settled", 9.0),
    ("adyen_refund", 0.4),
    ("adyen_chargeback", 0.1),
    ("ops_vendor", 17.0),
    ("billing_payment", 6.0),
    ("billing_refund", 0.2),
    ("eu_vendor", 5.0),
    ("eu_customer", 1.5),
    ("eu_reserve", 0.1),
    ("eu_fee", 0.1),
    ("treasury_from_ops", 0.1),
    ("treasury_sweep", 0.05),
    ("treasury_interest", 0.05),
    ("treasury_loan", 0.05),
    ("treasury_tax", 0.05),
    ("payroll_tax", 0.05),
    ("payroll_fee", 0.05),
    ("lockbox_fee", 0.05),
)

_VENDORS = tuple(cp for cp in COUNTERPARTIES if cp.name not in NOT_VENDOR_FLOW)
_VENDOR_CUM = list(accumulate(cp.weight for cp in _VENDORS))
_VENDOR_TEMPLATES = {cp.name: tuple(Template(t) for t in cp.descriptors) for cp in _VENDORS}
_EU_CUM = list(accumulate(v.weight for v in EU_VENDORS))
_EU_TEMPLATES = {v.name: tuple(Template(t) for t in v.remittance) for v in EU_VENDORS}
_CARD_CUM = list(accumulate(m.weight for m in CARD_MERCHANTS))
_STRIPE_DESCRIPTIONS = tuple(
    Template(t)
    for t in ("Order #{n6}", "Subscription update", "Subscription creation", "Invoice {a4}-{n4}", "Payment for Invoice")
)
_CARD_METHODS = (
    ("visa", "visaclassic"),
    ("mc", "mccredit"),
    ("amex", "amex"),
    ("ideal", "idealing"),
    ("sepadirectdebit", "sepadirectdebit"),
    ("klarna", "klarna_paynow"),
)
_PAYMENT_METHODS = ("wire",) * 45 + ("ach",) * 35 + ("check",) * 20  # how customers pay invoices
# dollar ranges amounts are drawn from (log-uniformly) where the counterparty has no range of its own
STRIPE_SALE, PAYPAL_SALE, ADYEN_SALE, INVOICE = (5, 2000), (5, 800), (10, 1500), (300, 40000)
ROUND_AMOUNTS = (1000_00, 2500_00, 5000_00, 10000_00, 15000_00, 20000_00, 25000_00, 50000_00)


def spike_cents(cents: int, factor: int, low: float, high: float) -> int:
    """An injected amount spike: ``factor`` (8-20) times an ordinary amount of the counterparty, landing above the
    range its ordinary amounts span (``low``-``high`` dollars, what they are drawn from).

    A base amount whose multiple would stay inside that range (a $10 card sale x10 is an ordinary $100 sale: nothing
    in the data tells it from one) is moved, at the same relative position, into the top part of the range, whose
    multiples leave it; the spike stays ``factor`` times an amount the counterparty does pay, i.e. the base is drawn
    conditioned on the spike being visible. No extra random draw, so the rest of the day is what it was."""
    top, bottom = high * 100, low * 100
    if cents * factor > top:
        return cents * factor
    floor = top / factor  # the smallest base whose multiple leaves the range
    position = log(max(cents, bottom) / bottom) / log(floor / bottom) if floor > bottom else 1.0
    return int(top * factor ** min(max(position, 0.0), 1.0) + 0.5)


def is_payday(day: date) -> bool:
    """Biweekly Friday payroll, anchored on the calendar (not on the simulation start)."""
    return day.weekday() == 4 and (day.toordinal() // 7) % 2 == 0


def add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def allocate(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """Split ``total`` over ``weights`` exactly (largest remainder), jittered per day; every flow gets at least one
    transaction once the day is large enough to hold them all."""
    if total <= 0:
        return [0] * len(weights)
    jittered = [w * rng.uniform(0.85, 1.15) for w in weights]
    scale = total / sum(jittered)
    raw = [w * scale for w in jittered]
    counts = [int(x) for x in raw]
    if total >= 8 * len(weights):
        counts = [max(1, c) for c in counts]
    diff = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    i = 0
    while diff > 0:
        counts[order[i % len(order)]] += 1
        diff -= 1
        i += 1
    while diff < 0:
        largest = max(range(len(counts)), key=counts.__getitem__)
        counts[largest] -= 1
        diff += 1
    return counts


@dataclass
class PayrollRun:
    run_id: str
    rows: list[tuple]  # payroll register rows
    lines: list[Line]  # one per row (primary)
    bank_line: Line  # the net-pay debit on the payroll account


@dataclass
class AdyenBatch:
    number: int
    rows: list[AdyenRow]
    lines: list[Line]


@dataclass
class DayOutput:
    """Everything one simulated day produced, before rendering."""

    day: date
    txns: list[Txn] = field(default_factory=list)
    # API objects: (sort key, object, its view); Stripe objects are field lists (their payout is filled in at the
    # end of the day), the others finished JSON text
    stripe: list[tuple[int, list, Line]] = field(default_factory=list)
    paypal: list[tuple[str, str, Line]] = field(default_factory=list)
    billing: list[tuple[str, str, Line]] = field(default_factory=list)
    expenses: list[tuple[str, str, Line]] = field(default_factory=list)
    adyen: AdyenBatch | None = None
    statements: dict[str, list[AccountDay]] = field(default_factory=dict)
    payroll_runs: list[PayrollRun] = field(default_factory=list)
    anomalies: list[tuple[Txn, str, str]] = field(default_factory=list)  # (txn, source, detail)


class Simulator:
    """Simulates consecutive business days for one world; echoes due on a later day are carried over."""

    def __init__(self, world: World, seed: int, per_day: int | None = None) -> None:
        self.world = world
        self.seed = seed
        self.per_day = world.per_day if per_day is None else per_day
        self.pending: dict[date, list[tuple[str, Line]]] = defaultdict(list)

    # ------------------------------------------------------------------------------------------------- the day

    def simulate_day(self, day: date) -> DayOutput:
        self.rng = rng = random.Random(f"finflow-day-{self.seed}-{day.isoformat()}")
        self.day = day
        self.daytag = f"{day:%Y%m%d}"
        self.day_iso = day.isoformat()
        self.epoch = calendar.timegm(day.timetuple())
        self.out = DayOutput(day)
        self.txn_prefix = f"T{self.daytag}-"
        self.txns_append = self.out.txns.append
        self.index = 0
        self.bank: dict[str, list[Line]] = {key: [] for key in self.world.accounts}
        self.used_contracts: set[int] = set()
        self.stripe_net = 0
        self.paypal_net = 0
        self.adyen_rows: list[AdyenRow] = []
        self.adyen_lines: list[Line] = []
        self.adyen_net = 0
        self.new_recent: dict[str, list] = defaultdict(list)

        per_day = self.per_day
        aggregates: list[str] = []
        employees = 0
        if per_day >= MIN_FOR_AGGREGATES:
            aggregates = ["stripe_payout", "paypal_withdrawal", "adyen_payout"]
            if is_payday(day) and len(self.world.employees) * 3 <= per_day:
                aggregates += ["payroll_run", "payroll_funding"]
                employees = len(self.world.employees)
        volume = per_day - len(aggregates) - employees
        counts = allocate(volume, [w for _, w in VOLUME], rng)
        for (kind, _), count in zip(VOLUME, counts, strict=True):
            if count:
                getattr(self, f"_{kind}")(count)
        missing = 0
        if "payroll_run" in aggregates:
            self._payroll(day)  # the run lines, the net-pay debit and its funding transfer
        for kind in ("stripe_payout", "paypal_withdrawal", "adyen_payout"):
            if kind in aggregates and not getattr(self, f"_{kind}")():
                missing += 1
        if missing:
            self._ops_vendor(missing)  # keep the day's count exact when a processor had nothing to pay out

        for key, line in self.pending.pop(day, []):
            self.bank[key].append(line)
        self._statements()
        for name, items in self.new_recent.items():
            self.world.recent[name].extend(items)
        return self.out

    def _statements(self) -> None:
        rng = self.rng
        by_source: dict[str, list[AccountDay]] = defaultdict(list)
        for key, account in self.world.accounts.items():
            lines = self.bank[key]
            rng.shuffle(lines)  # statements list lines in booking order, not by flow
            account.sequence += 1
            statement = AccountDay(
                account.number,
                account.currency,
                self.day,
                account.balance,
                lines,
                bank_id=account.bank_id,
                name=account.name,
                sequence=account.sequence,
                gl_code=account.gl_code,
            )
            for line in lines:
                line.account = key
            account.balance = statement.closing
            by_source[account.source].append(statement)
        self.out.statements = dict(by_source)

    # ------------------------------------------------------------------------------------------------- helpers

    def _txn(
        self, cents: int, currency: str, counterparty: str, description: str, category: str, anomaly: str = ""
    ) -> Txn:
        self.index = index = self.index + 1
        txn_id = f"{self.txn_prefix}{index:07d}"
        txn = Txn(txn_id, self.day, cents, currency, counterparty, description, category, anomaly)
        self.txns_append(txn)
        return txn

    def _anomaly(self, kinds: tuple[str, ...]) -> str:
        """An anomaly kind for ``ANOMALY_RATE`` of calls, else ''. Callers guard with ``rng.random() < ANOMALY_RATE``
        so the common case costs no call."""
        return pick(self.rng, kinds)

    def _note(self, txn: Txn, source: str, detail: str) -> None:
        self.out.anomalies.append((txn, source, detail))

    def _seconds(self, odd: bool = False) -> int:
        if odd:
            return between(self.rng, 2 * 3600, 5 * 3600 - 1)
        return between(self.rng, 13 * 3600, 23 * 3600 + 3599)  # US business hours, in UTC

    def _clock(self, seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def _echo(self, key: str, line: Line, on: date) -> None:
        """A view booked in a bank account on ``on`` (today, or carried to a later day)."""
        if on == self.day:
            self.bank[key].append(line)
        else:
            self.pending[on].append((key, line))

    def _bank_ref(self) -> str:
        return f"{self.daytag[2:]}{digits(self.rng, 10)}"

    # ------------------------------------------------------------------------------------------------- Stripe

    def _stripe_object(
        self, txn: Txn, kind: str, amount: int, fee: int, seconds: int, source: str | None, description: str
    ) -> None:
        rng = self.rng
        created = self.epoch + seconds
        obj = [
            f"txn_1{self.world.id_salt}{code(rng, 19, ALNUM_MIXED)}",
            amount,
            created,
            created + 2 * 86400,
            description,
            fee,
            "fee" if kind == "stripe_fee" else kind,
            source,
            "pending",
            kind,
            None,
        ]
        line = Line(txn, amount, self.day, description, source="stripe", object_id=obj[0])
        self.out.stripe.append((created, obj, line))
        self.stripe_net += amount - fee

    def _stripe_charge(self, n: int) -> None:
        rng, customers = self.rng, self.world.customers
        for _ in range(n):
            anomaly = "" if rng.random() >= ANOMALY_RATE else self._anomaly(("amount_spike", "odd_hours"))
            cents = log_uniform_cents(rng, *STRIPE_SALE)
            if anomaly == "amount_spike":
                cents = spike_cents(cents, between(rng, 8, 20), *STRIPE_SALE)
            fee = int(cents * 0.029 + 30.5)
            description = pick(rng, _STRIPE_DESCRIPTIONS).fill(rng, self.day)
            customer = pick(rng, customers)
            txn = self._txn(cents, "USD", customer.name, description, "revenue_card_sales", anomaly)
            seconds = self._seconds(anomaly == "odd_hours")
            self._stripe_object(txn, "charge", cents, fee, seconds, f"ch_3{code(rng, 23, ALNUM_MIXED)}", description)
            if anomaly:
                self._note(
                    txn,
                    "stripe",
                    "amount x8-20" if anomaly == "amount_spike" else f"created {self._clock(seconds)} UTC",
                )

    def _stripe_refund(self, n: int) -> None:
        rng, customers = self.rng, self.world.customers
        for _ in range(n):
            cents = log_uniform_cents(rng, 5, 500)
            description = f"REFUND FOR CHARGE (Order #{digits(rng, 6)})"
            txn = self._txn(-cents, "USD", pick(rng, customers).name, description, "refund_chargeback")
            self._stripe_object(
                txn, "refund", -cents, 0, self._seconds(), f"re_3{code(rng, 23, ALNUM_MIXED)}", description
            )

    def _stripe_fee(self, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            cents = log_uniform_cents(rng, 1, 60)
            description = f"{pick(rng, ('Billing - Usage Fee', 'Radar', 'Invoicing (Starter)'))} ({self.day_iso})"
            txn = self._txn(-cents, "USD", "Stripe", description, "payment_processing_fee")
            self._stripe_object(txn, "stripe_fee", -cents, 0, self._seconds(), None, description)

    def _stripe_payout(self) -> bool:
        net = self.stripe_net
        items = list(self.out.stripe)
        if net <= 0 or not items:
            return False
        rng = self.rng
        payout_id = f"po_1{self.world.id_salt}{code(rng, 19, ALNUM_MIXED)}"
        txn = self._txn(-net, "USD", "Stripe", "STRIPE PAYOUT", "payout_settlement")
        txn.group_id = payout_id
        self.stripe_net = 0  # the payout's own row is not part of what it pays out
        self._stripe_object(txn, "payout", -net, 0, 23 * 3600 + 1800, payout_id, "STRIPE PAYOUT")
        self.stripe_net = 0
        arrival = add_business_days(self.day, 1 if rng.random() < 0.8 else 2)
        available = calendar.timegm(arrival.timetuple())
        for _, obj, line in self.out.stripe:
            obj[STRIPE_PAYOUT] = payout_id
            obj[STRIPE_AVAILABLE_ON] = available
            obj[STRIPE_STATUS] = "available"
            line.txn.group_id = payout_id
        deposit = Line(
            txn,
            net,
            arrival,
            f"STRIPE TRANSFER ST-{code(rng, 10)} {payout_id}",
            counterparty="Stripe",
            code="ach",
            role="echo",
            match_type="stripe_payout",
            doc_ref=payout_id,
        )
        self._echo("operating", deposit, arrival)
        return True

    # ------------------------------------------------------------------------------------------------- PayPal

    def _paypal_object(
        self, txn: Txn, event: str, gross: int, fee: int, seconds: int, subject: str, payer: tuple, invoice: str | None
    ) -> str:
        stamp = f"{self.day_iso}T{self._clock(seconds)}+0000"
        transaction_id = code(self.rng, 17)
        text = paypal_text(transaction_id, event, stamp, gross, fee, subject, invoice, *payer)
        line = Line(txn, gross, self.day, subject, source="paypal", object_id=transaction_id)
        self.out.paypal.append((stamp, text, line))
        self.paypal_net += gross + fee
        return transaction_id

    def _payer(self) -> tuple[str, str | None, str]:
        """(account_id, email_address, payer name) of a paying customer (the contract's payer_info has no email)."""
        customer = pick(self.rng, self.world.customers)
        return customer.paypal_id, None, customer.name

    def _paypal_sale(self, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            anomaly = "" if rng.random() >= ANOMALY_RATE else self._anomaly(("amount_spike", "odd_hours"))
            gross = log_uniform_cents(rng, *PAYPAL_SALE)
            if anomaly == "amount_spike":
                gross = spike_cents(gross, between(rng, 8, 20), *PAYPAL_SALE)
            fee = -int(gross * 0.0349 + 49.5)
            payer = self._payer()
            subject = f"Order {digits(rng, 5)}"
            txn = self._txn(gross, "USD", payer[2], subject, "revenue_card_sales", anomaly)
            seconds = self._seconds(anomaly == "odd_hours")
            self._paypal_object(txn, "T0006", gross, fee, seconds, subject, payer, f"INV-P{digits(rng, 6)}")
            if anomaly:
                self._note(
                    txn,
                    "paypal",
                    "amount x8-20" if anomaly == "amount_spike" else f"initiated {self._clock(seconds)} UTC",
                )

    def _paypal_refund(self, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            gross = log_uniform_cents(rng, 5, 400)
            fee = int(gross * 0.0349)  # the percentage fee comes back
            payer = self._payer()
            subject = f"Refund Order {digits(rng, 5)}"
            txn = self._txn(-gross, "USD", payer[2], subject, "refund_chargeback")
            self._paypal_object(txn, "T1107", -gross, fee, self._seconds(), subject, payer, None)

    def _paypal_withdrawal(self) -> bool:
        net = self.paypal_net
        if net <= 0 or not self.out.paypal:
            return False
        txn = self._txn(-net, "USD", "PayPal", "Withdrawal to bank account", "payout_settlement")
        payer = ("NWANALYTICS01", None, COMPANY)
        subject = "Withdrawal to bank account"
        withdrawal_id = self._paypal_object(txn, "T0400", -net, 0, 23 * 3600 + 2700, subject, payer, None)
        txn.group_id = withdrawal_id
        for _, _, line in self.out.paypal:
            line.txn.group_id = withdrawal_id
        arrival = add_business_days(self.day, 1)
        deposit = Line(
            txn,
            net,
            arrival,
            f"PAYPAL TRANSFER {withdrawal_id} WEB ID: PAYPALSI77",
            counterparty="PayPal",
            code="ach",
            role="echo",
            match_type="paypal_withdrawal",
            doc_ref=withdrawal_id,
        )
        self._echo("operating", deposit, arrival)
        return True

    # ------------------------------------------------------------------------------------------------- Adyen

    def _adyen_row(
        self, txn: Txn, kind: str, gross: int, net: int, commission: int | None, seconds: int, reference: str
    ) -> None:
        rng = self.rng
        method, variant = pick(rng, _CARD_METHODS)
        credit = kind == "Settled"
        row = AdyenRow(
            psp_reference=digits(rng, 16),
            merchant_reference=reference,
            payment_method=method,
            created=f"{self.day_iso} {self._clock(seconds)}",
            type=kind,
            modification_reference=digits(rng, 16),
            gross_debit=None if credit else gross,
            gross_credit=gross if credit else None,
            net_debit=None if credit else net,
            net_credit=net if credit else None,
            commission=commission,
            variant=variant,
        )
        line = Line(txn, gross if credit else -gross, self.day, "", source="adyen")
        self.adyen_rows.append(row)
        self.adyen_lines.append(line)
        self.adyen_net += net if credit else -net

    def _adyen_settled(self, n: int) -> None:
        rng, customers = self.rng, self.world.eu_customers
        for _ in range(n):
            anomaly = "" if rng.random() >= ANOMALY_RATE else self._anomaly(("amount_spike",))
            gross = log_uniform_cents(rng, *ADYEN_SALE)
            if anomaly:
                gross = spike_cents(gross, between(rng, 8, 20), *ADYEN_SALE)
                anomaly = "amount_spike"
            commission = int(gross * 0.012 + 10.5)
            reference = f"ORD-{digits(rng, 8)}"
            txn = self._txn(gross, "EUR", pick(rng, customers), reference, "revenue_card_sales", anomaly)
            self._adyen_row(
                txn, "Settled", gross, gross - commission, commission, between(rng, 6 * 3600, 22 * 3600), reference
            )
            if anomaly:
                self._note(txn, "adyen", "amount x8-20")

    def _adyen_refund(self, n: int, kind: str = "Refunded") -> None:
        rng, customers = self.rng, self.world.eu_customers
        for _ in range(n):
            gross = log_uniform_cents(rng, 10, 600)
            reference = f"ORD-{digits(rng, 8)}"
            txn = self._txn(-gross, "EUR", pick(rng, customers), reference, "refund_chargeback")
            self._adyen_row(txn, kind, gross, gross, None, between(rng, 6 * 3600, 22 * 3600), reference)

    def _adyen_chargeback(self, n: int) -> None:
        self._adyen_refund(n, "Chargeback")

    def _adyen_payout(self) -> bool:
        net = self.adyen_net
        if net <= 0 or not self.adyen_rows:
            return False
        rng, world = self.rng, self.world
        batch = world.next_batch
        world.next_batch += 1
        transfer = f"TX{digits(rng, 10)}XT"
        modification = f"{transfer} batch {batch}, {MERCHANT_ACCOUNT} batch {batch}, {MERCHANT_ACCOUNT}"
        group = f"{MERCHANT_ACCOUNT} batch {batch}"
        txn = self._txn(-net, "EUR", "Adyen", modification, "payout_settlement")
        txn.group_id = group
        for line in self.adyen_lines:
            line.txn.group_id = group
        row = AdyenRow(
            "", "", "", f"{self.day_iso} 23:50:00", "MerchantPayout", modification, None, None, net, None, None
        )
        line = Line(txn, -net, self.day, modification, source="adyen")
        self.adyen_rows.append(row)
        self.adyen_lines.append(line)
        self.out.adyen = AdyenBatch(batch, self.adyen_rows, self.adyen_lines)
        arrival = add_business_days(self.day, 1)
        description = mt940_details(eref=transfer, name="Adyen N.V.", remittance=group, direction_in=True)
        deposit = Line(
            txn,
            net,
            arrival,
            description,
            counterparty="Adyen N.V.",
            reference=transfer[:16],
            bank_ref=self._bank_ref(),
            code="transfer",
            role="echo",
            match_type="adyen_payout",
            doc_ref=transfer,
        )
        self._echo("eu_main", deposit, arrival)
        return True

    # ------------------------------------------------------------------------------------------------- billing (AR)

    def _billing_object(
        self,
        txn: Txn,
        invoice: str,
        invoice_cents: int,
        amount: int,
        kind: str,
        method: str,
        customer: Customer,
        reference: str,
        seconds: int,
    ) -> Line:
        rng, world = self.rng, self.world
        pay_id = f"pay_{world.next_payment:07d}"
        world.next_payment += 1
        issued = self.day - timedelta(days=between(rng, 10, 60))
        updated = f"{self.day_iso}T{self._clock(min(seconds + between(rng, 60, 1800), 86399))}Z"
        text = billing_text(
            pay_id,
            invoice,
            invoice_cents,
            issued.isoformat(),
            (issued + timedelta(days=30)).isoformat(),
            customer.id,
            customer.name,
            amount,
            kind,
            method,
            f"{self.day_iso}T{self._clock(seconds)}Z",
            updated,
            reference,
        )
        line = Line(txn, amount, self.day, reference, source="billing", object_id=pay_id)
        self.out.billing.append((updated, text, line))
        return line

    def _billing_payment(self, n: int) -> None:
        rng, world = self.rng, self.world
        for _ in range(n):
            anomaly = "" if rng.random() >= ANOMALY_RATE else self._anomaly(("amount_spike",))
            customer = pick(rng, world.customers)
            invoice = f"INV-{world.next_invoice}"
            world.next_invoice += 1
            invoice_cents = log_uniform_cents(rng, *INVOICE)
            if anomaly:
                invoice_cents = spike_cents(invoice_cents, between(rng, 8, 20), *INVOICE)
            method = pick(rng, _PAYMENT_METHODS)
            amount = invoice_cents
            if method == "wire" and rng.random() < 0.1 and amount > 5000:
                amount -= pick(rng, (1500, 2500))  # intermediary bank fees deducted from the wire
            upper = customer.name.upper()
            if method == "wire":
                reference = f"WIRE REF {digits(rng, 4)} {invoice}"
                bank_text = f"INCOMING WIRE REF {digits(rng, 6)} {invoice} {upper}"
            elif method == "ach":
                reference = f"ACH {upper} {invoice}"
                bank_text = f"ACH CREDIT {upper} {invoice.replace('-', '')}"
            else:
                check = digits(rng, 5)
                reference = f"CHECK {check} {invoice}"
                bank_text = f"LOCKBOX CHECK {check} {upper} {invoice}"
            txn = self._txn(amount, "USD", customer.name, reference, "revenue_invoice_payment", anomaly)
            txn.group_id = invoice
            seconds = between(rng, 13 * 3600, 22 * 3600)
            self._billing_object(txn, invoice, invoice_cents, amount, "payment", method, customer, reference, seconds)
            if anomaly:
                self._note(txn, "billing", "invoice amount x8-20")
            if method == "check":
                line = Line(
                    txn,
                    amount,
                    self.day,
                    bank_text,
                    customer.name,
                    check,
                    digits(rng, 10),
                    "check",
                    "echo",
                    "invoice_payment",
                    invoice,
                )
                self._echo(pick(rng, ("lockbox_east", "lockbox_west")), line, self.day)
            else:
                line = Line(
                    txn,
                    amount,
                    self.day,
                    bank_text,
                    customer.name,
                    code=method,
                    role="echo",
                    match_type="invoice_payment",
                    doc_ref=invoice,
                )
                self._echo("operating", line, self.day)

    def _billing_refund(self, n: int) -> None:
        rng, world = self.rng, self.world
        for _ in range(n):
            customer = pick(rng, world.customers)
            invoice = f"INV-{between(rng, 10000, max(10000, world.next_invoice - 1))}"
            cents = log_uniform_cents(rng, 50, 3000)
            method = pick(rng, ("wire", "ach"))
            reference = f"REFUND {invoice}"
            txn = self._txn(-cents, "USD", customer.name, reference, "refund_chargeback")
            txn.group_id = invoice
            self._billing_object(
                txn, invoice, cents, -cents, "refund", method, customer, reference, between(rng, 13 * 3600, 22 * 3600)
            )
            text = f"{'OUTGOING WIRE' if method == 'wire' else 'ACH DEBIT'} REFUND {customer.name.upper()} {invoice}"
            line = Line(
                txn,
                -cents,
                self.day,
                text,
                customer.name,
                code=method,
                role="echo",
                match_type="invoice_refund",
                doc_ref=invoice,
            )
            self._echo("operating", line, self.day)

    # ------------------------------------------------------------------------------------------------- expenses

    def _expense_object(
        self, txn: Txn, merchant: str, mcc: str, cents: int, kind: str, posted: date, memo: str, holder: Employee
    ) -> None:
        rng = self.rng
        expense_id = f"exp_{rng.getrandbits(48):012x}"
        updated = f"{self.day_iso}T{self._clock(between(rng, 14 * 3600, 23 * 3600))}Z"
        posted_text = posted.isoformat()
        text = expense_text(
            expense_id, holder.card_last4, holder.name, merchant, mcc, cents, kind, posted_text, updated, memo
        )
        line = Line(txn, txn.cents, posted, memo or merchant, source="expenses", object_id=expense_id)
        self.out.expenses.append((updated, text, line))

    def _expense_purchase(self, n: int) -> None:
        rng, world = self.rng, self.world
        employees = world.employees
        recent = world.recent["expenses"]
        fresh = self.new_recent["expenses"]
        for _ in range(n):
            anomaly = (
                ""
                if rng.random() >= ANOMALY_RATE
                else self._anomaly(("amount_spike", "weekend", "round_amount", "new_counterparty", "duplicate_payment"))
            )
            if anomaly == "duplicate_payment" and not recent:
                anomaly = "amount_spike"
            merchant = CARD_MERCHANTS[bisect(_CARD_CUM, rng.random() * _CARD_CUM[-1])]
            name, mcc, category = merchant.name, merchant.mcc, merchant.category
            cents = log_uniform_cents(rng, merchant.low, merchant.high)
            memo = pick(rng, merchant.memos)
            holder = pick(rng, employees)
            posted = self.day
            detail = ""
            if anomaly == "amount_spike":
                cents = spike_cents(cents, between(rng, 8, 20), merchant.low, merchant.high)
                detail = "amount x8-20"
            elif anomaly == "weekend":
                posted = self.day - timedelta(days=self.day.weekday() + 2)  # the Saturday before
                detail = f"posted on {posted:%A}"
            elif anomaly == "round_amount":
                cents = pick(rng, ROUND_AMOUNTS[:5])
                detail = "round amount"
            elif anomaly == "new_counterparty":
                name, category = pick(rng, NEW_VENDORS)
                mcc, cents, memo = "7399", log_uniform_cents(rng, 5000, 40000), ""
                detail = "first payment to this merchant"
            elif anomaly == "duplicate_payment":
                name, mcc, category, cents, memo, holder, first = pick(rng, recent)
                detail = f"same merchant, amount and card as {first}"
            txn = self._txn(-cents, "USD", name, name, category, anomaly)
            txn.day = posted
            self._expense_object(txn, name, mcc, cents, "purchase", posted, memo, holder)
            if anomaly:
                self._note(txn, "expenses", detail)
            else:
                fresh.append((name, mcc, category, cents, memo, holder, txn.txn_id))

    def _expense_refund(self, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            merchant = CARD_MERCHANTS[bisect(_CARD_CUM, rng.random() * _CARD_CUM[-1])]
            cents = log_uniform_cents(rng, merchant.low, merchant.high)
            txn = self._txn(cents, "USD", merchant.name, merchant.name, merchant.category)
            self._expense_object(
                txn, merchant.name, merchant.mcc, cents, "refund", self.day, "Refund", pick(rng, self.world.employees)
            )

    # --------------------------------------------------------------------------------------------- operating account

    def _ops_vendor(self, n: int) -> None:
        rng, world, day = self.rng, self.world, self.day
        recent = world.recent["ops"]
        fresh = self.new_recent["ops"]
        lines = self.bank["operating"]
        for _ in range(n):
            cp = _VENDORS[bisect(_VENDOR_CUM, rng.random() * _VENDOR_CUM[-1])]
            recurring = cp.name in RECURRING
            kinds = ("amount_spike", "round_amount", "new_counterparty", "duplicate_payment")
            anomaly = "" if rng.random() >= ANOMALY_RATE else self._anomaly(kinds)
            if recurring and not anomaly and rng.random() < DRIFT_RATE:
                anomaly = "recurring_drift"
            if anomaly == "duplicate_payment" and not recent:
                anomaly = "amount_spike"
            name, category = cp.name, cp.category
            if recurring:
                contracts = world.contracts[name]
                contract = pick(rng, contracts)
                for _ in range(8):  # one bill per contract and day
                    if id(contract) not in self.used_contracts:
                        break
                    contract = pick(rng, contracts)
                self.used_contracts.add(id(contract))
                cents, description = contract.cents, contract.description
            else:
                cents = log_uniform_cents(rng, cp.low, cp.high)
                if cp.round_amounts:
                    cents = max(100_00, cents // 100_00 * 100_00)
                description = pick(rng, _VENDOR_TEMPLATES[name]).fill(rng, day)
            detail = ""
            if anomaly == "amount_spike":  # a recurring vendor's contracts are drawn from the same range
                cents = spike_cents(cents, between(rng, 8, 20), cp.low, cp.high)
                if cp.round_amounts:
                    cents = cents // 100_00 * 100_00
                detail = "amount x8-20"
            elif anomaly == "round_amount":
                cents = pick(rng, ROUND_AMOUNTS)
                detail = "round amount"
            elif anomaly == "new_counterparty":
                name, category = pick(rng, NEW_VENDORS)
                cents = log_uniform_cents(rng, 15000, 90000)
                description = f"{pick(rng, ('ACH DEBIT', 'WIRE OUT', 'BILL PAY'))} {name} {digits(rng, 6)}"
                cp = None
                detail = "first payment to this counterparty"
            elif anomaly == "recurring_drift":
                cents = int(cents * rng.uniform(1.25, 1.6))
                detail = f"usual amount {money(contract.cents)}"
            elif anomaly == "duplicate_payment":
                name, category, cents, description, first = pick(rng, recent)
                cp = None
                detail = f"same counterparty and amount as {first}"
            sign = cp.direction if cp is not None else -1
            description = collapse(description)
            txn = self._txn(sign * cents, "USD", name, description, category, anomaly)
            lines.append(Line(txn, sign * cents, day, description, name, code="ach"))
            if anomaly:
                self._note(txn, "bank_operating", detail)
            elif sign < 0 and not recurring:
                fresh.append((name, category, cents, description, txn.txn_id))

    # ------------------------------------------------------------------------------------------------- EUR account

    def _eu_vendor(self, n: int) -> None:
        rng, world, day = self.rng, self.world, self.day
        recent = world.recent["eu"]
        fresh = self.new_recent["eu"]
        lines = self.bank["eu_main"]
        for _ in range(n):
            anomaly = (
                ""
                if rng.random() >= ANOMALY_RATE
                else self._anomaly(("amount_spike", "round_amount", "new_counterparty", "duplicate_payment"))
            )
            if anomaly == "duplicate_payment" and not recent:
                anomaly = "amount_spike"
            vendor = EU_VENDORS[bisect(_EU_CUM, rng.random() * _EU_CUM[-1])]
            name, category = vendor.name, vendor.category
            cents = log_uniform_cents(rng, vendor.low, vendor.high)
            remittance = pick(rng, _EU_TEMPLATES[name]).fill(rng, day)
            kind = "dd" if vendor.direct_debit else "transfer"
            detail = ""
            if anomaly == "amount_spike":
                cents = spike_cents(cents, between(rng, 8, 20), vendor.low, vendor.high)
                detail = "amount x8-20"
            elif anomaly == "round_amount":
                cents = pick(rng, ROUND_AMOUNTS)
                detail = "round amount"
            elif anomaly == "new_counterparty":
                name, category = pick(rng, NEW_VENDORS)
                name = name.title()
                cents, remittance, kind = log_uniform_cents(rng, 15000, 90000), f"Invoice {digits(rng, 6)}", "transfer"
                detail = "first payment to this counterparty"
            elif anomaly == "duplicate_payment":
                name, category, cents, remittance, kind, first = pick(rng, recent)
                detail = f"same counterparty, amount and remittance as {first}"
            eref = f"{code(rng, 4)}{digits(rng, 10)}"
            description = mt940_details(eref=eref, name=name, remittance=remittance, direction_in=False)
            txn = self._txn(-cents, "EUR", name, description, category, anomaly)
            lines.append(Line(txn, -cents, day, description, name, "NONREF", self._bank_ref(), kind))
            if anomaly:
                self._note(txn, "bank_eu", detail)
            else:
                fresh.append((name, category, cents, remittance, kind, txn.txn_id))

    def _eu_customer(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            name = pick(rng, self.world.eu_customers)
            cents = log_uniform_cents(rng, 300, 25000)
            description = mt940_details(
                eref=f"{code(rng, 4)}{digits(rng, 10)}",
                name=name,
                remittance=f"Invoice EU-{digits(rng, 6)}",
                direction_in=True,
            )
            txn = self._txn(cents, "EUR", name, description, "revenue_invoice_payment")
            self.bank["eu_main"].append(
                Line(txn, cents, day, description, name, "NONREF", self._bank_ref(), "transfer")
            )

    def _eu_reserve(self, n: int) -> None:
        rng, day = self.rng, self.day
        reserve = self.world.accounts["eu_reserve"].number
        main = self.world.accounts["eu_main"].number
        for _ in range(n):
            cents = between(rng, 10, 100) * 1000_00
            eref = f"UMB{digits(rng, 10)}"
            out_text = mt940_details(
                eref=eref, name=COMPANY_EU, remittance=f"Umbuchung Rücklage {reserve}", direction_in=False
            )
            in_text = mt940_details(eref=eref, name=COMPANY_EU, remittance=f"Umbuchung von {main}", direction_in=True)
            txn = self._txn(-cents, "EUR", COMPANY_EU, out_text, "internal_transfer")
            self.bank["eu_main"].append(
                Line(txn, -cents, day, out_text, COMPANY_EU, "NONREF", self._bank_ref(), "transfer")
            )
            echo = Line(
                txn,
                cents,
                day,
                in_text,
                COMPANY_EU,
                "NONREF",
                self._bank_ref(),
                "transfer",
                "echo",
                "internal_transfer",
            )
            self.bank["eu_reserve"].append(echo)

    def _eu_fee(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 2, 80)
            description = mt940_details(
                remittance=f"Entgelt {pick(rng, ('Kontoführung', 'SEPA-Posten', 'Auslandszahlung'))} {day:%m.%Y}",
                direction_in=False,
            )
            txn = self._txn(-cents, "EUR", "Commerzbank", description, "bank_fee_interest")
            self.bank["eu_main"].append(Line(txn, -cents, day, description, "", "NONREF", self._bank_ref(), "fee"))

    # ------------------------------------------------------------------------------------------------- treasury

    def _treasury_from_ops(self, n: int) -> None:
        rng, day, accounts = self.rng, self.day, self.world.accounts
        for _ in range(n):
            cents = between(rng, 5, 250) * 1000_00
            reference = f"TRF{digits(rng, 10)}"
            text = f"ONLINE TRANSFER TO TREASURY XXXXXX{accounts['treasury'].number[-4:]} REF {reference}"
            txn = self._txn(-cents, "USD", COMPANY, text, "internal_transfer")
            self.bank["operating"].append(Line(txn, -cents, day, text, COMPANY, reference, code="transfer"))
            echo_text = f"TRANSFER FROM OPERATING XXXXXXXX{accounts['operating'].number[-4:]} REF {reference}"
            echo = Line(
                txn,
                cents,
                day,
                echo_text,
                COMPANY,
                reference,
                self._bank_ref(),
                "transfer",
                "echo",
                "internal_transfer",
            )
            self.bank["treasury"].append(echo)

    def _treasury_sweep(self, n: int) -> None:
        rng, day, accounts = self.rng, self.day, self.world.accounts
        for _ in range(n):
            cents = between(rng, 10, 500) * 1000_00
            reference = f"SWP{digits(rng, 10)}"
            text = f"SWEEP TO MONEY MARKET {accounts['money_market'].number}"
            txn = self._txn(-cents, "USD", COMPANY, text, "internal_transfer")
            self.bank["treasury"].append(Line(txn, -cents, day, text, COMPANY, reference, self._bank_ref(), "transfer"))
            echo_text = f"SWEEP FROM TREASURY {accounts['treasury'].number}"
            echo = Line(
                txn,
                cents,
                day,
                echo_text,
                COMPANY,
                reference,
                self._bank_ref(),
                "transfer",
                "echo",
                "internal_transfer",
            )
            self.bank["money_market"].append(echo)

    def _treasury_interest(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 50, 6000)
            text = f"INTEREST CREDIT MMF {day:%b %Y}".upper()
            txn = self._txn(cents, "USD", "Silicon Valley Bank", text, "bank_fee_interest")
            self.bank["money_market"].append(Line(txn, cents, day, text, "", "", self._bank_ref(), "interest"))

    def _treasury_loan(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = between(rng, 50, 500) * 100_00
            text = f"LOAN PAYMENT SVB TERM LOAN {digits(rng, 8)} PRINCIPAL AND INTEREST"
            txn = self._txn(-cents, "USD", "Silicon Valley Bank", text, "loan_financing")
            self.bank["treasury"].append(
                Line(txn, -cents, day, text, "Silicon Valley Bank", f"LN{digits(rng, 8)}", self._bank_ref(), "loan")
            )

    def _treasury_tax(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 5000, 250000)
            text = f"IRS USATAXPYMT ESTIMATED TAX {digits(rng, 12)}"
            txn = self._txn(-cents, "USD", "IRS", text, "tax")
            self.bank["treasury"].append(
                Line(
                    txn,
                    -cents,
                    day,
                    text,
                    "Internal Revenue Service",
                    f"EFTPS{digits(rng, 9)}",
                    self._bank_ref(),
                    "tax",
                )
            )

    # ------------------------------------------------------------------------------------------------- payroll

    def _payroll_tax(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 1000, 40000)
            text = pick(
                rng,
                (
                    f"EFTPS USATAXPYMT {digits(rng, 12)}",
                    f"CA EDD SDI/UI TAX {digits(rng, 8)}",
                    f"NYS DTF WT {digits(rng, 9)}",
                ),
            )
            txn = self._txn(-cents, "USD", "Payroll taxes", text, "payroll_tax")
            self.bank["payroll"].append(Line(txn, -cents, day, text, "TAX PAYMENT", "", self._fitid(), "tax"))

    def _payroll_fee(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 5, 120)
            text = pick(rng, ("ACH ORIGINATION FEE", "ACCOUNT ANALYSIS FEE", "RETURN ITEM FEE"))
            txn = self._txn(-cents, "USD", "Chase", text, "bank_fee_interest")
            self.bank["payroll"].append(Line(txn, -cents, day, text, "SERVICE CHARGE", "", self._fitid(), "fee"))

    def _lockbox_fee(self, n: int) -> None:
        rng, day = self.rng, self.day
        for _ in range(n):
            cents = log_uniform_cents(rng, 5, 150)
            text = pick(rng, ("LOCKBOX SERVICE FEE", "LOCKBOX ITEM PROCESSING FEE", "IMAGE ARCHIVE FEE"))
            txn = self._txn(-cents, "USD", "Lockbox bank", text, "bank_fee_interest")
            key = pick(rng, ("lockbox_east", "lockbox_west"))
            self.bank[key].append(Line(txn, -cents, day, text, "", "", digits(rng, 10), "fee"))

    def _fitid(self) -> str:
        return f"{self.daytag}{digits(self.rng, 12)}"

    def _payroll(self, day: date) -> None:
        rng, world = self.rng, self.world
        run_id = f"PR-{day.year}-{world.next_run:03d}"
        world.next_run += 1
        rows, lines, total = [], [], 0
        for number, employee in enumerate(world.employees, start=1):
            cents = int(employee.net_cents * rng.uniform(0.97, 1.03))
            description = f"Net pay {run_id} direct deposit ****{employee.card_last4}"
            txn = self._txn(-cents, "USD", employee.name, description, "payroll")
            txn.group_id = run_id
            line_id = f"{run_id}-{number:05d}"
            rows.append((run_id, line_id, day, employee.id, employee.name, description, cents, "USD"))
            lines.append(
                Line(txn, -cents, day, description, employee.name, run_id, object_id=line_id, source="payroll")
            )
            total += cents
        text = f"PAYROLL NET PAY {run_id} {len(rows)} ITEMS"
        txn = self._txn(-total, "USD", "Payroll run", text, "payroll")
        txn.group_id = run_id
        debit = Line(txn, -total, day, text, "PAYROLL ACH BATCH", run_id, self._fitid(), "payroll", doc_ref=run_id)
        self.out.payroll_runs.append(PayrollRun(run_id, rows, lines, debit))
        funding = -(-total // 1000_00) * 1000_00  # rounded up to the next thousand
        accounts = world.accounts
        reference = f"TRF{digits(rng, 10)}"
        text = f"ONLINE TRANSFER TO PAYROLL XXXXX{accounts['payroll'].number[-4:]} REF {reference}"
        txn = self._txn(-funding, "USD", COMPANY, text, "internal_transfer")
        self.bank["operating"].append(Line(txn, -funding, day, text, COMPANY, reference, code="transfer"))
        echo_text = f"ONLINE TRANSFER FROM OPERATING XXXXXXXX{accounts['operating'].number[-4:]} REF {reference}"
        echo = Line(
            txn, funding, day, echo_text, "TRANSFER", reference, self._fitid(), "transfer", "echo", "internal_transfer"
        )
        self.bank["payroll"] += [echo, debit]
