"""The anomaly model on a simulated sample: targets on the simulator's injected anomalies, reasons, scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.anomaly import AnomalyDetector, anomaly_input, configured_threshold, score_in_chunks, score_in_days
from ml.evaluation import detection_metrics

# kinds a detector sees every time in the rows the pipeline lands: a spike just above its counterparty's range
# needs more than this sample's few days of history to stand out, and a recurring bill whose description several
# contracts share is not distinguishable from normal traffic
OBSERVABLE = ("duplicate_payment", "new_counterparty", "round_amount", "weekend", "odd_hours")


@pytest.fixture(scope="module")
def scored(simulated):
    """Fit on the first 60% of days, then score each later day against everything before it, as the pipeline does."""
    frame = simulated.primary
    data = anomaly_input(frame)
    days = np.sort(data["booked_date"].dt.normalize().unique())
    cutoff = days[int(len(days) * 0.6)]
    history, later = data[data["booked_date"] < cutoff], data[data["booked_date"] >= cutoff]
    model = AnomalyDetector().fit(history)
    past = history.assign(is_flagged=model.score(history)["is_anomaly"].to_numpy())
    result = score_in_days(model, later, past)
    return frame.loc[later.index].join(result.rename(columns={"is_anomaly": "flagged"})), model


def test_meets_precision_and_queue_targets_on_injected_anomalies(scored):
    rows, _ = scored
    metrics = detection_metrics(rows["is_anomaly"].to_numpy(), rows["anomaly_score"].to_numpy() >= 0.95)
    assert metrics["anomalies"] >= 25
    assert metrics["precision"] >= 0.8, metrics
    assert metrics["queue_share"] <= 0.02, metrics
    daily = rows.groupby(rows["booked_date"].dt.normalize())["anomaly_score"].apply(lambda s: (s >= 0.95).mean())
    assert daily.max() <= 0.02
    # the full target (recall >= 0.90) is measured by bench/bench_models.py on 10 days of history; this sample has 6
    assert metrics["recall"] >= 0.7, metrics
    spikes = rows[rows["anomaly_kind"] == "amount_spike"]
    assert len(spikes) >= 10 and spikes["flagged"].mean() >= 0.6, spikes["flagged"].mean()
    observable = rows[rows["anomaly_kind"].isin(OBSERVABLE) | ~rows["is_anomaly"].astype(bool)]
    seen = detection_metrics(observable["is_anomaly"].to_numpy(), observable["anomaly_score"].to_numpy() >= 0.95)
    assert seen["recall"] >= 0.85, seen


def test_scores_are_in_unit_interval_and_flags_have_reasons(scored):
    rows, _ = scored
    assert rows["anomaly_score"].between(0.0, 1.0).all()
    flagged = rows[rows["flagged"]]
    assert (flagged["anomaly_reasons"].str.len() > 10).all()
    assert not rows.loc[rows["anomaly_score"] < 0.5, "anomaly_reasons"].astype(bool).any()
    reasons = " ".join(rows.loc[rows["anomaly_score"] >= 0.95, "anomaly_reasons"])
    assert "usual maximum" in reasons or "first payment" in reasons or "same payee" in reasons


def test_each_signal_explains_itself():
    """Hand-made history: a regular payee, then a tenfold payment, a next-day repeat, a weekend card purchase."""
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2026-09-01", periods=40)
    rows = []
    for number, day in enumerate(np.repeat(days, 30)):
        amount = -round(float(np.exp(rng.uniform(np.log(20), np.log(400)))), 2)
        rows.append((f"t{number}", "expenses", day, amount, f"MERCHANT {number % 40}", f"card {number % 7}"))
    history = pd.DataFrame(rows, columns=["transaction_id", "source", "booked_date", "amount", "counterparty", "x"])
    history = history.assign(description="Team lunch", category="meals_entertainment", instrument=history["x"])
    model = AnomalyDetector().fit(anomaly_input(history))
    new_day = pd.Timestamp("2026-10-27")
    batch = pd.DataFrame(
        {
            "transaction_id": ["spike", "repeat-1", "repeat-2", "saturday"],
            "source": "expenses",
            "booked_date": [new_day, new_day - pd.Timedelta(days=1), new_day, pd.Timestamp("2026-10-31")],
            "amount": [-4000.0, -123.45, -123.45, -55.10],
            "counterparty": ["MERCHANT 3", "MERCHANT 5", "MERCHANT 5", "MERCHANT 9"],
            "description": "Team lunch",
            "category": "meals_entertainment",
            "instrument": ["card 1", "card 2", "card 2", "card 3"],
        }
    )
    result = model.score(anomaly_input(batch), anomaly_input(history).assign(is_flagged=False))
    by_id = dict(zip(batch["transaction_id"], result.itertuples(), strict=True))
    assert by_id["spike"].is_anomaly and "usual maximum" in by_id["spike"].anomaly_reasons
    assert not by_id["repeat-1"].is_anomaly
    assert by_id["repeat-2"].is_anomaly and "same payee, amount and description" in by_id["repeat-2"].anomaly_reasons
    assert by_id["saturday"].is_anomaly and "weekend" in by_id["saturday"].anomaly_reasons


def test_threshold_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("FINFLOW_ANOMALY_THRESHOLD", raising=False)
    assert configured_threshold() == 0.95
    monkeypatch.setenv("FINFLOW_ANOMALY_THRESHOLD", "0.9")
    assert configured_threshold() == 0.9
    monkeypatch.setenv("FINFLOW_ANOMALY_THRESHOLD", "1.5")
    with pytest.raises(ValueError):
        configured_threshold()


def test_a_backlog_is_scored_in_runs_of_whole_days_each_against_the_runs_before(scored, simulated):
    """A first run (weeks of backlog) is scored a few days at a time to bound memory: every row exactly once, no
    day split, each run against the earlier runs with their flags, and the flags agree with scoring it in one go."""
    _, model = scored
    data = anomaly_input(simulated.primary)
    day_of = data["booked_date"].dt.normalize().to_numpy()
    max_rows = int(pd.Series(day_of).value_counts().max() * 2)
    runs = list(score_in_chunks(model, data, max_rows=max_rows))
    assert len(runs) >= 3
    assert sorted(np.concatenate([positions for positions, _ in runs]).tolist()) == list(range(len(data)))
    last_day = None
    for positions, scores in runs:
        assert len(positions) <= max_rows and scores.index.equals(data.index[positions])
        days = day_of[positions]
        assert last_day is None or days.min() > last_day  # whole days, in time order
        last_day = days.max()
    (first, first_scores), (second, second_scores) = runs[0], runs[1]
    past = data.iloc[first].assign(is_flagged=first_scores["is_anomaly"].to_numpy())
    pd.testing.assert_frame_equal(second_scores, model.score(data.iloc[second], past))
    in_runs = score_in_days(model, data, max_rows=max_rows)
    assert in_runs.index.equals(data.index)
    at_once = model.score(data)
    agree = (in_runs["is_anomaly"] == at_once["is_anomaly"]).mean()
    assert agree >= 0.995, agree


def _card_sales(regular: dict[str, list[float]], seed: int = 1) -> pd.DataFrame:
    """40 business days of PayPal sales: 30 a day from 60 one-off-looking payers whose amounts range 5-2,000 (so
    400.00 or 50,000.00-sized outliers aside, any amount is ordinary for the category), plus the given regular
    payers' payments, one every third day."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2026-09-01", periods=40)
    rows = []
    for number, day in enumerate(np.repeat(days, 30)):
        amount = round(float(np.exp(rng.uniform(np.log(5), np.log(2000)))), 2)
        rows.append((f"t{number}", day, amount, f"PAYER {number % 60}"))
    for name, amounts in regular.items():
        for k, amount in enumerate(amounts):
            rows.append((f"{name}-{k}", days[3 * k], amount, name))
    frame = pd.DataFrame(rows, columns=["transaction_id", "booked_date", "amount", "counterparty"])
    return frame.assign(
        source="paypal", description="Order", category="revenue_card_sales", instrument="", occurred_at=pd.NaT
    )


