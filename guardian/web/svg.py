"""Server-rendered SVG charts: readable without JavaScript, shown beside their tables.

Charts take the values a report already shows (suppressed counts included): a "*" value
draws no bar and is labelled "fewer than 8", so a chart never reveals what the table hides.
Only presentation attributes are used (no `style` attributes: the Content-Security-Policy
allows no inline styles); colours come from guardian.css classes. Every chart has a
<title> and <desc> and `role="img"`, and labels carry the numbers, so colour is never the
only signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

SUPPRESSED_LABEL = "fewer than 8"


def _number(value: Any) -> float | None:
    if value is None or value == "*":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(value: Any) -> str:
    n = _number(value)
    if n is None:
        if isinstance(value, str) and value.startswith(SUPPRESSED_LABEL):
            return value
        return SUPPRESSED_LABEL if value == "*" else "–"
    return f"{n:g}"


def bar_chart(title: str, rows: Sequence[tuple[str, Any]], unit: str = "",
              width: int = 640, label_width: int = 210) -> str:
    """A horizontal bar chart of (label, value) rows, largest scale from the data. Two or
    more suppressed rows share one last line ("and 12 more: fewer than 8 each"), so that a
    chart is as tall as what it draws; the description still names every row. Labels are
    cut at 32 characters: `label_width` (px) should hold what the caller passes."""
    bar_h, gap, label_w, value_w = 22, 6, label_width, 110
    described = rows
    hidden = [r for r in rows if r[1] == "*"]
    if len(hidden) > 1:
        rows = [*(r for r in rows if r[1] != "*"),
                (f"and {len(hidden)} more", f"{SUPPRESSED_LABEL} each")]
    height = max(1, len(rows)) * (bar_h + gap) + 10
    numbers = [_number(v) for _, v in rows]
    top = max([n for n in numbers if n is not None] or [1.0]) or 1.0
    plot_w = width - label_w - value_w
    parts = [
        f'<svg class="chart chart--bar" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_describe_bars(described, unit))}</desc>",
    ]
    for i, ((label, value), n) in enumerate(zip(rows, numbers, strict=True)):
        y = 5 + i * (bar_h + gap)
        text_y = y + bar_h * 0.7
        parts.append(f'<text class="chart__label" x="{label_w - 8}" y="{text_y:.1f}" '
                     f'text-anchor="end">{escape(str(label)[:32])}</text>')
        if n is None:
            parts.append(f'<text class="chart__value chart__value--suppressed" '
                         f'x="{label_w}" y="{text_y:.1f}">{escape(_label(value))}</text>')
            continue
        w = max(1.0, plot_w * n / top) if n > 0 else 0
        parts.append(f'<rect class="chart__bar" x="{label_w}" y="{y}" width="{w:.1f}" '
                     f'height="{bar_h}"></rect>')
        parts.append(f'<text class="chart__value" x="{label_w + w + 6:.1f}" '
                     f'y="{text_y:.1f}">{escape(_label(value))}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _describe_bars(rows: Sequence[tuple[str, Any]], unit: str) -> str:
    return "; ".join(f"{label}: {_label(v)}{unit if _number(v) is not None else ''}"
                     for label, v in rows) or "no data"


def line_chart(title: str, x_labels: Sequence[str],
               series: Sequence[tuple[str, str, Sequence[Any]]], width: int = 640,
               height: int = 240) -> str:
    """A line chart of weekly series: (name, css modifier, values) each; suppressed points
    break the line. Each point carries a <title> with its value for screen readers and
    hover."""
    left, right, top_pad, bottom = 48, 130, 12, 36
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    values = [_number(v) for _, _, vs in series for v in vs]
    top = max([v for v in values if v is not None] or [1.0]) or 1.0
    n = max(1, len(x_labels) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top_pad + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart chart--line" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        "<desc>" + escape("; ".join(
            f"{name}: " + ", ".join(f"{x} {_label(v)}" for x, v in zip(x_labels, vs,
                                                                      strict=True))
            for name, _, vs in series)) + "</desc>",
        f'<line class="chart__axis" x1="{left}" y1="{top_pad + plot_h}" '
        f'x2="{left + plot_w}" y2="{top_pad + plot_h}"></line>',
        f'<text class="chart__tick" x="{left - 6}" y="{top_pad + 4}" '
        f'text-anchor="end">{top:g}</text>',
        f'<text class="chart__tick" x="{left - 6}" y="{top_pad + plot_h}" '
        f'text-anchor="end">0</text>',
    ]
    for i, x in enumerate(x_labels):
        if i % max(1, len(x_labels) // 6) == 0 or i == len(x_labels) - 1:
            px, _ = xy(i, 0)
            parts.append(f'<text class="chart__tick" x="{px:.1f}" '
                         f'y="{top_pad + plot_h + 18}" text-anchor="middle">'
                         f"{escape(x)}</text>")
    for k, (name, modifier, vs) in enumerate(series):
        segments: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(vs):
            num = _number(v)
            if num is None:
                segments.append([])
                continue
            segments[-1].append(xy(i, num))
        for seg in segments:
            if len(seg) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                parts.append(f'<polyline class="chart__line chart__line--{escape(modifier)}" '
                             f'points="{pts}" fill="none"></polyline>')
        for i, v in enumerate(vs):
            num = _number(v)
            if num is None:
                continue
            x, y = xy(i, num)
            parts.append(f'<circle class="chart__point chart__line--{escape(modifier)}" '
                         f'cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(name)}, '
                         f"{escape(x_labels[i])}: {escape(_label(v))}</title></circle>")
        ly = top_pad + 14 + 20 * k
        parts.append(f'<line class="chart__line chart__line--{escape(modifier)}" '
                     f'x1="{left + plot_w + 12}" y1="{ly - 4}" x2="{left + plot_w + 32}" '
                     f'y2="{ly - 4}"></line>')
        parts.append(f'<text class="chart__legend" x="{left + plot_w + 38}" y="{ly}">'
                     f"{escape(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)
