"""Small inline SVG charts for the HTML reports: no JavaScript and no network, so a report opens anywhere."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#c53030", "#805ad5", "#718096", "#d69e2e", "#319795")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.2f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    stacked: bool = True,
    width: int = 760,
    height: int = 280,
) -> str:
    """A bar chart (stacked, or grouped side by side) of ``series`` (name → one value per label), as an SVG element."""
    names = list(series)
    if not labels or not names:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>No data.</p></figure>"
    values = [[max(float(series[n][i] or 0), 0.0) for n in names] for i in range(len(labels))]
    peak = _nice_max(max((sum(v) if stacked else max(v)) for v in values))
    left, right, top, bottom = 64, 16, 12, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(labels)
    bar_w = slot * 0.7 / (1 if stacked else len(names))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 24}" role="img" '
        f'aria-label="{html.escape(title)}" font-family="system-ui,sans-serif" font-size="11">'
    ]
    for tick in range(5):  # horizontal grid with values
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(peak * tick / 4)}</text>')
    every = max(1, len(labels) // 16)  # thin out x labels so they never overlap
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.15
        base = top + plot_h
        for j, name in enumerate(names):
            h = plot_h * values[i][j] / peak
            x = x0 if stacked else x0 + bar_w * j
            y = base - h
            tip = f"{label} · {name}: {_fmt(values[i][j])}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{html.escape(tip)}</title></rect>'
            )
            if stacked:
                base = y
        if i % every == 0:
            cx = left + slot * (i + 0.5)
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {top + plot_h + 14})">{html.escape(str(label))}</text>'
            )
    for j, name in enumerate(names):  # legend under the plot
        x = left + j * 150
        parts.append(f'<rect x="{x}" y="{height + 6}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{height + 15}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def pivot(
    rows: Sequence[Sequence[object]], label_index: int, series_index: int, value_index: int
) -> tuple[list[str], dict[str, list[float]]]:
    """Long rows (label, series, value) → the labels in first-seen order and one value list per series."""
    labels: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    names: list[str] = []
    for row in rows:
        label, name = str(row[label_index]), str(row[series_index])
        if label not in labels:
            labels.append(label)
        if name not in names:
            names.append(name)
        cells[label, name] = cells.get((label, name), 0.0) + float(row[value_index] or 0)  # type: ignore[arg-type]
    return labels, {n: [cells.get((label, n), 0.0) for label in labels] for n in names}
