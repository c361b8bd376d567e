"""Which transactions the anomaly model learns from and scores against (``anomaly_frame``), on the real embedded
PostgreSQL in a database of its own with minimal validated and rule tables (the columns the query reads)."""

from datetime import date, timedelta

import pandas as pd
import pytest

from finflow_assets.intelligence.scores import anomaly_frame, ensure_tables
from tests.conftest import fresh_database

FIRST = date(2026, 10, 1)
PER_DAY = [3, 5, 4, 6, 2]  # transactions booked on each of five days from FIRST, with a gap after the third

TABLES = """
create schema if not exists validation;
create schema if not exists intermediate;
create table validation.int_transactions__validated (
    transaction_id text primary key, source text, booked_date date, amount numeric, amount_base numeric,
    currency text, description_raw text, counterparty_raw text, extra jsonb, validation_status text,
    duplicate_of text
);
create table intermediate.int_transactions__rule_categorized (transaction_id text primary key, category text);
"""


def _day(index: int) -> date:
    return FIRST + timedelta(days=index + (2 if index >= 3 else 0))  # a weekend without bookings after day 3


@pytest.fixture
def inputs_db(finflow_home):
    from finflow_assets.warehouse import connect

    with fresh_database("test_anomaly_inputs"), connect(autocommit=True) as conn:
        ensure_tables(conn)
        conn.execute(TABLES)
        rows = [
            (f"t{day}-{n}", "stripe", _day(day), 10.0 + n, "USD", f"Order {n}", "ACME", "valid", None)
            for day, count in enumerate(PER_DAY)
            for n in range(count)
        ]
        rows += [  # never read: a quarantined row and a duplicate
            ("bad", "stripe", _day(4), 1.0, "USD", "x", "ACME", "quarantined", None),
            ("dup", "stripe", _day(4), 10.0, "USD", "Order 0", "ACME", "valid", "t4-0"),
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into validation.int_transactions__validated (transaction_id, source, booked_date, amount, "
                "currency, description_raw, counterparty_raw, validation_status, duplicate_of, extra) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, '{}')",
                rows,
            )
        yield conn


def _days(frame) -> list[date]:
    return sorted({d.date() if hasattr(d, "date") else date.fromisoformat(str(d)) for d in frame["booked_date"]})


def test_training_reads_the_newest_whole_days_within_the_row_cap(inputs_db):
    everything = anomaly_frame(inputs_db, training=True)
    assert len(everything) == sum(PER_DAY)
    assert "bad" not in set(everything["transaction_id"]) and "dup" not in set(everything["transaction_id"])

    # 8 rows allowed: the newest two days hold 6 + 2, the third newest would take it to 12
    capped = anomaly_frame(inputs_db, training=True, max_training_rows=8)
    assert _days(capped) == [_day(3), _day(4)]
    assert len(capped) == 8
    # a cap below one day still leaves two days (across the weekend gap) to learn from and hold out
    tiny = anomaly_frame(inputs_db, training=True, max_training_rows=1)
    assert _days(tiny) == [_day(3), _day(4)]
    # the look-back still bounds it: 3 calendar days back from the newest reach the fourth booking day only
    assert _days(anomaly_frame(inputs_db, lookback_days=3, training=True)) == [_day(3), _day(4)]


def test_scoring_reads_the_unscored_rows_and_the_look_back_before_the_oldest(inputs_db):
    scored = [f"t{day}-{n}" for day in range(3) for n in range(PER_DAY[day])]
    with inputs_db.cursor() as cur:
        cur.executemany(
            "insert into ml.transaction_anomalies (transaction_id, anomaly_score, is_anomaly, threshold, model_name,"
            " model_version) values (%s, 0.1, %s, 0.95, 'finflow-anomaly', '1')",
            [(t, t == "t2-0") for t in scored],
        )
    frame = anomaly_frame(inputs_db, lookback_days=1)
    # the oldest unscored row is on the fourth booking day; one day back is the weekend, so no history is read
    assert _days(frame) == [_day(3), _day(4)]
    assert not frame["scored"].astype(str).str.lower().isin(("t", "true")).any()
    frame = anomaly_frame(inputs_db, lookback_days=10)
    by_id = frame.set_index("transaction_id")
    assert len(frame) == sum(PER_DAY)
    flagged = by_id["is_flagged"].astype(str).str.lower().isin(("t", "true"))
    assert flagged[flagged].index.tolist() == ["t2-0"]


def test_a_backlog_too_long_to_list_reads_the_same_rows(inputs_db, monkeypatch):
    """A first run's backlog (more unscored rows than are listed in the query) is read through the other branch:
    the same rows, the same first day, the same ``scored`` and ``is_flagged``."""
    from finflow_assets.intelligence import scores

    listed = anomaly_frame(inputs_db, lookback_days=10)
    monkeypatch.setattr(scores, "MAX_LISTED_UNSCORED", 1)
    backlog = anomaly_frame(inputs_db, lookback_days=10)
    assert len(listed) > 1

    def ordered(frame):  # noqa: ANN001, ANN202
        return frame.sort_values("transaction_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(listed), ordered(backlog))


def test_read_frame_streams_rows_larger_than_the_pipe(inputs_db):
    """``read_frame`` parses the COPY output as it arrives through a pipe: rows far beyond the pipe's buffer arrive
    whole and in order, text stays text ("" for NULL), numbers are numbers."""
    from finflow_assets.intelligence.scores import read_frame

    query = (
        "select n, 'row ' || n || repeat('x', 200) as label, case when n % 7 = 0 then null else 'k' end as maybe "
        "from generate_series(1, 20000) n order by n"
    )
    frame = read_frame(inputs_db, query, text_columns=("label", "maybe"))
    assert frame["n"].tolist() == list(range(1, 20001))
    assert frame.loc[0, "label"] == "row 1" + "x" * 200
    assert (frame["maybe"] == "").sum() == 20000 // 7


def test_read_frame_raises_the_query_error_not_the_parsers(inputs_db, monkeypatch):
    """A query that fails in PostgreSQL raises PostgreSQL's error (the parser only saw the CSV end early), and a
    parser that fails part way raises its own error without leaving the copy hanging: the connection is usable
    after both."""
    import psycopg

    from finflow_assets.intelligence import scores

    many = "select n, repeat('x', 200) as filler from generate_series(1, 20000) n"
    with pytest.raises(psycopg.errors.DivisionByZero):
        scores.read_frame(inputs_db, "select n / (n - 15000) as x from generate_series(1, 20000) n")
    assert inputs_db.execute("select 1").fetchone()[0] == 1

    def fails_part_way(stream, **_):  # noqa: ANN001, ANN202 - reads a little of the CSV, then gives up
        stream.read(10_000)
        raise ValueError("parser gave up")

    monkeypatch.setattr(scores.pd, "read_csv", fails_part_way)
    with pytest.raises(ValueError, match="parser gave up"):
        scores.read_frame(inputs_db, many)
    assert inputs_db.execute("select 1").fetchone()[0] == 1
