"""Hostile and unlucky input, case by case (issue #28): bad input never blocks a source, nothing landed is lost or
doubled, money keeps every cent, and what a person sees is one clear paragraph.

Every case lands through the real landing code into the real test PostgreSQL. The re-delivery cases live in
``test_redeliveries.py`` and the money rules (minor units, plausibility) in ``transform/test_validation_rules.py``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finflow_assets.sources import file_landing
from finflow_assets.sources.file_landing import land_bytes, land_file, land_pending
from finflow_assets.sources.parsers import get_parser
from finflow_assets.sources.registry import SOURCES, SourceSpec, get_source
from finflow_assets.warehouse import connect

HEADER = "Date,Description,Debit,Credit,Balance\r\n"
GOOD = HEADER + "10/01/2026,GOOD COFFEE,4.50,,95.50\r\n"


def isolated(source: str) -> SourceSpec:
    """The registry's source under a fresh name: its own raw table and journal rows, the same format and options."""
    spec = get_source(source)
    return SourceSpec(
        name=f"adv_{source}_{uuid.uuid4().hex[:8]}",
        system=spec.system,
        kind=spec.kind,
        format=spec.format,
        description=spec.description,
        file_patterns=spec.file_patterns,
        parser_options=dict(spec.parser_options),
    )


def drop(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def landed(db, spec: SourceSpec) -> list[tuple]:
    query = f"select origin, source_row, record->>'description' from raw.{spec.raw_table} order by 1, 2"
    return db.execute(query).fetchall()


def journal(db, spec: SourceSpec) -> list[tuple]:
    return db.execute(
        "select origin, status, rows_landed, error, warnings from raw._loads where source = %s order by finished_at",
        (spec.name,),
    ).fetchall()


# ----------------------------------------------------------------------------------------- 1. NUL and controls


def test_a_nul_in_a_description_lands_cleaned_and_the_next_file_lands_too(db, tmp_path):
    spec = isolated("bank_operating")
    folder = tmp_path / "landing"
    drop(folder, "a_nul.csv", (HEADER + "10/01/2026,PAD\x00DED\x00 NAME,4.50,,95.50\r\n").encode())
    drop(folder, "b_good.csv", GOOD.replace("10/01", "10/02").encode())
    report = land_pending(db, spec, folder)
    assert {o.path.name: o.status for o in report.outcomes} == {"a_nul.csv": "landed", "b_good.csv": "landed"}
    assert [row[2] for row in landed(db, spec)] == ["PADDED NAME", "GOOD COFFEE"]
    warnings = dict((row[0], row[4]) for row in journal(db, spec))["a_nul.csv"]
    assert len(warnings) == 1 and warnings[0].endswith("removed from text in 1 row(s) (rows 2)")


def test_an_ofx_character_reference_to_nul_lands_cleaned(db):
    spec = isolated("bank_payroll")
    ofx = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
        "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS>"
        "<CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>123456"
        "<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>20261001<DTEND>20261002<STMTTRN><TRNTYPE>DEBIT"
        "<DTPOSTED>20261001<TRNAMT>-12.00<FITID>F1<NAME>PAYEE&#0;NAME</STMTTRN></BANKTRANLIST>"
        "<LEDGERBAL><BALAMT>100.00<DTASOF>20261002</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    outcome = land_bytes(db, spec, "nul.ofx", ofx.encode())
    assert outcome.status == "landed", outcome.error
    text = db.execute(f"select record::text from raw.{spec.raw_table}").fetchone()[0]
    assert "\\u0000" not in text and "PAYEE" in text


def test_escape_sequences_and_bidi_marks_never_reach_the_database(db):
    spec = isolated("bank_operating")
    hostile = HEADER + "10/01/2026,\x1b[31mRED\x07 ALERT\u202egnp.exe,4.50,,95.50\r\n"
    assert land_bytes(db, spec, "esc.csv", hostile.encode()).status == "landed"
    description = landed(db, spec)[0][2]
    assert description == "[31mRED ALERTgnp.exe"
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in description)


def test_a_page_with_a_nul_lands_through_the_same_write_path(db, tmp_path, monkeypatch):
    from finflow_simulator.api_server import append_jsonl, serve

    from .test_api_connectors import isolated as isolated_api
    from .test_api_connectors import landed_ids, pull
    from .test_api_server import make_objects

    objects = make_objects("billing", 5)
    objects[2]["reference"] = "INVOICE\x00 42\x1b[2J"  # the remittance text, the description it lands as
    append_jsonl(tmp_path, "billing", objects)
    with serve(tmp_path) as server:
        spec = isolated_api("billing", server, monkeypatch)
        report = pull(db, spec)
        assert report.rows_landed == 5 and not report.quarantined
        assert sum(landed_ids(db, spec).values()) == 5
        query = f"select record->>'description' from raw.{spec.raw_table} where record::text like %s"
        assert db.execute(query, ("%INVOICE%",)).fetchall() == [("INVOICE 42 [2J",)]


