"""Landing dropped files: each file is parsed, landed once (by content hash) and archived, or quarantined.

A file lands atomically: its rows, its statements and its journal entry commit in one transaction, so a crash
mid-file leaves nothing behind and a rerun lands it whole. A file that cannot be parsed moves to
``landing/<source>/quarantine/`` next to a ``.error`` note naming the file, the row and the problem.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .parsers import ParseError, get_parser
from .raw_tables import (
    already_landed,
    content_hash,
    copy_records,
    ensure_raw_schema,
    ensure_raw_table,
    record_statements,
)
from .registry import SourceSpec

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
ARCHIVE = "archive"


@dataclass
class FileOutcome:
    path: Path
    status: str  # landed | already_landed | quarantined
    rows: int = 0
    error: str | None = None


@dataclass
class LandingReport:
    """What one landing pass did, for logs and Dagster metadata."""

    source: str
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rows_landed(self) -> int:
        return sum(o.rows for o in self.outcomes if o.status == "landed")

    @property
    def errors(self) -> list[str]:
        return [o.error for o in self.outcomes if o.error]


def pending_files(spec: SourceSpec, folder: Path) -> list[Path]:
    """Files waiting in the source's landing folder, oldest first (delivery order matters for statements)."""
    if not folder.is_dir():
        return []
    found = {p for pattern in spec.file_patterns for p in folder.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def land_file(conn: psycopg.Connection, spec: SourceSpec, path: Path, archive_dir: Path | None = None) -> FileOutcome:
    """Land one file into ``raw.<source>``; never raises for bad content (it quarantines instead)."""
    data = path.read_bytes()
    digest = content_hash(data)
    started = datetime.now(UTC)
    ensure_raw_schema(conn)
    ensure_raw_table(conn, spec.raw_table)
    conn.commit()

    if already_landed(conn, spec.name, digest):
        log.info("%s: %s was already landed (same content); archiving it", spec.name, path.name)
        _move(path, archive_dir or path.parent / ARCHIVE)
        return FileOutcome(path, "already_landed")

    try:
        parsed = get_parser(spec.format)(data, path.name, spec.parser_options)
        if not parsed.records and not parsed.statements:
            raise ParseError(path.name, None, "file holds no transactions")
    except ParseError as exc:
        return _quarantine(conn, spec, path, digest, started, str(exc))

    load_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(
            "insert into raw._loads (load_id, source, origin, content_hash, status, rows_landed, started_at)"
            " values (%s, %s, %s, %s, 'landed', %s, %s)",
            (load_id, spec.name, path.name, digest, len(parsed.records), started),
        )
        copy_records(conn, spec.raw_table, load_id, path.name, parsed.records)
        record_statements(conn, load_id, spec.name, parsed.statements)
    log.info("%s: landed %s rows from %s (load %s)", spec.name, len(parsed.records), path.name, load_id)
    _move(path, archive_dir or path.parent / ARCHIVE)
    return FileOutcome(path, "landed", rows=len(parsed.records))


def land_pending(conn: psycopg.Connection, spec: SourceSpec, folder: Path) -> LandingReport:
    """Land every pending file of a source; one bad file does not stop the others."""
    report = LandingReport(spec.name)
    for path in pending_files(spec, folder):
        report.outcomes.append(land_file(conn, spec, path))
    return report


def _quarantine(
    conn: psycopg.Connection, spec: SourceSpec, path: Path, digest: str, started: datetime, error: str
) -> FileOutcome:
    log.error("%s: quarantined %s: %s", spec.name, path.name, error)
    with conn.transaction():
        conn.execute(
            "insert into raw._loads (load_id, source, origin, content_hash, status, error, started_at)"
            " values (%s, %s, %s, %s, 'quarantined', %s, %s)",
            (str(uuid.uuid4()), spec.name, path.name, digest, error, started),
        )
    target = _move(path, path.parent / QUARANTINE)
    target.with_name(target.name + ".error").write_text(
        f"{error}\n\nsource: {spec.name}\nformat: {spec.format}\nsha256: {digest}\n"
        f"quarantined at: {datetime.now(UTC).isoformat()}\n"
        "Fix the file and drop it into the landing folder again; it will be landed once.\n"
    )
    return FileOutcome(path, "quarantined", error=error)


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # keep both: never overwrite evidence
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target
