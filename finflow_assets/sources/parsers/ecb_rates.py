"""ECB euro foreign exchange reference rates (CSV) -> one record per day and currency.

The ECB publishes the rates as ``eurofxref.csv`` (today: ``Date, USD, JPY, ...,`` then ``25 January 2018, 1.2407,
...,`` with spaces after the commas) and ``eurofxref-hist.csv`` (every day since 1999, newest first, ISO dates,
``N/A`` where a currency has no rate that day, e.g. CYP after 2007). Both end each line with a comma. The files are
the zips' contents at https://www.ecb.europa.eu/stats/eurofxref/ (``eurofxref.zip``, ``eurofxref-hist.zip``); the
zip itself is read too (its one CSV member).

Record: ``booked_date`` the rate's day, ``currency`` the quoted currency, ``amount`` the rate (units of the currency
per 1 EUR, as published, never rounded), ``transaction_type`` ``ecb_reference_rate``, ``external_id``
``<date>:<currency>``, ``account`` ``ECB``, ``reference`` ``EUR``. ``row`` is the line of the day.

Strict where money is at stake: a rate that is not a positive number, a date that cannot be read, a row with more
rates than the header has currencies, or a repeated day raise. ``N/A`` (no rate published) and an empty trailing
column are skipped; a day without any rate is skipped with a warning (a truncated line is not: its cells are short).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import ParsedFile, ParseError, make_record

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_NO_RATE = {"N/A", ""}
MAX_UNZIPPED = 64 * 1024 * 1024  # the full history since 1999 is ~1.2 MB


def _day(text: str, file: str, row: int) -> str:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ParseError(file, row, f"date {text!r} is neither YYYY-MM-DD nor '25 January 2018'")


def _unzip(data: bytes, file: str) -> bytes:
    """The one CSV inside the ECB's zip (``eurofxref.zip`` holds ``eurofxref.csv``), size-capped."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if info.filename.lower().endswith(".csv")]
            if len(members) != 1:
                raise ParseError(file, None, f"zip holds {len(members)} CSV files, expected the one rates file")
            if members[0].file_size > MAX_UNZIPPED:
                raise ParseError(file, None, f"zipped CSV is {members[0].file_size} bytes, over {MAX_UNZIPPED}")
            return archive.read(members[0])
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ParseError(file, None, f"broken zip (truncated?): {exc}") from None


def parse_ecb_rates(data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """Parse an ECB reference-rates CSV (daily or historical layout)."""
    if not data.strip():
        raise ParseError(filename, None, "empty file")
    if data[:4] == b"PK\x03\x04":
        data = _unzip(data, filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError(filename, None, "not a UTF-8/ASCII text file (the ECB publishes ASCII)") from None
    rows = list(csv.reader(io.StringIO(text)))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if not header or header[0] != "Date":
        raise ParseError(filename, 1, "first column is not 'Date': not an ECB reference-rates file")
    while header and not header[-1]:
        header.pop()  # the ECB ends every line with a comma
    currencies = header[1:]
    bad = [code for code in currencies if not _CURRENCY.match(code)]
    if bad or not currencies:
        raise ParseError(filename, 1, f"header names no currencies, or codes that are not ISO 4217: {bad}")
    parsed = ParsedFile()
    seen: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        while len(cells) > len(header) and not cells[-1]:
            cells.pop()
        if len(cells) > len(header):
            raise ParseError(filename, number, f"{len(cells) - 1} rates for {len(currencies)} currencies")
        if len(cells) < len(header):
            raise ParseError(filename, number, f"{len(cells) - 1} rates for {len(currencies)} currencies (truncated?)")
        day = _day(cells[0], filename, number)
        if day in seen:
            raise ParseError(filename, number, f"{day} is given twice (also on row {seen[day]})")
        seen[day] = number
        published = 0
        for code, value in zip(currencies, cells[1:], strict=True):
            if value in _NO_RATE:
                continue
            try:
                rate = Decimal(value)
            except InvalidOperation:
                raise ParseError(filename, number, f"{code} rate {value!r} is not a number") from None
            if not rate.is_finite() or rate <= 0:
                raise ParseError(filename, number, f"{code} rate {value!r} is not a positive number")
            published += 1
            parsed.records.append(
                make_record(
                    number,
                    account="ECB",
                    booked_date=day,
                    amount=value,
                    currency=code,
                    reference="EUR",
                    description=f"ECB euro reference rate: 1 EUR = {value} {code}",
                    transaction_type="ecb_reference_rate",
                    external_id=f"{day}:{code}",
                )
            )
        if not published:
            parsed.warn(number, "a day without any published rate, skipped")
    if not seen:
        raise ParseError(filename, None, "no rates in the file (header only)")
    return parsed