# ----------------------------------------------------------------------------------------- 2. unreadable names


def test_a_file_its_source_does_not_read_is_quarantined_with_the_patterns(db, tmp_path):
    spec = isolated("bank_eu")
    folder = tmp_path / "landing"
    drop(folder, "payroll.qfx", b"<OFX></OFX>")
    drop(folder, "upload.sta.part", b"still arriving")  # an upload in progress is left alone
    report = land_pending(db, spec, folder)
    assert [(o.path.name, o.status) for o in report.outcomes] == [("payroll.qfx", "quarantined")]
    note = (folder / "quarantine" / "payroll.qfx.error").read_text()
    assert "*.sta" in note and "*.mt940" in note
    assert (folder / "upload.sta.part").exists()


def test_finflow_ingest_refuses_such_a_file_before_copying_it(finflow_home, tmp_path, capsys):
    from finflow_assets.cli import main

    path = drop(tmp_path, "payroll.qfx", b"<OFX></OFX>")
    assert main(["ingest", str(path), "--source", "bank_eu"]) == 2
    message = capsys.readouterr().err
    assert "payroll.qfx" in message and "*.sta" in message and "Nothing was copied" in message
    assert not (finflow_home.landing_for("bank_eu") / "payroll.qfx").exists()


# ----------------------------------------------------------------------------------------- 5. clear outcomes


def test_utf16_and_utf32_exports_are_read_with_or_without_a_bom(db):
    for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        spec = isolated("bank_operating")
        outcome = land_bytes(db, spec, f"export-{codec}.csv", GOOD.replace("GOOD", "CAFÉ").encode(codec))
        assert outcome.status == "landed", (codec, outcome.error)
        assert landed(db, spec)[0][2] == "CAFÉ COFFEE"


def test_broken_utf16_is_named_as_such(db):
    spec = isolated("bank_operating")
    broken = GOOD.encode("utf-16-le") + b"\x00\xd8"  # a lone high surrogate at the end
    outcome = land_bytes(db, spec, "broken16.csv", broken)
    assert outcome.status == "quarantined" and "UTF-16" in outcome.error


def test_a_header_only_export_lands_as_an_empty_delivery_that_counts_for_freshness(db, tmp_path):
    spec = isolated("bank_operating")
    first = land_file(db, spec, drop(tmp_path, "2026-10-03.csv", HEADER.encode()))
    second = land_file(db, spec, drop(tmp_path, "2026-10-04.csv", HEADER.encode()))  # same bytes, next day
    assert (first.status, second.status) == ("landed", "landed")
    assert [(row[1], row[2]) for row in journal(db, spec)] == [("landed", 0), ("landed", 0)]
    assert "no transactions in this delivery" in journal(db, spec)[0][4]
    again = land_file(db, spec, drop(tmp_path, "2026-10-04.csv", HEADER.encode()))
    assert again.status == "already_landed"


def test_the_losing_run_of_two_parallel_landings_says_a_concurrent_run_landed_it(finflow_home, monkeypatch):
    spec = isolated("bank_operating")
    data = GOOD.replace("GOOD", "RACE").encode()
    with connect(autocommit=True) as conn:  # the tables exist before the race
        land_bytes(conn, spec, "warmup.csv", GOOD.encode())
    monkeypatch.setattr(file_landing, "already_landed", lambda *args: False)  # both pass the early check
    barrier = threading.Barrier(2)
    outcomes = []

    def land() -> None:
        with connect() as conn:
            barrier.wait()
            outcomes.append(land_bytes(conn, spec, "race.csv", data))

    threads = [threading.Thread(target=land) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.status for o in outcomes) == ["already_landed", "landed"]
    assert [o.error for o in outcomes if o.status == "already_landed"] == ["landed by a concurrent run"]


