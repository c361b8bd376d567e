"""The real-data bench's loaders on the public sets it names (bench/data/README.md). None of them states a licence,
so none is in the repository: each is read from a local mirror where one exists and skipped, with the reason,
where not (as the bench itself does)."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.bench_categorizer_real import SETS, SetMissing, read_set, split

EXPECTED = {  # rows, categories, first and last day, as bench/data/README.md describes each set
    "nz_bank_lines": (3_231, 55, "2017-01", "2019-12"),
    "fr_bank_lines": (175, 8, "2021-06", "2021-12"),
    "us_toy_ledger": (326, 18, "2023-01", "2023-10"),
}


@pytest.mark.parametrize("public", SETS, ids=[s.name for s in SETS])
def test_each_public_set_parses_into_the_bench_columns(public):
    try:
        frame = read_set(public)
    except SetMissing as missing:
        pytest.skip(str(missing))
    assert list(frame.columns) == ["date", "description", "amount", "currency", "category"]
    rows, categories, first, last = EXPECTED[public.name]
    assert (len(frame), frame["category"].nunique()) == (rows, categories)
    dates = pd.to_datetime(frame["date"])
    assert (dates.min().strftime("%Y-%m"), dates.max().strftime("%Y-%m")) == (first, last)
    assert frame["description"].str.strip().ne("").all() and frame["amount"].notna().all()
    train, test, how = split(frame, 0.3, 0)
    assert how.startswith("time") and pd.to_datetime(train["date"]).max() < pd.to_datetime(test["date"]).min()


def test_the_categorizer_learns_the_small_us_ledger():
    """A weak floor, not the bench's figure: the toy ledger's newest 30% of days, trained on the rest."""
    from ml.categorizer import predict_with_confidence, train_categorizer

    public = next(s for s in SETS if s.name == "us_toy_ledger")
    try:
        frame = read_set(public)
    except SetMissing as missing:
        pytest.skip(str(missing))
    train, test, _ = split(frame, 0.3, 0)
    predicted = predict_with_confidence(train_categorizer(train).pipeline, test)["category"]
    assert (predicted == test["category"]).mean() >= 0.8
