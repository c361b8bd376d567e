"""Cleaning parsed text before it reaches the database, the terminal or a report.

PostgreSQL refuses NUL in text and jsonb, and lone UTF-16 surrogates (from undecodable bytes) in jsonb; terminal
control sequences (ESC, BEL, a carriage return) and bidirectional overrides in a description would be replayed by
``finflow review list`` and written into every report. Banks do send such bytes (padding NULs, copy-pasted memo
fields), and none of them carries meaning in a transaction's text, so they are replaced, never a reason to
refuse a file; each delivery counts what was replaced as a warning in its journal entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# C0 controls (tab, line feed and carriage return included: a record's text is one line), DEL, C1 controls,
# lone surrogates, and the bidirectional embedding/override/isolate marks (the "trojan source" characters)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r" {2,}")


def clean_text(value: str) -> tuple[str, int]:
    """The text with unsafe characters removed (NUL, surrogates, bidi marks) or turned into a space (other controls),
    and how many there were."""
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        char = match.group()
        return "" if char == "\x00" or char > "\x9f" else " "

    cleaned = _UNSAFE.sub(replace, value)
    if found:
        cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned, found


@dataclass
class CleaningReport:
    """What cleaning one delivery changed: how many characters, in which rows (for the load journal)."""

    characters: int = 0
    rows: list[int] = field(default_factory=list)

    def warning(self, limit: int = 10) -> str | None:
        if not self.characters:
            return None
        shown = ", ".join(map(str, self.rows[:limit])) + (" …" if len(self.rows) > limit else "")
        return (
            f"{self.characters} control or invalid character(s) removed from text in {len(self.rows)} row(s)"
            f" (rows {shown})"
        )


def _clean(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        total, out = 0, {}
        for key, item in value.items():
            new_key, n_key = _clean(key) if isinstance(key, str) else (key, 0)
            new_item, n_item = _clean(item)
            out[new_key] = new_item
            total += n_key + n_item
        return out, total
    if isinstance(value, list | tuple):
        cleaned = [_clean(item) for item in value]
        return type(value)(item for item, _ in cleaned), sum(n for _, n in cleaned)
    return value, 0


def clean_records(records: Iterable[dict[str, Any]], report: CleaningReport | None = None) -> list[dict[str, Any]]:
    """Every record with its text cleaned (a new list; records without unsafe text are returned as they are)."""
    report = report if report is not None else CleaningReport()
    out = []
    for index, record in enumerate(records, start=1):
        cleaned, found = _clean(record)
        if found:
            report.characters += found
            report.rows.append(record.get("row", index) if isinstance(record, dict) else index)
            out.append(cleaned)
        else:
            out.append(record)
    return out
