"""Landing dropped files: each file is parsed, landed once (by content hash) and archived, or quarantined.

A file lands atomically: its rows, its statements and its journal entry commit in one transaction, so a crash
mid-file leaves nothing behind and a rerun lands it whole. A file that cannot be parsed moves to
``landing/<source>/quarantine/`` next to a ``.error`` note naming the file, the row and the problem.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .parsers import ParsedFile, ParseError, get_parser
from .raw_tables import (
    already_landed,
    content_hash,
    copy_records,
    ensure_raw_schema,
    ensure_raw_table,
    record_statements,
    row_hashes,
)
from .redeliveries import record_redelivery
from .registry import SourceSpec
from .text_cleaning import CleaningReport, clean_records

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
ARCHIVE = "archive"


@dataclass
class FileOutcome:
    path: Path
    status: str  # landed | already_landed | quarantined
    rows: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


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


# names of uploads still in progress (SFTP clients, browsers) and hidden files: left alone, never quarantined
_IN_PROGRESS = (".part", ".partial", ".tmp", ".filepart", ".crdownload", ".download")


def unreadable_files(spec: SourceSpec, folder: Path) -> list[Path]:
    """Files in the landing folder that the source's patterns do not take: they would wait there forever."""
    if not folder.is_dir():
        return []
    taken = set(pending_files(spec, folder))
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p not in taken and not p.name.startswith(".") and not p.name.lower().endswith(_IN_PROGRESS)
    )


def refusal(spec: SourceSpec, name: str) -> str | None:
    """Why the source will not read a file of this name (its ``file_patterns`` take none like it), or None."""
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in spec.file_patterns):
        return None
    return f"{spec.name} does not read files named like {name!r}: it takes {', '.join(spec.file_patterns)}"


def land_file(conn: psycopg.Connection, spec: SourceSpec, path: Path, archive_dir: Path | None = None) -> FileOutcome:
    """Land one dropped file into ``raw.<source>`` and archive it; never raises for bad content (quarantines)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        outcome = _journal_quarantine(
            conn, spec, path.name, "", datetime.now(UTC), f"{path.name}: file: cannot be read ({exc.strerror})"
        )
    else:
        outcome = land_bytes(conn, spec, path.name, data)
    if outcome.status == "quarantined":
        _quarantine_file(spec, path, outcome.error or "unreadable")
    else:
        _move(path, archive_dir or path.parent / ARCHIVE)
    return FileOutcome(path, outcome.status, outcome.rows, outcome.error, outcome.warnings)


def land_bytes(conn: psycopg.Connection, spec: SourceSpec, origin: str, data: bytes) -> FileOutcome:
    """Parse and land one delivery (a file's or a downloaded report's bytes) once, atomically.

    Returns ``already_landed`` for content landed before (or by a concurrent run) and ``quarantined`` (journaled,
    nothing landed) for content that cannot be read or written, whatever the reason; the caller decides what to do
    with the original. Only a lost database connection raises: that is not the file's fault.
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
        parsed = _parse(spec, origin, data)
    except ParseError as exc:
        return _journal_quarantine(conn, spec, origin, digest, started, str(exc))
    cleaning = CleaningReport()
    records = clean_records(parsed.records, cleaning)
    statements = clean_records(parsed.statements)
    warnings = [*parsed.warnings, *filter(None, [cleaning.warning()])]
    if not records and not statements:
        # a day without transactions (a header-only export) is a delivery: it counts for the source's freshness;
        # the journal's once-only key takes the name too, so tomorrow's identical empty export lands as well
        digest = content_hash(data + b"\0" + origin.encode())
        if already_landed(conn, spec.name, digest):
            return FileOutcome(Path(origin), "already_landed")
        warnings.append("no transactions in this delivery")

    load_id = str(uuid.uuid4())
    try:
        with conn.transaction():
            conn.execute(
                "insert into raw._loads"
                " (load_id, source, origin, content_hash, status, rows_landed, warnings, started_at)"
                " values (%s, %s, %s, %s, 'landed', %s, %s, %s)",
                (load_id, spec.name, origin, digest, len(records), warnings, started),
            )
            hashes = row_hashes(records)
            copy_records(conn, spec.raw_table, load_id, origin, records, hashes)
            record_statements(conn, load_id, spec.name, statements)
            redelivered = record_redelivery(conn, spec.name, spec.raw_table, load_id, records, hashes, statements)
            if redelivered:
                warnings += redelivered
                conn.execute("update raw._loads set warnings = %s where load_id = %s", (warnings, load_id))
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.errors.UniqueViolation) and exc.diag.constraint_name == "_loads_landed_once":
            log.info("%s: %s was landed by a concurrent run", spec.name, origin)
            return FileOutcome(Path(origin), "already_landed", error="landed by a concurrent run")
        row = _copy_row(exc, records)
        where = f"row {row}" if row is not None else "file"
        problem = (exc.diag.message_primary or str(exc)).strip()
        return _journal_quarantine(
            conn, spec, origin, digest, started, f"{origin}: {where}: the database refused the text: {problem}"
        )
    for warning in warnings:
        log.warning("%s: %s: %s", spec.name, origin, warning)
    log.info("%s: landed %s rows from %s (load %s)", spec.name, len(records), origin, load_id)
    return FileOutcome(Path(origin), "landed", rows=len(records), warnings=warnings)


