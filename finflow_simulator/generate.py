"""Write a simulated company's days into each source's native format, and the ground truth apart from them.

Layout (``landing`` is what the file-drop sensors watch, ``api_dir`` what the local API server serves)::

    landing/bank_operating/operating_YYYYMMDD.csv     bank CSV export
    landing/bank_payroll/payroll_4321_YYYYMMDD.qfx     OFX 1.0.2 SGML (cp1252)
    landing/bank_eu/MT940_YYYYMMDD.sta                 SWIFT MT940, two EUR accounts (latin-1)
    landing/bank_treasury/camt053_YYYYMMDD.xml         ISO 20022 camt.053, two accounts
    landing/bank_lockbox/lockbox_YYYYMMDD.bai          BAI2, two lockbox accounts
    landing/payroll/payroll_register_PR-....csv        payroll run register (pay days only)
    landing/erp_gl/gl_cash_journal_YYYYMMDD.csv        GL cash lines mirroring every bank line
    api_dir/{stripe,paypal,billing,expenses}.jsonl     one native API object per line
    api_dir/adyen/settlement_detail_report_batch_N.csv Adyen settlement details, one per batch
    truth_dir/transactions.csv, source_rows.csv, matches.csv, anomalies.csv

Everything is written day by day (one day in memory at a time) and is a pure function of the arguments: the same
seed gives the same bytes. Quirks: a few deliveries arrive twice (the same bytes under another name, or the same
statement re-exported with a new creation time), one operating-account export every 20 days repeats the end of
the previous day's statement, and with ``faults`` a few files are broken (bad amount, truncated) and followed by
a corrected delivery; the broken files' rows are marked ``malformed`` in ``source_rows.csv``.

Ground truth (``truth_dir``):

* ``transactions.csv``: one row per true transaction (``per_day`` a business day across all sources); ``amount``
  signed as its primary view books it; ``source, source_file, source_row, source_id`` locate that primary view;
  ``group_id`` is the payout / Adyen batch / payroll run / invoice it belongs to.
* ``source_rows.csv``: one row per rendered row: ``row`` as the parser reports it (file line, ``Ntry`` index, or
  line of the ``.jsonl`` = index in a page of all objects), ``object_id`` for API objects, the ``txn_id`` it renders,
  ``role`` (primary | echo | redelivery | malformed) and the booked date, amount and currency that row shows.
* ``matches.csv``: reconciliation truth, left and right row each as source/file/row/id: ``stripe_payout``,
  ``paypal_withdrawal``, ``adyen_payout`` (processor payout -> bank deposit), ``invoice_payment`` /
  ``invoice_refund`` (billing -> bank or lockbox), ``internal_transfer`` (the two sides), ``payroll_run``
  (register -> payroll-account debit), ``ledger_bank`` (GL line -> bank line). ``matchable`` 0: the echo was still
  in transit after the last simulated day (``right_id`` says when it is due).
* ``anomalies.csv``: the injected anomalies (also flagged in ``transactions.csv``) with what makes them one.
"""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from .adyen import render_adyen_settlement
from .api_json import stripe_text
from .bai2 import render_bai2
from .bank_csv import render_bank_csv
from .camt053 import render_camt053
from .catalog import GL_ACCOUNTS
from .company import business_days
from .engine import DayOutput, Simulator
from .ledger_csv import gl_text, render_gl, render_payroll
from .model import Line, Txn, money
from .mt940 import render_mt940
from .ofx import render_ofx
from .statement import AccountDay
from .world import COMPANY_ACCOUNT, MERCHANT_ACCOUNT, NUMBERING_EPOCH, World

log = logging.getLogger(__name__)

DEFAULT_START = NUMBERING_EPOCH
REDELIVERY_RATE = 0.04  # share of file deliveries that arrive a second time
FAULT_RATE = 0.03  # with faults=True: share of file deliveries that arrive broken first
OVERLAP_EVERY = 20  # every Nth simulated day (from the 3rd) the operating export repeats the previous day's tail
OVERLAP_ROWS = 25

