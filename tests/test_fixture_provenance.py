"""The vendored fixture folder holds exactly the files PROVENANCE.md lists as vendored, each under a licence that allows
redistribution in this Apache-2.0 repository, and none of the files it lists as not vendored."""

from __future__ import annotations

import re

from tests.conftest import VENDORED_FIXTURES, not_vendored

REDISTRIBUTABLE = re.compile(r"^(MIT|BSD-3-Clause|Apache-2\.0)\b")


def _vendored_rows() -> dict[str, str]:
    """``<format>/<file>`` -> licence, from the per-format tables of the Vendored section."""
    text = (VENDORED_FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8")
    vendored = text.split("## Vendored", 1)[1].split("## Not vendored", 1)[0]
    rows: dict[str, str] = {}
    for section in re.split(r"^### ", vendored, flags=re.MULTILINE)[1:]:
        fmt = re.search(r"\(`(\w+)/`\)", section.splitlines()[0])[1]
        for name, licence in re.findall(r"^\| `([^`]+)` \|[^|]*\| ([^|]+) \|", section, re.MULTILINE):
            rows[f"{fmt}/{name}"] = licence.strip()
    return rows


def test_vendored_files_match_the_provenance_table() -> None:
    on_disk = {f"{p.parent.name}/{p.name}" for p in VENDORED_FIXTURES.glob("*/*")}
    assert on_disk == set(_vendored_rows())


def test_vendored_licences_allow_redistribution() -> None:
    wrong = {name: licence for name, licence in _vendored_rows().items() if not REDISTRIBUTABLE.match(licence)}
    assert not wrong


def test_no_restricted_file_is_vendored() -> None:
    assert not_vendored(), "the Not vendored table is empty or unreadable"
    assert all(not REDISTRIBUTABLE.match(licence) for licence in not_vendored().values())
    assert not [name for name in not_vendored() if (VENDORED_FIXTURES / name).exists()]