def test_a_parser_crash_quarantines_the_file_and_the_next_one_lands(db, tmp_path, monkeypatch):
    spec = isolated("bank_operating")
    real = get_parser("bank_csv")

    def fragile(data, name, options):
        if b"CRASH" in data:
            raise IndexError("list index out of range")
        return real(data, name, options)

    monkeypatch.setattr(file_landing, "get_parser", lambda _format: fragile)
    folder = tmp_path / "landing"
    drop(folder, "a.csv", GOOD.replace("GOOD", "CRASH").encode())
    drop(folder, "b.csv", GOOD.encode())
    report = land_pending(db, spec, folder)
    assert [o.status for o in report.outcomes] == ["quarantined", "landed"]
    assert "IndexError" in report.outcomes[0].error and "a.csv" in report.outcomes[0].error


def test_a_crash_on_the_command_line_is_one_paragraph_with_the_log_path(tmp_path):
    env = {
        **os.environ,
        "FINFLOW_HOME": str(tmp_path / "home"),
        "FINFLOW_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "finflow_assets.cli", "review", "list"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "finflow review failed:" in done.stderr
    log_file = tmp_path / "home" / "logs" / "finflow-errors.log"
    assert str(log_file) in done.stderr and "Traceback" in log_file.read_text()
    # 6. what FinFlow writes in the data folder is its owner's only
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


# ----------------------------------------------------------------------------------------- 6. hardening


def test_a_camt_file_in_utf16_without_bom_cannot_smuggle_a_doctype(db):
    spec = isolated("bank_treasury")
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><Document>&a;</Document>'
    outcome = land_bytes(db, spec, "entity.xml", xml.encode("utf-16-le"))
    assert outcome.status == "quarantined" and "DOCTYPE" in outcome.error


def test_the_data_folder_is_private(tmp_path, monkeypatch):
    from finflow_assets.settings import paths

    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path / "private"))
    made = paths().ensure()
    for folder in (made.landing, made.reports, made.mlflow, made.dagster_home, made.history):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    if os.geteuid() != 0:  # as root the embedded server's own user must pass through the data folder itself
        assert stat.S_IMODE(made.home.stat().st_mode) == 0o700


def test_report_files_keep_every_cent():
    from finflow_assets.reports.files import write_csv, write_html

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"money-{uuid.uuid4().hex}"
    rows = [(Decimal("1000000000000010.13"), Decimal("-0.01"))]
    csv_text = write_csv(folder / "r.csv", ["money_in", "money_out"], rows).read_text()
    assert "1000000000000010.13" in csv_text and "-0.01" in csv_text
    html_text = write_html(folder / "r.html", "t", ["money_in", "money_out"], rows).read_text()
    assert "1,000,000,000,000,010.13" in html_text


def test_no_float_on_the_report_writers_money_path():
    """Money reaches the CSV and HTML as Decimal: the writers and the report factory never turn it into a float
    (charts.py draws bars, whose pixel geometry may be float; it writes no amount)."""
    folder = Path(file_landing.__file__).resolve().parents[1] / "reports"
    for name in ("files.py", "assets.py", "daily_report.py", "catalog.py"):
        code = (folder / name).read_text()
        assert "float(" not in code, f"reports/{name} converts to float"
        assert "::float" not in code, f"reports/{name} casts to float in SQL"


# ----------------------------------------------------------------------------------------- the fuzz test

FILE_SOURCES = sorted({spec.name for spec in SOURCES if spec.kind == "file_drop"})
# bytes of any kind, and a well-formed export whose description mixes any characters with the ones that broke
# landing before (NUL, escape, bell, bidi override, lone surrogate)
NASTY = st.sampled_from(["\x00", "\x1b[31m", "\x07", "\u202e", "\ud800", "\r", "\x85", "\ufeff"])
DESCRIPTIONS = st.lists(NASTY | st.characters(min_codepoint=0, max_codepoint=0x2FFF), min_size=1, max_size=40).map(
    "".join
)
HOSTILE = st.binary(max_size=600) | DESCRIPTIONS.map(
    lambda text: f"{HEADER}10/01/2026,{text.replace(',', ' ')}\x00,1.00,,1.00\r\n".encode("utf-8", "surrogatepass")
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=HOSTILE, source=st.sampled_from(FILE_SOURCES))
def test_arbitrary_bytes_land_or_quarantine_and_the_next_good_file_lands(db, data, source):
    spec = isolated(source)
    outcome = land_bytes(db, spec, "fuzzed.dat", data)
    assert outcome.status in ("landed", "quarantined", "already_landed")
    if outcome.status == "quarantined":
        assert outcome.error and "fuzzed.dat" in outcome.error
    good = isolated("bank_operating")
    assert land_bytes(db, good, "good.csv", GOOD.encode()).status == "landed"
