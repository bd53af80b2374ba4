"""Markdown to HTML for notes, and charts drawn on the server as SVG.

Notes are rendered with raw HTML disabled: a `<script>` (or any tag) in a note comes out as
text, and markdown-it's link check refuses `javascript:`, `vbscript:`, `file:` and `data:` links.
Charts are SVG strings whose every label is escaped; colours come from CSS classes so the light
and dark themes both apply.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from lib.security import redact

SERIES_CLASSES = 8  # .s0 .. .s7 in console.css


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def markdown_html(text: str) -> str:
    """A note's markdown as HTML; raw HTML in the note is shown as text, never interpreted."""
    # Notes are committed redacted, but a teammate's note or an older one may still hold a secret.
    rendered: str = _markdown().render(redact.redact(text or ""))
    return rendered


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float, money: bool) -> str:
    if money:
        from lib.console.formatting import money as money_text

        return money_text(value)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _ticks(top: float) -> list[float]:
    if top <= 0:
        return [0.0]
    step = 10 ** len(str(int(top))) / 10 if top >= 1 else 0.1
    while top / step > 5:
        step *= 2
    while top / step < 2 and step > 1e-6:
        step /= 2
    ticks, value = [], 0.0
    while value <= top * 1.0001:
        ticks.append(round(value, 6))
        value += step
    return ticks


def bar_chart(points: Sequence[tuple[str, Mapping[str, float]]], series: Sequence[str], *, title: str,
              money: bool = False, width: int = 1000, height: int = 230,
              classes: Sequence[str] | None = None) -> str:
    """Stacked bars, one per point (label -> {series: value}); an empty chart says so.

    `classes` are the CSS classes of the series (default s0, s1, ...), which carry the colours."""
    css = list(classes) if classes else [f"s{i % SERIES_CLASSES}" for i in range(len(series))]
    if not points:
        return (f'<svg class="chart" role="img" viewBox="0 0 {width} 60" width="100%" aria-label="{_e(title)}">'
                f'<title>{_e(title)}</title><text class="chart-empty" x="{width / 2}" y="34" '
                'text-anchor="middle">no data yet</text></svg>')
    left, right, top_pad, bottom = 56, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    totals = [sum(max(v, 0.0) for v in values.values()) for _, values in points]
    top = max(totals) or 1.0
    ticks = _ticks(top)
    top = max(top, ticks[-1])
    slot = plot_w / len(points)
    bar_w = max(min(slot * 0.72, 48), 1.5)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for tick in ticks:
        y = top_pad + plot_h - tick / top * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        tick_label = f"${tick:,.2f}" if money else _fmt(tick, False)
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(tick_label)}</text>')
    label_every = max(1, int(len(points) / 10 + 0.999))
    days = _days(points)
    for i, (label, values) in enumerate(points):
        x = left + i * slot + (slot - bar_w) / 2
        y = top_pad + plot_h
        tip = [label] + [f"{name}: {_fmt(values.get(name, 0.0), money)}" for name in series if values.get(name)]
        parts.append(f'<g class="bar"><title>{_e(" · ".join(tip))}</title>')
        for s_index, name in enumerate(series):
            value = max(values.get(name, 0.0), 0.0)
            if value <= 0:
                continue
            h = value / top * plot_h
            y -= h
            parts.append(f'<rect class="{css[s_index]}" x="{x:.1f}" y="{y:.1f}" '
                         f'width="{bar_w:.1f}" height="{h:.1f}"/>')
        parts.append("</g>")
        if i % label_every == 0:
            cx = left + i * slot + slot / 2
            text = _day_label(days[i], days[i - label_every] if i >= label_every else None) if days else label
            parts.append(f'<text class="axis" x="{cx:.1f}" y="{height - 14}" text-anchor="middle">'
                         f'{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _days(points: Sequence[tuple[str, Mapping[str, float]]]) -> list[dt.date] | None:
    try:
        return [dt.date.fromisoformat(label) for label, _ in points]
    except ValueError:
        return None


def _day_label(day: dt.date, previous: dt.date | None) -> str:
    """`Dec 5`; the year is added on the first label and where it changes."""
    text = f"{day:%b} {day.day}"
    return f"{text} {day.year}" if previous is None or previous.year != day.year else text


def daily(points: Sequence[tuple[str, Mapping[str, float]]], *, days: int = 90,
          today: dt.date | None = None) -> list[tuple[str, Mapping[str, float]]]:
    """Points on a real time axis: one per calendar day from the first to the last (at most `days`,
    ending today when the data reaches it), empty days included, so gaps read as gaps."""
    dated = {}
    for label, values in points:
        try:
            dated[dt.date.fromisoformat(label)] = values
        except ValueError:
            return list(points)[-days:]
    if not dated:
        return []
    last = max(max(dated), today) if today and today - max(dated) <= dt.timedelta(days=days) else max(dated)
    first = max(min(dated), last - dt.timedelta(days=days - 1))
    out: list[tuple[str, Mapping[str, float]]] = []
    day = first
    while day <= last:
        out.append((day.isoformat(), dated.get(day, {})))
        day += dt.timedelta(days=1)
    return out


def legend(series: Sequence[str], classes: Sequence[str] | None = None) -> str:
    css = list(classes) if classes else [f"s{i % SERIES_CLASSES}" for i in range(len(series))]
    items = "".join(f'<li><span class="swatch {css[i]}"></span>{_e(name)}</li>' for i, name in enumerate(series))
    return f'<ul class="legend">{items}</ul>'


def cost_per_day(rows: Sequence[Mapping[str, Any]], *, days: int = 90) -> str:
    points = daily([(str(r["date"]), {"cost": float(r["cost_usd"])}) for r in rows], days=days)
    return bar_chart(points, ["cost"], title="Cost per day (USD)", money=True)


def failures_over_time(rows: Sequence[Mapping[str, Any]], *, days: int = 90) -> tuple[str, list[str]]:
    classes = sorted({c for r in rows[-days:] for c in r["by_class"]})
    points = daily([(str(r["date"]), {c: float(n) for c, n in r["by_class"].items()}) for r in rows], days=days)
    return bar_chart(points, classes, title="Failures by class per day"), classes


RETRY_SERIES = ("succeeded", "failed", "pending")
RETRY_CLASSES = ("s4", "s1", "s2")  # green, red, grey


def retries_per_day(rows: Sequence[Mapping[str, Any]], *, days: int = 90) -> str:
    points = daily([(str(r["date"]), {s: float(r[s]) for s in RETRY_SERIES}) for r in rows], days=days)
    return bar_chart(points, RETRY_SERIES, title="Retries per day: succeeded, failed, pending",
                     classes=RETRY_CLASSES)
