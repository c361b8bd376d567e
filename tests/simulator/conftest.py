"""One simulated dataset shared by the simulator tests (small, with every quirk and fault switched on)."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from finflow_simulator import SimulationResult, generate

DAYS, PER_DAY, SEED = 8, 500, 11
START = date(2026, 10, 1)  # Thu; Fri 2026-10-02 is a payroll day, the 3rd day repeats the previous statement's tail


@dataclass
class SimRun:
    root: Path
    result: SimulationResult

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def api(self) -> Path:
        return self.root / "api"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    def table(self, name: str) -> list[dict[str, str]]:
        with (self.truth / name).open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def source_rows(self) -> dict[tuple[str, str], dict[int, dict[str, str]]]:
        """(source, file) -> row -> truth row."""
        found: dict[tuple[str, str], dict[int, dict[str, str]]] = defaultdict(dict)
        for row in self.table("source_rows.csv"):
            found[(row["source"], row["file"])][int(row["row"])] = row
        return found

    def path_of(self, source: str, file: str) -> Path:
        if source in ("stripe", "paypal", "billing", "expenses"):
            return self.api / file
        if source == "adyen":
            return self.api / "adyen" / file
        return self.landing / source / file


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    root = tmp_path_factory.mktemp("sim")
    result = generate(
        root / "landing",
        root / "truth",
        days=DAYS,
        per_day=PER_DAY,
        seed=SEED,
        start=START,
        history_dir=root / "history",
        history_days=5,
        faults=True,
        redelivery_rate=0.25,
        fault_rate=0.08,
    )
    return SimRun(root, result)


@pytest.fixture(scope="session")
def parsed(sim: SimRun) -> dict[tuple[str, str], dict[int, dict]]:
    """Every landed file of the run, parsed with the project's parsers: (source, file) -> row -> record."""
    import json

    from finflow_assets.sources.parsers import get_parser
    from finflow_assets.sources.registry import get_source

    found: dict[tuple[str, str], dict[int, dict]] = {}
    for (source, file), rows in sim.source_rows().items():
        if {row["role"] for row in rows.values()} == {"malformed"}:
            continue
        spec = get_source(source)
        data = sim.path_of(source, file).read_bytes()
        if file.endswith(".jsonl"):
            objects = [json.loads(line) for line in data.decode("utf-8").splitlines()]
            data = json.dumps({"transaction_details": objects} if source == "paypal" else objects).encode()
        records = get_parser(spec.format)(data, file, spec.parser_options).records
        found[(source, file)] = {record["row"]: record for record in records}
    return found
