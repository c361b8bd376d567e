"""Landing dropped files into raw tables: once per content, atomically, bad files quarantined."""

from pathlib import Path

from finflow_assets.sources.file_landing import land_file, land_pending
from finflow_assets.sources.registry import get_source

GOOD = (
    "Date,Description,Debit,Credit,Balance\r\n"
    '10/01/2026,SQ *BLUE BOTTLE COFFEE,4.50,,"1,995.50"\r\n'
    '10/01/2026,STRIPE TRANSFER ST-A1B2,,"1,200.00","3,195.50"\r\n'
    '10/01/2026,SQ *BLUE BOTTLE COFFEE,4.50,,"3,191.00"\r\n'
)
BAD = "Date,Description,Debit,Credit,Balance\r\n10/02/2026,GITHUB,12.00,,100.00\r\n10/02/2026,AWS,twelve,,88.00\r\n"


def _drop(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _raw_rows(db, origin: str) -> list[tuple]:
    return db.execute(
        "select source_row, record->>'amount', row_hash from raw.bank_operating where origin = %s order by 1", (origin,)
    ).fetchall()


def test_file_lands_once_with_lineage_and_identical_rows_kept(db, tmp_path):
    spec = get_source("bank_operating")
    path = _drop(tmp_path / "drop", "landing_once.csv", GOOD)
    outcome = land_file(db, spec, path)
    assert (outcome.status, outcome.rows) == ("landed", 3)
    rows = _raw_rows(db, "landing_once.csv")
    assert [(r[0], r[1]) for r in rows] == [(2, "-4.50"), (3, "1200.00"), (4, "-4.50")]
    # two equal coffees are two transactions: their hashes differ by occurrence
    assert len({r[2] for r in rows}) == 3
    assert not path.exists() and (path.parent / "archive" / "landing_once.csv").exists()

    again = _drop(tmp_path / "drop", "landing_once_copy.csv", GOOD)  # same bytes, new name: a re-delivery
    assert land_file(db, spec, again).status == "already_landed"
    assert _raw_rows(db, "landing_once_copy.csv") == []


def test_bad_file_is_quarantined_with_row_and_other_files_land(db, tmp_path):
    spec = get_source("bank_operating")
    folder = tmp_path / "landing"
    _drop(folder, "a_bad.csv", BAD)
    _drop(folder, "b_good.csv", GOOD.replace("10/01/2026", "10/05/2026"))
    report = land_pending(db, spec, folder)
    statuses = {o.path.name: o.status for o in report.outcomes}
    assert statuses == {"a_bad.csv": "quarantined", "b_good.csv": "landed"}
    note = (folder / "quarantine" / "a_bad.csv.error").read_text()
    assert "a_bad.csv" in note and "row 3" in note and "twelve" in note
    assert _raw_rows(db, "a_bad.csv") == []  # nothing of a bad file lands
    assert len(_raw_rows(db, "b_good.csv")) == 3
    journal = db.execute("select status, error from raw._loads where origin = 'a_bad.csv'").fetchone()
    assert journal[0] == "quarantined" and "row 3" in journal[1]
