"""Property-based tests: every parser, fed random and mutated deliveries, either returns records or raises a
clear ParseError naming the file — never another exception — and a well-formed bank export round-trips exactly.

Seed inputs come from the project's own simulator (so these run without ../shared), one file per format.
"""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finflow_assets.sources.parsers import ParsedFile, ParseError, get_parser
from finflow_assets.sources.registry import SOURCES, get_source
from finflow_simulator import generate

FILE_FORMATS = sorted({(spec.format, spec.name) for spec in SOURCES if spec.kind == "file_drop"})
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, bytes]:
    """One small real delivery per file-drop source, as the simulator renders it."""
    root = tmp_path_factory.mktemp("fuzz_samples")
    generate(root / "landing", root / "truth", days=2, per_day=300, seed=3, api_dir=root / "api")
    found: dict[str, bytes] = {}
    for source_dir in (root / "landing").iterdir():
        files = sorted(p for p in source_dir.iterdir() if p.is_file())
        if files:
            found[source_dir.name] = files[0].read_bytes()[:20_000]
    adyen = sorted((root / "api" / "adyen").glob("*.csv"))
    if adyen:
        found["adyen"] = adyen[0].read_bytes()
    return found


def _parse(source: str, data: bytes) -> ParsedFile | ParseError:
    spec = get_source(source)
    try:
        return get_parser(spec.format)(data, "fuzzed.dat", spec.parser_options)
    except ParseError as exc:
        assert "fuzzed.dat" in str(exc)  # the error names the file
        return exc


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8)),
    st.tuples(
        st.just("insert"),
        st.floats(0, 1),
        st.sampled_from(
            [
                b'=HYPERLINK("http://x")',
                b"'; drop table raw._loads; --",
                b"99999999999999999999999999.99",
                b"1e309",
                b"NaN",
                b"\xff\xfe",
                b"\x00",
                b"2024-02-31",
                b"31/13/2026",
                b",,,,,,",
                b"\r\n\r\n",
                b"(1,2,3)",
            ]
        ),
    ),
)


def _mutate(data: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "truncate":
        return data[: int(len(data) * mutation[1])]
    if kind == "flip":
        buffer = bytearray(data)
        for where, value in mutation[1]:
            if buffer:
                buffer[min(int(where * len(buffer)), len(buffer) - 1)] = value
        return bytes(buffer)
    at = int(len(data) * mutation[1])
    return data[:at] + mutation[2] + data[at:]


@pytest.mark.parametrize("source", [name for _, name in FILE_FORMATS] + ["adyen"])
def test_mutated_deliveries_end_in_records_or_a_clear_error(samples, source):
    if source not in samples:
        pytest.skip(f"the simulator rendered no {source} file at this volume")

    @FUZZ
    @given(MUTATIONS)
    def check(mutation):
        outcome = _parse(source, _mutate(samples[source], mutation))
        if isinstance(outcome, ParsedFile):
            for record in outcome.records:  # whatever parsed is well-formed: exact decimal text, ISO dates
                Decimal(record["amount"])
                date.fromisoformat(record["booked_date"])

    check()


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([name for _, name in FILE_FORMATS]))
def test_random_bytes_never_crash_a_parser(data, source):
    _parse(source, data)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=60).filter(
    lambda t: t.strip() != ""
)
AMOUNTS = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2).filter(
    lambda d: d != 0
)


@FUZZ
@given(
    st.lists(
        st.tuples(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)), TEXT, AMOUNTS),
        min_size=1,
        max_size=30,
    )
)
def test_operating_export_round_trips_exactly(rows):
    """Descriptions with quotes, commas, formula text or any script; amounts up to 99 million: nothing drifts."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("Date", "Description", "Debit", "Credit", "Balance"))
    balance = Decimal("0")
    for day, text, amount in rows:
        balance += amount
        debit = f"{-amount:,.2f}" if amount < 0 else ""
        credit = f"{amount:,.2f}" if amount > 0 else ""
        writer.writerow((day.strftime("%m/%d/%Y"), text, debit, credit, f"{balance:,.2f}"))
    spec = get_source("bank_operating")
    parsed = get_parser(spec.format)(buffer.getvalue().encode(), "roundtrip.csv", spec.parser_options)
    assert len(parsed.records) == len(rows)
    for record, (day, text, amount) in zip(parsed.records, rows, strict=True):
        assert Decimal(record["amount"]) == amount
        assert record["booked_date"] == day.isoformat()
        assert record["description"] == " ".join(text.split())


def test_samples_cover_every_file_format(samples):
    assert {name for _, name in FILE_FORMATS} - set(samples) <= {"payroll"}  # payroll runs only on pay days
