"""The model's top 3 categories, as the categorizer asset stores them for a reviewer: computed with the model's
public ``predict_proba``/``classes_`` (a real FinFlow categorizer pipeline, fitted on a few labeled lines), written
by ``copy_categories`` and read back by the queue page's query."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from finflow_assets.intelligence.review import search_queue
from finflow_assets.intelligence.scores import copy_categories, top_categories
from finflow_assets.warehouse import connect

from .seed import seed

LINES = [
    ("ZOOM.US 888-799", -15.99, "software_saas"),
    ("SLACK TECHNOLOGIES", -8.75, "software_saas"),
    ("GITHUB INC", -21.00, "software_saas"),
    ("DELTA AIR LINES", -420.10, "travel"),
    ("UNITED AIRLINES", -389.00, "travel"),
    ("HILTON HOTELS", -210.00, "travel"),
    ("STARBUCKS STORE 1122", -6.40, "meals_entertainment"),
    ("CHIPOTLE 2231", -14.20, "meals_entertainment"),
    ("PIZZA HUT 77", -32.00, "meals_entertainment"),
]


def fitted():
    from ml.categorizer import build_categorizer
    from ml.features import categorizer_input

    frame = pd.DataFrame(
        {
            "description": [d for d, _, _ in LINES] * 3,
            "amount": [a for _, a, _ in LINES] * 3,
            "currency": "USD",
            "source": "expenses",
        }
    )
    labels = np.array([c for _, _, c in LINES] * 3)
    return build_categorizer(min_df=1).fit(categorizer_input(frame), labels)


def test_top_three_are_the_models_best_categories_best_first():
    from ml.categorizer import predict_with_confidence

    model = fitted()
    frame = pd.DataFrame({"description": ["ZOOM VIDEO", "AMERICAN AIRLINES"], "amount": [-15.0, -300.0]})
    tops = [json.loads(value) for value in top_categories(model, frame)]
    predicted = predict_with_confidence(model, frame)
    for row, (_, best) in zip(tops, predicted.iterrows(), strict=True):
        assert len(row) == 3 and {c["category"] for c in row} == {"software_saas", "travel", "meals_entertainment"}
        assert [c["probability"] for c in row] == sorted((c["probability"] for c in row), reverse=True)
        assert row[0]["category"] == best["category"] and abs(row[0]["probability"] - best["confidence"]) < 1e-4
        assert abs(sum(c["probability"] for c in row) - 1) < 1e-3  # three classes: all the probability there is
    assert [row[0]["category"] for row in tops] == ["software_saas", "travel"]


def test_stored_top_three_reach_the_queue(review_url):
    with connect(review_url, autocommit=True) as conn:
        seed(conn)
        conn.execute("delete from ml.transaction_categories where transaction_id = 'tx-101'")
        model = fitted()
        frame = pd.DataFrame({"description": ["ZOOM.US"], "amount": [-10.0]})
        copy_categories(
            conn,
            pd.DataFrame(
                {
                    "transaction_id": ["tx-101"],
                    "category": ["uncategorized"],
                    "predicted_category": ["software_saas"],
                    "confidence": [0.6],
                    "method": ["ml"],
                    "needs_review": [True],
                    "model_name": ["finflow-categorizer"],
                    "model_version": ["1"],
                    "auto_apply_threshold": [0.85],
                    "top_categories": top_categories(model, frame),
                }
            ),
        )
        rows, total, _ = search_queue(conn, item_type="category", text="ZOOM")
    assert total == 1
    assert [c["category"] for c in rows[0]["top_categories"]][0] == "software_saas"