def _sale(name: str, amount: float, transaction_id: str = "new") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [transaction_id],
            "source": "paypal",
            "booked_date": [pd.Timestamp("2026-10-28")],
            "amount": [amount],
            "counterparty": [name],
            "description": "Order",
            "category": "revenue_card_sales",
            "instrument": "",
            "occurred_at": pd.NaT,
        }
    )


def _score_sale(history: pd.DataFrame, name: str, amount: float) -> pd.Series:
    past = anomaly_input(history).assign(is_flagged=False)
    model = AnomalyDetector().fit(past)
    return model.score(anomaly_input(_sale(name, amount)), past).iloc[0]


HABIT = [39.5, 40.0, 41.2, 38.9, 40.0, 42.0, 39.0, 40.5, 41.0, 39.9, 40.0, 38.5]  # a regular paying about 40.00


def test_a_regular_customers_tenfold_payment_is_flagged_against_its_own_habit():
    """400.00 is an ordinary sale for the category (amounts reach 2,000), but ten times what this payer always pays."""
    result = _score_sale(_card_sales({"ACME LLC": HABIT}), "ACME LLC", 400.0)
    assert result["is_anomaly"], result
    assert "is 10.0x the usual 40.00 of ACME LLC (median of its 12 earlier payments" in result["anomaly_reasons"]
    # the same amount from a payer without that habit is an ordinary sale
    assert not _score_sale(_card_sales({"ACME LLC": HABIT}), "PAYER 7", 400.0)["is_anomaly"]