def _parse(spec: SourceSpec, origin: str, data: bytes) -> ParsedFile:
    """The parser's result; any failure inside a parser is a ParseError naming the file (a parser bug must not
    block the source: the file is quarantined and the next one lands)."""
    try:
        return get_parser(spec.format)(data, origin, spec.parser_options)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(origin, None, "the file nests too deeply to be read") from None
    except Exception as exc:
        log.exception("%s: the %s parser failed on %s", spec.name, spec.format, origin)
        problem = f"the {spec.format} parser could not read it ({type(exc).__name__}: {exc})"
        raise ParseError(origin, None, problem) from None


def _copy_row(exc: psycopg.Error, records: list[dict]) -> int | None:
    """The source row of the record COPY stopped at (PostgreSQL names the COPY line in the error's context)."""
    match = re.search(r"COPY [^,]+, line (\d+)", exc.diag.context or "")
    if not match:
        return None
    index = int(match.group(1)) - 1
    return records[index].get("row") if 0 <= index < len(records) else None


def _journal_quarantine(
    conn: psycopg.Connection, spec: SourceSpec, origin: str, digest: str, started: datetime, error: str
) -> FileOutcome:
    log.error("%s: quarantined %s: %s", spec.name, origin, error)
    ensure_raw_schema(conn)
    with conn.transaction():
        conn.execute(
            "insert into raw._loads (load_id, source, origin, content_hash, status, error, started_at)"
            " values (%s, %s, %s, %s, 'quarantined', %s, %s)",
            (str(uuid.uuid4()), spec.name, origin, digest, error, started),
        )
    return FileOutcome(Path(origin), "quarantined", error=error)


def land_pending(conn: psycopg.Connection, spec: SourceSpec, folder: Path) -> LandingReport:
    """Land every pending file of a source; one bad file does not stop the others. A file the source cannot read
    (its name matches none of the source's patterns) is quarantined with the patterns it accepts."""
    report = LandingReport(spec.name)
    for path in unreadable_files(spec, folder):
        error = f"{path.name}: file: {refusal(spec, path.name)}"
        report.outcomes.append(_journal_quarantine(conn, spec, path.name, "", datetime.now(UTC), error))
        report.outcomes[-1].path = path
        _quarantine_file(spec, path, error)
    for path in pending_files(spec, folder):
        report.outcomes.append(land_file(conn, spec, path))
    return report


def _quarantine_file(spec: SourceSpec, path: Path, error: str) -> None:
    _write_note(spec, _move(path, path.parent / QUARANTINE), error)


def save_quarantined(spec: SourceSpec, folder: Path, name: str, data: bytes, error: str) -> Path:
    """Keep a delivery that came over the network (an API page, a report download) in ``<folder>/quarantine/``
    with its ``.error`` note, as a dropped file would be kept."""
    target_dir = folder / QUARANTINE
    target_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("._")[:150] or "delivery"
    target = target_dir / safe
    if target.exists():
        target = target_dir / f"{safe}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    target.write_bytes(data)
    _write_note(spec, target, error)
    return target


def _write_note(spec: SourceSpec, target: Path, error: str) -> None:
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
    with contextlib.suppress(OSError):  # statements are private to the data folder's owner (another user's drop may
        target.chmod(0o600)  # not be ours to change; its folder is 0700 all the same)
    return target
