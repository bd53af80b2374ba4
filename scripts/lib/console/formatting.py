"""How the pages write money, times, durations and people: one format for each, everywhere.

Money is always dollars with two decimals (`$0.41`, `$1,250.00`); under a cent it shows `<$0.01` so a
cheap session does not read as free. Times are UTC; a relative time ("3 min ago") or a duration ("1 h
12 min") carries the exact UTC time in its title, for hover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

DASH = "–"


def money(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return DASH
    if 0 < abs(value) < 0.005:
        return "<$0.01"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def parse_stamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def utc(value: Any) -> str:
    """An ISO stamp as `2026-12-05 14:03 UTC`."""
    stamp = parse_stamp(value)
    if stamp is None:
        return value if isinstance(value, str) and value else DASH
    return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: Any) -> str:
    """12 s, 4 min, 1 h 12 min, 2 d 3 h."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds != seconds or seconds < 0:
        return DASH
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago(value: Any, now: dt.datetime | None = None) -> str:
    stamp = parse_stamp(value)
    if stamp is None:
        return DASH
    now = now or dt.datetime.now(dt.UTC)
    delta = (now - stamp).total_seconds()
    if delta < 0:
        return "in " + duration(-delta)
    if delta < 45:
        return "just now"
    return duration(delta) + " ago"


def when(value: Any) -> Markup:
    """A relative time with the UTC time on hover, in a <time> element the page's script keeps fresh."""
    stamp = parse_stamp(value)
    if stamp is None:
        return Markup(escape(value if isinstance(value, str) and value else DASH))
    iso = stamp.astimezone(dt.UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}" title="{}" data-ago="1">{}</time>').format(iso, utc(value), ago(value))


def took(seconds: Any, start: Any = None, end: Any = None) -> Markup:
    """A duration with its start and end (UTC) on hover."""
    title = " → ".join(utc(x) for x in (start, end) if parse_stamp(x)) or duration(seconds)
    return Markup('<span title="{}">{}</span>').format(title, duration(seconds))


def pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, (int, float)) and not isinstance(value, bool) else DASH


def who(slug: Any, names: Mapping[str, str]) -> Markup:
    """An operator by name, the slug on hover (a slug in no roster shows as it is)."""
    if not isinstance(slug, str) or not slug:
        return Markup(DASH)
    name = names.get(slug)
    if not name:
        return Markup(escape(slug))
    return Markup('<span title="{}">{}</span>').format(slug, name)