@pytest.mark.parametrize(
    ("regular", "amount", "why"),
    [
        ([50_000.0 + 250 * k for k in range(12)], 52_000.0, "large for the category, but what this payer always pays"),
        ([float(a) for a in np.geomspace(5, 150, 12)], 400.0, "a payer whose amounts range widely has no such habit"),
        (HABIT[:4], 400.0, "four payments are not a habit yet"),
        (HABIT + [395.0], 400.0, "the payer paid about this once before (not flagged, or cleared by a reviewer)"),
    ],
)
def test_an_amount_within_the_counterpartys_own_habit_is_not_flagged(regular, amount, why):
    result = _score_sale(_card_sales({"ACME LLC": regular}), "ACME LLC", amount)
    assert not result["is_anomaly"], (why, result)


def test_reasons_quote_the_transactions_own_currency_and_name_base_currency_figures():
    """A EUR payment compared with a USD-booked habit: its own 370.37 EUR is quoted, and the figures it is measured
    against (and its converted 400.00) are said to be base-currency ones."""
    history = _card_sales({"ACME LLC": HABIT}).assign(currency="USD")
    history["amount_base"] = history["amount"]
    past = anomaly_input(history).assign(is_flagged=False)
    model = AnomalyDetector().fit(past)
    foreign = _sale("ACME LLC", 370.37).assign(currency="EUR", amount_base=400.0)
    result = model.score(anomaly_input(foreign), past).iloc[0]
    assert result["is_anomaly"], result
    assert (
        "amount 370.37 EUR (400.00 base-currency equivalent) is 10.0x the usual 40.00 base currency of ACME LLC"
        in (result["anomaly_reasons"])
    )
    domestic = _sale("ACME LLC", 400.0).assign(currency="USD", amount_base=400.0)
    reasons = model.score(anomaly_input(domestic), past).iloc[0]["anomaly_reasons"]
    assert "amount 400.00 USD is 10.0x the usual 40.00 of ACME LLC" in reasons and "base" not in reasons
