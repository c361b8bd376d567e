"""Any chart of accounts: category names with "&", "/", accents, emoji and 200 characters train, register in MLflow,
become champion and score through ``finflow categorize``; a vocabulary the champion does not speak is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finflow_assets.cli import main
from ml.categorizer import vocabulary_id
from ml.evaluation import metric_key
from ml.registry import _client

LONG = "Professional Services / " + "Legal, Accounting & Advisory " * 7
CATEGORIES = {
    "Fast Food & Takeouts": ["MCDONALDS F{n}", "BURGER KING #{n}", "SQ *TACO SHACK", "TST* PIZZA CORNER {n}"],
    "Tobacco & Smoking": ["SMOKE SHOP {n}", "TOBACCO EXPRESS #{n}", "VAPE CITY {n}"],
    "Rent/Lease": ["ACH DEBIT LANDLORD PROPERTIES LLC {n}", "RENT PAYMENT UNIT {n}"],
    "Café & Pâtisserie": ["CAFE DE FLORE {n}", "PAUL BOULANGERIE {n}", "STARBUCKS STORE {n}"],
    "Travel ✈️": ["DELTA AIR {n}", "UNITED AIRLINES {n}", "MARRIOTT HOTEL {n}"],
    LONG[:200]: ["DELOITTE LLP INV {n}", "BAKER MCKENZIE {n}", "KPMG ADVISORY {n}"],
}


def _history(days: int = 30, per_day: int = 12, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(CATEGORIES)
    rows = []
    for day in pd.date_range("2026-03-02", periods=days, freq="D"):
        for _ in range(per_day):
            category = names[rng.integers(len(names))]
            template = CATEGORIES[category][rng.integers(len(CATEGORIES[category]))]
            rows.append(
                {
                    "date": day.date().isoformat(),
                    "description": template.format(n=rng.integers(100, 9999)),
                    "amount": -round(float(rng.uniform(5, 500)), 2),
                    "currency": "EUR",
                    "category": category,
                }
            )
    return pd.DataFrame(rows)


def test_metric_keys_are_mlflow_safe_distinct_and_keep_plain_names():
    keys = {name: metric_key(name) for name in CATEGORIES}
    assert len(set(keys.values())) == len(keys)
    assert all(pd.Series(list(keys.values())).str.fullmatch(r"[A-Za-z0-9_\-./]{1,70}"))
    assert metric_key("groceries") == "groceries"  # a plain name stays as it is
    assert metric_key("A&B") != metric_key("A/B") and metric_key("A&B") != metric_key("A_B")
    assert len(LONG[:200]) == 200


@pytest.fixture
def registry(tmp_path, monkeypatch):
    (tmp_path / "mlflow").mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def test_any_category_names_train_register_promote_and_score(registry, tmp_path, capsys):
    history = _history()
    history_file = tmp_path / "ledger.csv"
    history.to_csv(history_file, index=False)

    assert main(["train", "--history", str(history_file)]) == 0
    out = capsys.readouterr().out
    assert "finflow-categorizer v1" in out and "promoted" in out
    assert f"vocabulary {vocabulary_id(CATEGORIES)}" in out and "6 categories" in out
    client = _client(registry)
    version = client.get_model_version("finflow-categorizer", "1")
    assert version.tags["vocabulary"] == vocabulary_id(CATEGORIES)
    run = client.get_run(version.run_id)
    assert f"class_{metric_key('Fast Food & Takeouts')}_f1" in run.data.metrics
    table = client.download_artifacts(version.run_id, "evaluation/per_class_metrics.csv", str(tmp_path))
    per_class = pd.read_csv(table)
    assert set(per_class["class"]) == set(CATEGORIES)  # the table keeps the real names beside their keys
    assert dict(zip(per_class["class"], per_class["metric_key"], strict=True))["Travel ✈️"] == metric_key("Travel ✈️")

    incoming = _history(days=2, per_day=30, seed=11)
    incoming_file = tmp_path / "incoming.csv"
    incoming.drop(columns=["category"]).to_csv(incoming_file, index=False)
    result_file = tmp_path / "out.csv"
    assert main(["categorize", str(incoming_file), "-o", str(result_file), "--no-rules"]) == 0
    out = capsys.readouterr().out
    assert "finflow-categorizer v1" in out and vocabulary_id(CATEGORIES) in out
    result = pd.read_csv(result_file, dtype=str, keep_default_na=False)
    applied = result[result["needs_review"] == "False"]
    assert len(applied) >= len(result) // 2
    assert (applied["category"].to_numpy() == incoming.loc[applied.index, "category"].to_numpy()).mean() >= 0.95

    # the same vocabulary, named in a file: accepted; another one: refused, naming what differs
    same = tmp_path / "same.txt"
    same.write_text("\n".join(CATEGORIES) + "\n", encoding="utf-8")
    assert main(["categorize", str(incoming_file), "-o", str(result_file), "--categories", str(same)]) == 0
    capsys.readouterr()
    other = tmp_path / "other.txt"
    other.write_text("Groceries\nFast Food & Takeouts\n", encoding="utf-8")
    assert main(["categorize", str(incoming_file), "-o", str(tmp_path / "x.csv"), "--categories", str(other)]) == 2
    err = capsys.readouterr().err
    assert "refusing" in err and "Groceries" in err and "v1" in err
    assert not (tmp_path / "x.csv").exists()
    labeled = tmp_path / "labeled.csv"
    incoming.assign(category="Groceries").to_csv(labeled, index=False)
    assert main(["categorize", str(labeled), "-o", str(tmp_path / "y.csv")]) == 2
    assert "does not know (Groceries)" in capsys.readouterr().err


def test_a_failed_training_says_so_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    history_file = tmp_path / "ledger.csv"
    _history(days=6, per_day=10).to_csv(history_file, index=False)
    # a store that is no database: the run fails after the fit, and nothing may pretend otherwise
    (tmp_path / "mlflow.db").write_text("not a database\n" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--history", str(history_file)]) == 1
    err = capsys.readouterr().err
    assert "training failed" in err and "no new version became champion" in err


def test_one_category_is_a_clear_error(tmp_path, monkeypatch, capsys):
    history_file = tmp_path / "ledger.csv"
    _history(days=6, per_day=10).assign(category="Only & One").to_csv(history_file, index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--history", str(history_file)]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_the_shipped_model_is_refit_on_the_newest_days_too():
    from ml.categorizer import predict_with_confidence, train_categorizer

    history = _history(days=20, per_day=12)
    newest = history["date"].max()
    arrived = pd.DataFrame(
        {
            "date": newest,
            "description": [f"ZORBLAX HOLDINGS {n}" for n in range(6)],
            "amount": -99.0,
            "currency": "EUR",
            "category": "New Venture ✨",
        }
    )
    trained = train_categorizer(pd.concat([history, arrived], ignore_index=True))
    assert trained.split["fit_to"] == newest and trained.split["test_from"] <= newest
    assert trained.split["min_df"] == 1  # a few hundred rows: a word seen once still counts
    probe = pd.DataFrame({"description": ["ZORBLAX HOLDINGS 77"], "amount": [-99.0], "currency": ["EUR"]})
    assert predict_with_confidence(trained.pipeline, probe)["category"].iloc[0] == "New Venture ✨"
    assert "New Venture ✨" not in trained.evaluated.classes_  # the figures come from the model without those days
