"""Every rendered file parses with the project's parser and the registry's options, and says what the truth says.

For each source format: parse every delivered file (API sources: the day's objects as one page), then compare each
record's amount, booked date, sign and currency with its row in ``source_rows.csv``; deliberately broken files
(role ``malformed``) must be rejected instead.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from finflow_assets.sources.parsers import ParseError, get_parser
from finflow_assets.sources.registry import SOURCES, get_source

from .conftest import SimRun

ALL_SOURCES = [spec.name for spec in SOURCES]


def _page(sim: SimRun, source: str, file: str) -> bytes:
    data = sim.path_of(source, file).read_bytes()
    if not file.endswith(".jsonl"):
        return data
    objects = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    if source == "paypal":
        return json.dumps({"transaction_details": objects}).encode()
    return json.dumps({"object": "list", "data": objects} if source == "stripe" else objects).encode()


def _identity(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "extra"}


def test_every_registered_source_is_rendered(sim: SimRun) -> None:
    rendered = {source for source, _ in sim.source_rows()}
    assert rendered == set(ALL_SOURCES)


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_rendered_files_parse_and_match_the_truth(sim: SimRun, source: str) -> None:
    spec = get_source(source)
    parser = get_parser(spec.format)
    files = {file: rows for (name, file), rows in sim.source_rows().items() if name == source}
    assert files, f"nothing rendered for {source}"
    compared = 0
    for file, truth in sorted(files.items()):
        roles = {row["role"] for row in truth.values()}
        if roles == {"malformed"}:
            with pytest.raises(ParseError):
                parser(_page(sim, source, file), file, spec.parser_options)
            continue
        assert "malformed" not in roles, f"{file} mixes malformed and landed rows"
        parsed = parser(_page(sim, source, file), file, spec.parser_options)
        records = {record["row"]: record for record in parsed.records}
        assert sorted(records) == sorted(truth), f"{source} {file}: parsed rows differ from the truth's rows"
        for row, expected in truth.items():
            record = records[row]
            amount = Decimal(record["amount"])
            assert amount == Decimal(expected["amount"]), (file, row, record["amount"], expected)
            assert (amount > 0) == (Decimal(expected["amount"]) > 0), (file, row)
            assert record["booked_date"] == expected["booked_date"], (file, row, record["booked_date"], expected)
            assert record["currency"] == expected["currency"], (file, row, record["currency"], expected)
            compared += 1
    assert compared > 0


def test_every_format_has_a_broken_file_rejected(sim: SimRun) -> None:
    """With faults on, broken deliveries exist for file drops and each is followed by a corrected delivery."""
    broken = {
        (source, file)
        for (source, file), rows in sim.source_rows().items()
        if {row["role"] for row in rows.values()} == {"malformed"}
    }
    assert broken
    for source, file in broken:
        stem, _, ext = file.rpartition(".")
        assert sim.path_of(source, f"{stem}_corrected.{ext}").is_file(), file


def test_redelivered_files_parse_to_the_same_records(sim: SimRun) -> None:
    """A re-delivery (same bytes under another name, or a re-export) carries exactly the original's records."""
    groups = sim.source_rows()
    redelivered = [(s, f) for (s, f), rows in groups.items() if {r["role"] for r in rows.values()} == {"redelivery"}]
    assert any(" (1)." in f for _, f in redelivered) and any("_resend." in f for _, f in redelivered)
    for source, file in redelivered:
        spec = get_source(source)
        parser = get_parser(spec.format)
        original = file.replace(" (1).", ".").replace("_resend.", ".")
        if {row["role"] for row in groups[(source, original)].values()} == {"malformed"}:
            stem, _, ext = original.rpartition(".")
            original = f"{stem}_corrected.{ext}"  # the broken delivery's correction is what was re-sent
        again = parser(sim.path_of(source, file).read_bytes(), file, spec.parser_options).records
        first = parser(sim.path_of(source, original).read_bytes(), original, spec.parser_options).records
        assert [_identity(r) for r in again] == [_identity(r) for r in first], file
        if " (1)." in file:
            assert sim.path_of(source, file).read_bytes() == sim.path_of(source, original).read_bytes()
