"""Writing a report as CSV (safe for spreadsheets) and HTML (readable in a browser)."""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with a quote (OWASP CSV injection advice).

    Numbers stay numbers: only text is escaped, so a negative amount is still a negative amount.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return path


def _cell(value: Any) -> str:
    """A table cell's text: exact decimals with thousands separators (money is Decimal, never float)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_html(
    path: Path,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    intro: str = "",
    *,
    headline: Mapping[str, Any] | None = None,
    charts: Sequence[str] = (),
    row_limit: int = 5000,
) -> Path:
    """A self-contained page: headline figures, inline SVG charts (trusted markup from ``charts.py``), the table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows[:row_limit]
    )
    more = f"<p>… {len(rows) - row_limit:,} more rows in the CSV.</p>" if len(rows) > row_limit else ""
    figures = "".join(
        f'<div class="fig"><div class="v">{html.escape(_cell(v))}</div><div class="k">{html.escape(k)}</div></div>'
        for k, v in (headline or {}).items()
    )
    path.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1a202c}}table{{border-collapse:collapse}}
td,th{{border:1px solid #cbd5e0;padding:.3rem .6rem;text-align:left}}th{{background:#edf2f7}}
.figs{{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}}.fig{{border:1px solid #cbd5e0;padding:.6rem 1rem}}
.v{{font-size:1.4rem;font-weight:600}}.k{{color:#4a5568}}figcaption{{font-weight:600;margin:.5rem 0}}</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>
<div class="figs">{figures}</div>
{"".join(charts)}
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>{more}</body></html>
""",
        encoding="utf-8",
    )
    return path


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 20) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit} more rows")
    return "\n".join(lines)