TRUTH_COLUMNS = (
    "txn_id",
    "booked_date",
    "amount",
    "currency",
    "counterparty",
    "description",
    "category",
    "is_anomaly",
    "anomaly_kind",
    "source",
    "source_file",
    "source_row",
    "source_id",
    "group_id",
)
SOURCE_ROW_COLUMNS = ("source", "file", "row", "object_id", "txn_id", "role", "booked_date", "amount", "currency")
MATCH_COLUMNS = (
    "match_id",
    "match_type",
    "left_source",
    "left_file",
    "left_row",
    "left_id",
    "right_source",
    "right_file",
    "right_row",
    "right_id",
    "amount",
    "currency",
    "matchable",
    "txn_id",
)
ANOMALY_COLUMNS = ("txn_id", "anomaly_kind", "source", "booked_date", "amount", "currency", "counterparty", "detail")
HISTORY_COLUMNS = ("date", "description", "amount", "currency", "category", "source")
API_SOURCES = ("stripe", "paypal", "billing", "expenses")
BANK_SOURCES = ("bank_operating", "bank_payroll", "bank_eu", "bank_treasury", "bank_lockbox")


@dataclass
class SimulationResult:
    days: list[date]
    transactions: int
    files: list[Path] = field(default_factory=list)
    truth_file: Path | None = None
    history_file: Path | None = None
    source_rows_file: Path | None = None
    matches_file: Path | None = None
    anomalies_file: Path | None = None
    api_dir: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)  # rendered rows per source (primary + echo)


def generate(
    landing: Path,
    truth_dir: Path,
    *,
    days: int = 1,
    per_day: int = 10_000,
    seed: int = 7,
    start: date = DEFAULT_START,
    history_dir: Path | None = None,
    history_days: int = 40,
    api_dir: Path | None = None,
    faults: bool = False,
    redelivery_rate: float = REDELIVERY_RATE,
    fault_rate: float = FAULT_RATE,
) -> SimulationResult:
    """Simulate ``days`` business days of ``per_day`` true transactions (across all 12 sources) from ``start``.

    File drops go to ``landing/<source>/``, API sources to ``api_dir`` (default: ``truth_dir``'s sibling ``api``,
    i.e. ``<FINFLOW_HOME>/simulator/api`` when ``truth_dir`` is ``<FINFLOW_HOME>/simulator/truth``), the ground
    truth to ``truth_dir``. ``redelivery_rate`` is the share of file deliveries that arrive twice; with ``faults``,
    ``fault_rate`` of them (and at least one) arrive broken before their corrected version. Also writes
    ``history_days`` earlier days of labeled history (the finance team's past categorizations) to ``history_dir``
    when given: the categorizer's training data.
    """
    api_dir = api_dir if api_dir is not None else truth_dir.parent / "api"
    result = SimulationResult(days=business_days(start, days), transactions=0, api_dir=api_dir)
    world = World.build(seed, per_day)
    world.number_from(start)
    simulator = Simulator(world, seed)
    with _Writer(landing, truth_dir, api_dir, seed, faults, result) as writer:
        writer.redelivery_rate, writer.fault_rate = redelivery_rate, fault_rate
        for index, day in enumerate(result.days):
            output = simulator.simulate_day(day)
            writer.write_day(output, index)
            result.transactions += len(output.txns)
            log.info("simulated %s: %s transactions", day, len(output.txns))
        writer.finish(simulator.pending)
    if history_dir is not None:
        result.history_file = write_history(
            history_dir, start, history_days, min(per_day, 1000), seed + 1, world_per_day=per_day, world_seed=seed
        )
    return result


