"""The ground truth is consistent with itself and with what the sources show (echoes, aggregates, mirrors)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

from finflow_simulator.catalog import CARD_MERCHANTS, COUNTERPARTIES, EU_VENDORS, GL_ACCOUNTS
from finflow_simulator.engine import ADYEN_SALE, INVOICE, PAYPAL_SALE, STRIPE_SALE, spike_cents

from .conftest import DAYS, PER_DAY, SimRun

CENT = Decimal("0.01")


def _record(parsed: dict, match: dict, side: str) -> dict:
    return parsed[(match[f"{side}_source"], match[f"{side}_file"])][int(match[f"{side}_row"])]


def _matches(sim: SimRun, kind: str) -> list[dict[str, str]]:
    return [m for m in sim.table("matches.csv") if m["match_type"] == kind]


def test_every_transaction_has_exactly_one_primary_row(sim: SimRun) -> None:
    transactions = {t["txn_id"]: t for t in sim.table("transactions.csv")}
    primaries = Counter()
    for row in sim.table("source_rows.csv"):
        assert row["txn_id"] in transactions, row
        if row["role"] == "primary":
            primaries[row["txn_id"]] += 1
            txn = transactions[row["txn_id"]]
            assert (txn["source"], txn["source_file"], txn["source_row"]) == (row["source"], row["file"], row["row"])
            assert Decimal(txn["amount"]) == Decimal(row["amount"]) and txn["booked_date"] == row["booked_date"]
    assert set(primaries) == set(transactions) and set(primaries.values()) == {1}
    assert {t["category"] for t in transactions.values()} <= set(GL_ACCOUNTS)


def test_stripe_payout_deposit_equals_the_net_of_its_balance_transactions(sim: SimRun, parsed: dict) -> None:
    objects = [json.loads(line) for line in (sim.api / "stripe.jsonl").read_text().splitlines()]
    net_by_payout: dict[str, int] = defaultdict(int)
    payouts = {}
    for obj in objects:
        assert obj["net"] == obj["amount"] - obj["fee"]
        if obj["type"] == "payout":
            payouts[obj["payout"]] = obj
        else:
            net_by_payout[obj["payout"]] += obj["net"]
    assert payouts and set(payouts) == set(net_by_payout)
    for payout_id, payout in payouts.items():
        assert -payout["amount"] == net_by_payout[payout_id] > 0
    deposits = _matches(sim, "stripe_payout")
    assert {m["left_id"] for m in deposits} == {p["id"] for p in payouts.values()}
    by_txn = {p["id"]: p for p in payouts.values()}
    landed = 0
    for match in deposits:
        payout = by_txn[match["left_id"]]
        if match["matchable"] == "0":  # still in transit after the last simulated day
            assert match["right_id"].startswith("due ")
            continue
        deposit = _record(parsed, match, "right")
        assert Decimal(deposit["amount"]) == Decimal(net_by_payout[payout["payout"]]) * CENT
        assert payout["payout"] in deposit["description"] and deposit["description"].startswith("STRIPE TRANSFER")
        lag = (
            date.fromisoformat(deposit["booked_date"])
            - date.fromisoformat(_record(parsed, match, "left")["booked_date"])
        ).days
        assert 1 <= lag <= 4  # one or two business days later
        landed += 1
    assert landed >= DAYS - 3


def test_paypal_withdrawal_reaches_the_operating_account(sim: SimRun, parsed: dict) -> None:
    objects = [json.loads(line)["transaction_info"] for line in (sim.api / "paypal.jsonl").read_text().splitlines()]
    groups = {t["txn_id"]: t["group_id"] for t in sim.table("transactions.csv") if t["source"] == "paypal"}
    rows = {r["object_id"]: r["txn_id"] for r in sim.table("source_rows.csv") if r["source"] == "paypal"}
    net: dict[str, Decimal] = defaultdict(Decimal)
    withdrawals = {}
    for info in objects:
        group = groups[rows[info["transaction_id"]]]
        if info["transaction_event_code"] == "T0400":
            withdrawals[info["transaction_id"]] = -Decimal(info["transaction_amount"]["value"])
        else:
            net[group] += Decimal(info["transaction_amount"]["value"]) + Decimal(info["fee_amount"]["value"])
    assert withdrawals and withdrawals == dict(net)
    for match in _matches(sim, "paypal_withdrawal"):
        if match["matchable"] == "1":
            deposit = _record(parsed, match, "right")
            assert Decimal(deposit["amount"]) == withdrawals[match["left_id"]]
            assert match["left_id"] in deposit["description"]


def test_adyen_batch_payout_settles_into_the_eur_account(sim: SimRun, parsed: dict) -> None:
    batches = sorted((sim.api / "adyen").glob("*.csv"))
    assert len(batches) == DAYS
    payouts = {}
    for path in batches:
        records = parsed[("adyen", path.name)].values()
        net = sum(
            Decimal(r["extra"]["net"])
            for r in records
            if r["transaction_type"] in ("Settled", "Refunded", "Chargeback")
        )
        payout = [r for r in records if r["transaction_type"] == "MerchantPayout"]
        assert len(payout) == 1 and -Decimal(payout[0]["amount"]) == net > 0
        payouts[(path.name, payout[0]["row"])] = net
    landed = 0
    for match in _matches(sim, "adyen_payout"):
        if match["matchable"] == "1":
            deposit = _record(parsed, match, "right")
            assert Decimal(deposit["amount"]) == payouts[(match["left_file"], int(match["left_row"]))]
            assert deposit["currency"] == "EUR" and "batch" in deposit["description"]
            landed += 1
    assert landed == DAYS - 1  # the last batch settles after the simulated days


def test_payroll_run_total_is_debited_from_the_payroll_account(sim: SimRun, parsed: dict) -> None:
    runs = _matches(sim, "payroll_run")
    assert runs
    for match in runs:
        lines = parsed[("payroll", match["left_file"])].values()
        debit = _record(parsed, match, "right")
        assert sum(Decimal(r["amount"]) for r in lines) == Decimal(debit["amount"]) < 0
        assert match["left_id"] in debit["description"]
        assert {r["booked_date"] for r in lines} == {debit["booked_date"]}


def test_invoice_payments_appear_at_the_bank_with_the_invoice_number(sim: SimRun, parsed: dict) -> None:
    matches = _matches(sim, "invoice_payment")
    assert {m["right_source"] for m in matches} == {"bank_operating", "bank_lockbox"}
    for match in matches:
        billing = _record(parsed, match, "left")
        bank = _record(parsed, match, "right")
        assert Decimal(bank["amount"]) == Decimal(billing["amount"]) > 0
        assert bank["booked_date"] == billing["booked_date"]
        invoice = billing["reference"]
        assert invoice in bank["description"] or invoice.replace("-", "") in bank["description"]


def test_ledger_lines_mirror_the_bank_lines(sim: SimRun, parsed: dict) -> None:
    matches = _matches(sim, "ledger_bank")
    bank_rows = sum(
        1 for r in sim.table("source_rows.csv") if r["source"].startswith("bank_") and r["role"] in ("primary", "echo")
    )
    assert len(matches) == bank_rows
    for match in matches:
        ledger, bank = _record(parsed, match, "left"), _record(parsed, match, "right")
        for key in ("amount", "booked_date", "description", "currency"):
            assert ledger[key] == bank[key], (key, ledger, bank)


def test_internal_transfers_show_both_sides(sim: SimRun, parsed: dict) -> None:
    matches = _matches(sim, "internal_transfer")
    assert {(m["left_source"], m["right_source"]) for m in matches} >= {
        ("bank_operating", "bank_payroll"),
        ("bank_operating", "bank_treasury"),
        ("bank_eu", "bank_eu"),
        ("bank_treasury", "bank_treasury"),
    }
    for match in matches:
        left, right = _record(parsed, match, "left"), _record(parsed, match, "right")
        assert Decimal(left["amount"]) == -Decimal(right["amount"]) and left["booked_date"] == right["booked_date"]


def test_anomalies_are_labeled_at_a_low_rate(sim: SimRun) -> None:
    transactions = {t["txn_id"]: t for t in sim.table("transactions.csv")}
    anomalies = sim.table("anomalies.csv")
    flagged = {t for t, row in transactions.items() if row["is_anomaly"] == "1"}
    assert {a["txn_id"] for a in anomalies} == flagged
    assert all(transactions[a["txn_id"]]["anomaly_kind"] == a["anomaly_kind"] for a in anomalies)
    assert 0.001 <= len(flagged) / (DAYS * PER_DAY) <= 0.01
    kinds = {a["anomaly_kind"] for a in anomalies}
    allowed = {"amount_spike", "odd_hours", "weekend", "round_amount", "new_counterparty", "duplicate_payment"}
    assert kinds <= allowed | {"recurring_drift"}


def test_amount_spikes_leave_their_counterpartys_range(sim: SimRun) -> None:
    """A spike is 8-20x an ordinary amount and lands above the range the counterparty's ordinary amounts span (the
    flow's range where a customer has none of its own), so the rows carry a trace of it."""
    flows = {"stripe": STRIPE_SALE, "paypal": PAYPAL_SALE, "adyen": ADYEN_SALE, "billing": INVOICE}
    own = {party.name: (party.low, party.high) for party in (*CARD_MERCHANTS, *COUNTERPARTIES, *EU_VENDORS)}
    spikes = [a for a in sim.table("anomalies.csv") if a["anomaly_kind"] == "amount_spike"]
    assert spikes
    for spike in spikes:
        _, high = flows.get(spike["source"]) or own[spike["counterparty"]]
        assert abs(Decimal(spike["amount"])) > Decimal(high) * Decimal("0.99"), spike  # a wire fee may come off


