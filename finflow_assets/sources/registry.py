"""The sources FinFlow pulls, as data: one entry per source, turned into ``raw_<name>`` assets by one factory.

Adding a source means adding an entry here, a parser for its format (if new) in ``parsers/``, and a staging
model ``dbt_project/models/staging/<name>/stg_<name>__transactions.sql``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class SourceSpec:
    """One source system and how its data arrives."""

    name: str
    system: str
    kind: Literal["file_drop", "api"]
    format: str
    description: str
    # file drops: which files in landing/<name>/ belong to the source
    file_patterns: tuple[str, ...] = ("*",)
    parser_options: Mapping[str, Any] = field(default_factory=dict)
    # how often a delivery is expected; a longer silence fails the source's freshness check
    expected_every: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"source name {self.name!r} must be a lower-case identifier")
        object.__setattr__(self, "parser_options", MappingProxyType(dict(self.parser_options)))

    @property
    def asset_name(self) -> str:
        return f"raw_{self.name}"

    @property
    def raw_table(self) -> str:
        return self.name


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        name="bank_operating",
        system="Main operating account",
        kind="file_drop",
        format="bank_csv",
        description="Daily CSV export of the main operating account (Date, Description, Debit, Credit, Balance).",
        file_patterns=("*.csv", "*.CSV"),
        parser_options={
            "columns": {
                "date": "Date",
                "description": "Description",
                "debit": "Debit",
                "credit": "Credit",
                "balance": "Balance",
            },
            "date_format": "%m/%d/%Y",
            "currency": "USD",
        },
    ),
)

SOURCES_BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in SOURCES}


def get_source(name: str) -> SourceSpec:
    try:
        return SOURCES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {sorted(SOURCES_BY_NAME)}") from None
