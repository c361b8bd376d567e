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
    """Land one dropped file into ``raw.<source>`` and archive it; never raises for bad content (quarantines)."""
    outcome = land_bytes(conn, spec, path.name, path.read_bytes())
    if outcome.status == "quarantined":
        _quarantine_file(spec, path, outcome.error or "unreadable")
    else:
        _move(path, archive_dir or path.parent / ARCHIVE)
    return FileOutcome(path, outcome.status, outcome.rows, outcome.error)


def land_bytes(conn: psycopg.Connection, spec: SourceSpec, origin: str, data: bytes) -> FileOutcome:
    """Parse and land one delivery (a file's or a downloaded report's bytes) once, atomically.

    Returns ``already_landed`` for content landed before and ``quarantined`` (journaled, nothing landed) for
    content the parser rejects; the caller decides what to do with the original.
    """
    digest = content_hash(data)
    started = datetime.now(UTC)
    ensure_raw_schema(conn)
    ensure_raw_table(conn, spec.raw_table)
    conn.commit()

    if already_landed(conn, spec.name, digest):
        log.info("%s: %s was already landed (same content)", spec.name, origin)
        return FileOutcome(Path(origin), "already_landed")

    try:
        parsed = get_parser(spec.format)(data, origin, spec.parser_options)
        if not parsed.records and not parsed.statements:
            raise ParseError(origin, None, "file holds no transactions")
    except ParseError as exc:
        log.error("%s: quarantined %s: %s", spec.name, origin, exc)
        with conn.transaction():
            conn.execute(
                "insert into raw._loads (load_id, source, origin, content_hash, status, error, started_at)"
                " values (%s, %s, %s, %s, 'quarantined', %s, %s)",
                (str(uuid.uuid4()), spec.name, origin, digest, str(exc), started),
            )
        return FileOutcome(Path(origin), "quarantined", error=str(exc))

    load_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(
            "insert into raw._loads (load_id, source, origin, content_hash, status, rows_landed, started_at)"
            " values (%s, %s, %s, %s, 'landed', %s, %s)",
            (load_id, spec.name, origin, digest, len(parsed.records), started),
        )
        copy_records(conn, spec.raw_table, load_id, origin, parsed.records)
        record_statements(conn, load_id, spec.name, parsed.statements)
    log.info("%s: landed %s rows from %s (load %s)", spec.name, len(parsed.records), origin, load_id)
    return FileOutcome(Path(origin), "landed", rows=len(parsed.records))


def land_pending(conn: psycopg.Connection, spec: SourceSpec, folder: Path) -> LandingReport:
    """Land every pending file of a source; one bad file does not stop the others."""
    report = LandingReport(spec.name)
    for path in pending_files(spec, folder):
        report.outcomes.append(land_file(conn, spec, path))
    return report


def _quarantine_file(spec: SourceSpec, path: Path, error: str) -> None:
    target = _move(path, path.parent / QUARANTINE)
    target.with_name(target.name + ".error").write_text(
        f"{error}\n\nsource: {spec.name}\nformat: {spec.format}\n"
        f"quarantined at: {datetime.now(UTC).isoformat()}\n"
        "Fix the file and drop it into the landing folder again; it will be landed once.\n"
    )


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # keep both: never overwrite evidence
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target