def test_spike_cents_multiplies_an_ordinary_amount_above_the_range() -> None:
    low, high = 5, 2000
    assert spike_cents(150_000, 10, low, high) == 1_500_000  # 1,500.00 x10 leaves the range as it is
    for cents in (500, 1_000, 10_000, 20_000):  # x10 of these would stay at or below 2,000.00
        spiked = spike_cents(cents, 10, low, high)
        assert high * 100 <= spiked <= high * 100 * 10
        assert low * 100 <= spiked / 10 <= high * 100  # still ten times an amount the counterparty pays
    assert spike_cents(1_000, 10, low, high) < spike_cents(10_000, 10, low, high)  # the order is kept
    assert spike_cents(1_000, 8, 10, 20) == 8_000  # a narrow range: any multiple leaves it


def test_duplicate_payments_repeat_an_earlier_payment(sim: SimRun) -> None:
    transactions = {t["txn_id"]: t for t in sim.table("transactions.csv")}
    for anomaly in sim.table("anomalies.csv"):
        if anomaly["anomaly_kind"] != "duplicate_payment":
            continue
        first = transactions[anomaly["detail"].rsplit(" ", 1)[-1]]
        duplicate = transactions[anomaly["txn_id"]]
        assert (first["amount"], first["counterparty"]) == (duplicate["amount"], duplicate["counterparty"])
        assert first["booked_date"] < duplicate["booked_date"]
