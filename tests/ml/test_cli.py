"""``finflow train --history`` and ``finflow categorize`` end to end: a user's history file with its own category
codes, a real MLflow SQLite registry, the champion categorizing a CSV with the analysts' rules."""

import csv

import pandas as pd
import pytest

from finflow_assets.cli import main


@pytest.fixture(scope="module")
def custom_codes(simulated):
    """The simulated team's history relabeled with a ledger's own codes ("6100 Software"...)."""
    names = sorted(simulated.history["category"].unique())
    return {name: f"{6000 + 10 * number} {name.replace('_', ' ').title()}" for number, name in enumerate(names)}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # whatever runs here must not leave an mlruns/ folder behind
    return uri


def test_train_on_a_history_file_then_categorize_a_csv(simulated, custom_codes, registry, tmp_path, capsys):
    history = simulated.history.assign(category=simulated.history["category"].map(custom_codes))
    history_file = tmp_path / "ledger_history.csv"
    history[["date", "description", "amount", "currency", "category"]].to_csv(history_file, index=False)

    assert main(["train", "--history", str(history_file)]) == 0
    out = capsys.readouterr().out
    assert "finflow-categorizer v1" in out and "promoted" in out and "accuracy" in out
    assert not (tmp_path / "mlruns").exists()
    assert (tmp_path / "mlflow" / "artifacts").is_dir()  # artifacts beside the store

    rows = simulated.primary[simulated.primary["source"].isin(["bank_operating", "expenses", "stripe"])].head(600)
    incoming = tmp_path / "incoming.csv"
    columns = ["booked_date", "description", "counterparty", "amount", "currency", "source", "transaction_type"]
    rows[columns].to_csv(incoming, index=False)
    categorized = tmp_path / "categorized.csv"
    assert main(["categorize", str(incoming), "-o", str(categorized)]) == 0
    assert "by rule" in capsys.readouterr().out
    result = pd.read_csv(categorized, dtype=str, keep_default_na=False)
    assert list(result.columns) == [
        *columns,
        "category",
        "confidence",
        "method",
        "suggested_category",
        "needs_review",
        "categorized_by",
    ]
    assert len(result) == len(rows) and set(result["method"]) <= {"rule", "ml"}
    by_model = result[(result["method"] == "ml") & (result["needs_review"] == "False")]
    assert set(by_model["category"]) <= set(custom_codes.values())  # the model speaks the file's codes
    assert by_model["categorized_by"].eq("finflow-categorizer@1").all()
    assert pd.to_numeric(by_model["confidence"]).min() >= 0.5
    truth = rows["category"].map(custom_codes).to_numpy()[by_model.index]
    assert (by_model["category"].to_numpy() == truth).mean() >= 0.97
    ruled = result[result["method"] == "rule"]
    assert len(ruled) and ruled["confidence"].astype(float).eq(1.0).all()  # analyst rules (taxonomy codes) win
    review = result[result["needs_review"] == "True"]
    assert (review["category"] == "uncategorized").all() and (review["suggested_category"] != "").all()
    # the file's own text survives as written (amounts as text, not reformatted)
    with incoming.open() as a, categorized.open() as b:
        assert [r["amount"] for r in csv.DictReader(a)] == [r["amount"] for r in csv.DictReader(b)]

    assert main(["categorize", str(incoming), "-o", str(categorized), "--no-rules"]) == 0
    assert set(pd.read_csv(categorized)["method"]) == {"ml"}


def test_train_refuses_a_file_without_the_needed_columns(tmp_path, registry):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,memo,amount\n2026-01-02,COFFEE,-3.50\n")
    with pytest.raises(SystemExit, match="missing columns"):
        main(["train", "--history", str(bad)])


def test_categorize_without_a_champion_says_so(tmp_path, registry, capsys):
    incoming = tmp_path / "in.csv"
    incoming.write_text("description,amount\nZOOM.US 888-799-9666,-15.99\n")
    assert main(["categorize", str(incoming), "-o", str(tmp_path / "out.csv")]) == 2
    assert "no 'champion'" in capsys.readouterr().err