def write_history(
    folder: Path,
    before: date,
    days: int,
    per_day: int,
    seed: int,
    *,
    world_per_day: int | None = None,
    world_seed: int | None = None,
) -> Path:
    """Labeled history: the business days before ``before`` as the finance team categorized them, one row per
    source row (every source's view except the GL itself, whose lines mirror the bank lines listed here)."""
    world = World.build(seed if world_seed is None else world_seed, world_per_day or per_day)
    simulator = Simulator(world, seed, per_day=per_day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "categorized_history.csv"
    first = before - timedelta(days=int(days * 7 / 5) + 3)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for day in business_days(first, days):
            if day >= before:
                break
            output = simulator.simulate_day(day)
            rows = []
            for source, lines in _all_views(output):
                for line in lines:
                    txn = line.txn
                    text = line.description or txn.description
                    rows.append((line.booked.isoformat(), text, money(line.cents), txn.currency, txn.category, source))
            writer.writerows(rows)
    return path


def _all_views(output: DayOutput) -> Iterable[tuple[str, list[Line]]]:
    yield "stripe", [line for _, _, line in output.stripe]
    yield "paypal", [line for _, _, line in output.paypal]
    yield "billing", [line for _, _, line in output.billing]
    yield "expenses", [line for _, _, line in output.expenses]
    if output.adyen is not None:
        yield "adyen", output.adyen.lines
    for source in BANK_SOURCES:
        for statement in output.statements.get(source, []):
            yield source, statement.lines
    for run in output.payroll_runs:
        yield "payroll", run.lines


# ------------------------------------------------------------------------------------------------------ writer


def _truncate(data: bytes) -> bytes:
    """Cut a file inside its last half (inside the last SWIFT message for MT940), as an interrupted transfer does."""
    start = data.rfind(b"{4:")
    start = start if start > 0 else len(data) // 3
    return data[: start + (len(data) - start) // 2]


def _truncate_row(data: bytes) -> bytes:
    """Cut a CSV export in the middle of its middle row (never on a row boundary, which would still parse)."""
    lines = data.split(b"\n")
    middle = max(1, (len(lines) - 1) // 2)
    return b"\n".join(lines[:middle] + [lines[middle][: max(1, len(lines[middle]) // 2)]])


def _bad_amount(data: bytes) -> bytes:
    """Corrupt the balance of the middle row of a bank CSV export (an 'X' typed into the number)."""
    lines = data.split(b"\r\n")
    middle = max(1, (len(lines) - 1) // 2)
    line = lines[middle]
    lines[middle] = line[:-1] + b'X"' if line.endswith(b'"') else line + b"X"
    return b"\r\n".join(lines)


class _Writer:
    """Renders each day's output into files and the truth tables, applying the delivery quirks."""

    def __init__(
        self, landing: Path, truth_dir: Path, api_dir: Path, seed: int, faults: bool, result: SimulationResult
    ) -> None:
        self.landing, self.truth_dir, self.api_dir = landing, truth_dir, api_dir
        self.seed, self.faults, self.result = seed, faults, result
        truth_dir.mkdir(parents=True, exist_ok=True)
        api_dir.mkdir(parents=True, exist_ok=True)
        (api_dir / "adyen").mkdir(exist_ok=True)
        for source in (*BANK_SOURCES, "payroll", "erp_gl"):
            (landing / source).mkdir(parents=True, exist_ok=True)
        self.handles = []
        self.truth_out = self._plain(truth_dir / "transactions.csv", TRUTH_COLUMNS)
        # ids, file names and amounts only: written as plain lines, no CSV quoting needed
        self.source_rows_out = self._plain(truth_dir / "source_rows.csv", SOURCE_ROW_COLUMNS)
        self.matches_out = self._plain(truth_dir / "matches.csv", MATCH_COLUMNS)
        self.match_lines: list[str] = []
        self.anomalies = self._csv(truth_dir / "anomalies.csv", ANOMALY_COLUMNS)
        result.truth_file = truth_dir / "transactions.csv"
        result.source_rows_file = truth_dir / "source_rows.csv"
        result.matches_file = truth_dir / "matches.csv"
        result.anomalies_file = truth_dir / "anomalies.csv"
        self.api = {}
        self.api_rows = dict.fromkeys(API_SOURCES, 0)
        for source in API_SOURCES:
            path = api_dir / f"{source}.jsonl"
            self.api[source] = path.open("w", encoding="utf-8", newline="\n")
            self.handles.append(self.api[source])
            result.files.append(path)
        self.match_id = 0
        self.faulted = 0
        self.redelivery_rate, self.fault_rate = REDELIVERY_RATE, FAULT_RATE
        self.previous_tail: tuple[int, list[Line]] | None = None  # operating: opening before the tail, tail lines

    def _csv(self, path: Path, header: tuple[str, ...]):  # noqa: ANN202 - a csv writer
        handle = path.open("w", newline="", encoding="utf-8")
        self.handles.append(handle)
        writer = csv.writer(handle)
        writer.writerow(header)
        return writer

    def _plain(self, path: Path, header: tuple[str, ...]):  # noqa: ANN202 - a text handle
        handle = path.open("w", newline="", encoding="utf-8")
        self.handles.append(handle)
        handle.write(",".join(header) + "\n")
        return handle

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.close()

    # --------------------------------------------------------------------------------------------- bookkeeping

    def _place(self, line: Line, source: str, file: str, row: int, object_id: str = "") -> None:
        line.source, line.file, line.row = source, file, row
        if object_id:
            line.object_id = object_id
        if line.role == "primary":
            txn = line.txn
            txn.source, txn.file, txn.row, txn.object_id = source, file, row, line.object_id
        self.day_rows.append(line)

    def _extra_rows(self, lines: list[Line], rows: list[int], file: str, source: str, role: str) -> None:
        self.source_rows_out.write(
            "".join(
                f"{source},{file},{row},{line.object_id},{line.txn.txn_id},{role},{line.booked.isoformat()},"
                f"{money(line.cents)},{line.txn.currency}\n"
                for line, row in zip(lines, rows, strict=True)
            )
        )

    def _match(
        self, match_type: str, left: tuple, right: tuple, cents: int, currency: str, txn: Txn, matchable: int = 1
    ) -> None:
        """One reconciliation truth row (ids, file names and amounts only: no field needs CSV quoting)."""
        self.match_id += 1
        self.match_lines.append(
            f"M{self.match_id:08d},{match_type},{left[0]},{left[1]},{left[2]},{left[3]},"
            f"{right[0]},{right[1]},{right[2]},{right[3]},{money(cents)},{currency},{matchable},{txn.txn_id}\n"
        )

    @staticmethod
    def _where(line: Line | Txn) -> tuple[str, str, int | str, str]:
        return (line.source, line.file, line.row or "", line.object_id)

    # --------------------------------------------------------------------------------------------- delivery

    def _deliver(
        self,
        source: str,
        name: str,
        data: bytes,
        lines: list[Line],
        rows: list[int],
        *,
        rerender: Callable[[], bytes],
        broken: Callable[[bytes], bytes] = _truncate,
        redelivered: list[tuple[Line, int]] | None = None,
        track: bool = True,
    ) -> str:
        """Write one file drop (and its quirks) and record where each line landed; returns the landed file's name.

        ``track=False``: the caller writes the landed rows' truth itself (the ledger does, for speed)."""
        folder = self.landing / source
        stem, dot, ext = name.rpartition(".")
        force_fault = self.faults and self.faulted == 0 and source == "bank_eu"
        fault_draw = self.qrng.random()  # drawn either way, so faults=True changes nothing but the broken files
        if force_fault or (self.faults and fault_draw < self.fault_rate):
            self.faulted += 1
            (folder / name).write_bytes(broken(data))
            self.result.files.append(folder / name)
            self._extra_rows(lines, rows, name, source, "malformed")
            if redelivered:
                self._extra_rows([ln for ln, _ in redelivered], [r for _, r in redelivered], name, source, "malformed")
            name = f"{stem}_corrected.{ext}"
        (folder / name).write_bytes(data)
        self.result.files.append(folder / name)
        if track:
            for line, row in zip(lines, rows, strict=True):
                line.source, line.file, line.row = source, name, row
                if line.role == "primary":
                    txn = line.txn
                    txn.source, txn.file, txn.row, txn.object_id = source, name, row, line.object_id
            self.day_rows.extend(lines)
        if redelivered:
            self._extra_rows([ln for ln, _ in redelivered], [r for _, r in redelivered], name, source, "redelivery")
        if self.qrng.random() < self.redelivery_rate:
            if self.qrng.random() < 0.5:
                again, copy = f"{stem} (1).{ext}", data  # the same file dropped twice under another name
            else:
                again, copy = f"{stem}_resend.{ext}", rerender()  # re-exported: same rows, new header/quoting
            (folder / again).write_bytes(copy)
            self.result.files.append(folder / again)
            self._extra_rows(lines, rows, again, source, "redelivery")
            if redelivered:
                self._extra_rows(
                    [ln for ln, _ in redelivered], [r for _, r in redelivered], again, source, "redelivery"
                )
        return name

    # --------------------------------------------------------------------------------------------- one day

    def write_day(self, out: DayOutput, index: int) -> None:
        day = out.day
        self.qrng = random.Random(f"finflow-quirks-{self.seed}-{day.isoformat()}")
        self.day_rows: list[Line] = []
        self._write_api(out)
        self._write_banks(out, index)
        self._write_payroll(out)
        self._write_gl(out)
        self._write_truth(out)

    def _write_api(self, out: DayOutput) -> None:
        for source, items in (
            ("stripe", out.stripe),
            ("paypal", out.paypal),
            ("billing", out.billing),
            ("expenses", out.expenses),
        ):
            items.sort(key=lambda item: item[0])
            handle = self.api[source]
            number = self.api_rows[source]
            file = f"{source}.jsonl"
            text = []
            truth = []
            day_iso = out.day.isoformat()
            for _, obj, line in items:  # every API object is its transaction's primary view
                number += 1
                text.append(stripe_text(obj) if source == "stripe" else obj)
                line.source, line.file, line.row = source, file, number
                txn = line.txn
                txn.source, txn.file, txn.row, txn.object_id = source, file, number, line.object_id
                booked = line.booked
                truth.append(
                    f"{source},{file},{number},{line.object_id},{txn.txn_id},primary,"
                    f"{day_iso if booked == out.day else booked.isoformat()},{money(line.cents)},{txn.currency}\n"
                )
            self.source_rows_out.write("".join(truth))
            self.result.rows[source] = self.result.rows.get(source, 0) + len(items)
            if text:
                handle.write("\n".join(text) + "\n")
            self.api_rows[source] = number
        if out.adyen is not None:
            batch = out.adyen
            data, rows = render_adyen_settlement(
                batch.rows, company=COMPANY_ACCOUNT, merchant=MERCHANT_ACCOUNT, batch=batch.number, currency="EUR"
            )
            name = f"settlement_detail_report_batch_{batch.number}.csv"
            path = self.api_dir / "adyen" / name
            path.write_bytes(data)
            self.result.files.append(path)
            for line, row in zip(batch.lines, rows, strict=True):
                self._place(line, "adyen", name, row, f"{MERCHANT_ACCOUNT}:{batch.number}:{row}")

    def _write_banks(self, out: DayOutput, index: int) -> None:
        day = out.day
        at = datetime(day.year, day.month, day.day, 21, 5)
        later = at + timedelta(hours=13)
        # bank_operating: CSV, optionally repeating the previous day's tail
        for statement in out.statements.get("bank_operating", []):
            prefix: list[Line] = []
            opening = statement.opening
            if self.previous_tail is not None and index % OVERLAP_EVERY == 2:
                opening, prefix = self.previous_tail
            lines = prefix + statement.lines
            data, rows, _ = render_bank_csv(lines, opening)
            if statement.lines:
                tail = statement.lines[-OVERLAP_ROWS:]
                self.previous_tail = (statement.closing - sum(line.cents for line in tail), tail)
                own_rows = rows[len(prefix) :]
                self._deliver(
                    "bank_operating",
                    f"operating_{day:%Y%m%d}.csv",
                    data,
                    statement.lines,
                    own_rows,
                    rerender=lambda lines=lines, opening=opening: render_bank_csv(lines, opening, quote_all=True)[0],
                    broken=_bad_amount,
                    redelivered=list(zip(prefix, rows[: len(prefix)], strict=True)),
                )
        statements = out.statements.get("bank_payroll", [])
        if statements:
            data, rows = render_ofx(statements, server_time=at)
            self._deliver(
                "bank_payroll",
                f"payroll_{statements[0].account[-4:]}_{day:%Y%m%d}.qfx",
                data,
                _flat(statements),
                rows,
                rerender=lambda: render_ofx(statements, server_time=later)[0],
            )
        statements = out.statements.get("bank_eu", [])
        if statements:
            data, rows = render_mt940(statements, created=at)
            self._deliver(
                "bank_eu",
                f"MT940_{day:%Y%m%d}.sta",
                data,
                _flat(statements),
                rows,
                rerender=lambda: render_mt940(statements, created=later)[0],
            )
        statements = out.statements.get("bank_treasury", [])
        if statements:
            message = f"SVB{day:%Y%m%d}{statements[0].sequence:06d}"
            data, rows = render_camt053(statements, created=at, message_id=message)
            self._deliver(
                "bank_treasury",
                f"camt053_{day:%Y%m%d}.xml",
                data,
                _flat(statements),
                rows,
                rerender=lambda: render_camt053(statements, created=later, message_id=message + "R")[0],
            )
        statements = out.statements.get("bank_lockbox", [])
        if statements:
            file_id = f"{statements[0].sequence:04d}"
            bai = {"sender": "026009593", "receiver": "NWANALYTIC"}
            data, rows = render_bai2(statements, created=at, file_id=file_id, **bai)
            self._deliver(
                "bank_lockbox",
                f"lockbox_{day:%Y%m%d}.bai",
                data,
                _flat(statements),
                rows,
                rerender=lambda: render_bai2(statements, created=later, file_id=file_id + "1", **bai)[0],
            )

    def _write_payroll(self, out: DayOutput) -> None:
        for run in out.payroll_runs:
            data, rows = render_payroll(run.rows)
            name = f"payroll_register_{run.run_id}.csv"
            self._deliver(
                "payroll",
                name,
                data,
                run.lines,
                rows,
                rerender=lambda run=run: render_payroll(run.rows, quote_all=True)[0],
                broken=_truncate_row,
            )

    def _write_gl(self, out: DayOutput) -> None:
        """The ERP's cash journal of the day: one GL line per bank line, same amount, date and description."""
        day = out.day
        day_text = f"{day:%Y%m%d}"
        gl_lines: list[Line] = []
        gl_rows: list[tuple] = []
        text: list[str] = []
        number = 0
        for source in BANK_SOURCES:
            for statement in out.statements.get(source, []):
                journal = f"JE-{day_text}-{statement.gl_code}"
                currency = statement.currency
                for line in statement.lines:
                    number += 1
                    txn = line.txn
                    line_id = f"GL{day_text}{number:06d}"
                    category = txn.category
                    code, name = GL_ACCOUNTS[category]
                    booked = line.booked.isoformat()
                    amount = money(line.cents)
                    counterparty = line.counterparty or txn.counterparty
                    document = line.doc_ref or line.reference or line.bank_ref
                    row = (line_id, journal, booked, code, name, category)
                    row += (line.description, counterparty, amount, currency, document)
                    gl_rows.append(row)
                    text.append(
                        f"{line_id},{journal},{booked},{code},{name},{category},{_quote(line.description)},"
                        f"{_quote(counterparty)},{amount},{currency},{_quote(document)}\n"
                    )
                    gl_lines.append(
                        Line(txn, line.cents, line.booked, line.description, role="echo", object_id=line_id, link=line)
                    )
        if not gl_lines:
            return
        name = self._deliver(
            "erp_gl",
            f"gl_cash_journal_{day_text}.csv",
            gl_text(text),
            gl_lines,
            list(range(2, len(gl_lines) + 2)),
            rerender=lambda: render_gl(gl_rows, quote_all=True)[0],
            broken=_truncate_row,
            track=False,
        )
        # truth: each GL row echoes its bank line's transaction and matches that bank line
        truth, matches = [], []
        match_id = self.match_id
        for row, (ledger, values) in enumerate(zip(gl_lines, gl_rows, strict=True), start=2):
            bank = ledger.link
            txn = ledger.txn
            match_id += 1
            truth.append(f"erp_gl,{name},{row},{values[0]},{txn.txn_id},echo,{values[2]},{values[8]},{values[9]}\n")
            matches.append(
                f"M{match_id:08d},ledger_bank,erp_gl,{name},{row},{values[0]},"
                f"{bank.source},{bank.file},{bank.row},{bank.object_id},{values[8]},{values[9]},1,{txn.txn_id}\n"
            )
        self.match_id = match_id
        self.source_rows_out.write("".join(truth))
        self.match_lines += matches
        self.result.rows["erp_gl"] = self.result.rows.get("erp_gl", 0) + len(gl_lines)

    def _write_truth(self, out: DayOutput) -> None:
        iso: dict[date, str] = {}
        rows = []
        for txn in out.txns:
            day = txn.day
            rows.append(
                f"{txn.txn_id},{iso.get(day) or iso.setdefault(day, day.isoformat())},{money(txn.cents)},"
                f"{txn.currency},{_quote(txn.counterparty)},{_quote(txn.description)},{txn.category},"
                f"{1 if txn.anomaly else 0},{txn.anomaly},{txn.source},{txn.file},{txn.row},{txn.object_id},"
                f"{_quote(txn.group_id)}\n"
            )
        self.truth_out.write("".join(rows))
        counts = self.result.rows
        out_rows = []
        for line in self.day_rows:
            booked = line.booked
            text = iso.get(booked) or iso.setdefault(booked, booked.isoformat())
            txn = line.txn
            source = line.source
            out_rows.append(
                f"{source},{line.file},{line.row},{line.object_id},{txn.txn_id},{line.role},{text},"
                f"{money(line.cents)},{txn.currency}\n"
            )
            counts[source] = counts.get(source, 0) + 1
            if line.match_type and line.role == "echo":
                self._match(line.match_type, self._where(txn), self._where(line), line.cents, txn.currency, txn)
        self.source_rows_out.write("".join(out_rows))
        for run in out.payroll_runs:
            debit = run.bank_line
            left = ("payroll", run.lines[0].file if run.lines else "", "", run.run_id)
            self._match("payroll_run", left, self._where(debit), debit.cents, debit.txn.currency, debit.txn)
        self.matches_out.write("".join(self.match_lines))
        self.match_lines = []
        self.anomalies.writerows(
            (
                txn.txn_id,
                txn.anomaly,
                source,
                txn.day.isoformat(),
                money(txn.cents),
                txn.currency,
                txn.counterparty,
                detail,
            )
            for txn, source, detail in out.anomalies
        )

    def finish(self, pending: dict[date, list[tuple[str, Line]]]) -> None:
        """Echoes still in transit after the last simulated day: known to the truth, not matchable yet."""
        for on in sorted(pending):
            for key, line in pending[on]:
                txn = line.txn
                right = (_ACCOUNT_SOURCE.get(key, ""), "", "", f"due {on.isoformat()}")
                self._match(line.match_type, self._where(txn), right, line.cents, txn.currency, txn, matchable=0)
        self.matches_out.write("".join(self.match_lines))
        self.match_lines = []


_ACCOUNT_SOURCE = {  # account key -> the source whose files carry it (see world.World.build)
    "operating": "bank_operating",
    "payroll": "bank_payroll",
    "eu_main": "bank_eu",
    "eu_reserve": "bank_eu",
    "treasury": "bank_treasury",
    "money_market": "bank_treasury",
    "lockbox_east": "bank_lockbox",
    "lockbox_west": "bank_lockbox",
}


def _quote(text: str) -> str:
    """A CSV field as ``csv.writer`` would write it (quoted only when it holds a comma, quote or line break)."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _flat(statements: list[AccountDay]) -> list[Line]:
    return [line for statement in statements for line in statement.lines]
