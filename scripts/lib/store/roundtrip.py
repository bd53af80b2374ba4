"""YAML's round-trip path (ruamel.yaml: comments, key order, quoting and unknown keys kept), and the
plain values both paths agree on: to_plain, non-finite floats, value equality.

The reading rules, bounds and the fast path are lib/store/yamlio.py; the round-trip path parses
only documents that path has vetted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from typing import Any

from lib.store.yamlio import YAMLLoadError, unforeseen


def round_trip_yaml() -> Any:
    """A ruamel.yaml instance configured for faithful round trips (imported lazily: ~30 ms)."""
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1_000_000  # never re-wrap a long line
    rt.allow_unicode = True
    rt.representer.add_representer(dt.datetime, _represent_datetime)
    rt.representer.ignore_aliases = _ignore_alias
    return rt


def round_trip_load(rt: Any, text: str) -> Any:
    """`rt.load(text)` for a text `load` accepted; where ruamel reads it otherwise (libyaml and
    ruamel differ on a few malformed inputs), a YAMLLoadError rather than ruamel's own."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return rt.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "cannot be parsed").split())
        raise YAMLLoadError(problem, mark.line + 1 if mark is not None else None) from None
    except (YAMLError, ValueError, TypeError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        raise unforeseen(exc) from None


def _ignore_alias(data: Any) -> bool:
    # An anchor a person wrote survives; one object a tool put under two keys (say, the same
    # timestamp) is written twice rather than as a surprising &id001 / *id001 pair.
    anchor = getattr(data, "anchor", None)
    return not (anchor is not None and getattr(anchor, "value", None))


def _represent_datetime(representer: Any, value: dt.datetime) -> Any:
    # Values baton writes itself: ISO 8601 with a "T" and "Z" for UTC, which both
    # loaders read back as the same aware datetime.
    text = value.isoformat()
    if value.utcoffset() == dt.timedelta(0):
        text = text.replace("+00:00", "Z")
    return representer.represent_scalar("tag:yaml.org,2002:timestamp", text)


def to_plain(value: Any) -> Any:
    """ruamel's round-trip objects -> the plain values the fast loader gives."""
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dt.datetime):
        return dt.datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=_plain_tz(value),
        )
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _plain_tz(value: dt.datetime) -> dt.tzinfo | None:
    offset = value.utcoffset()
    if offset is None:
        return None
    return dt.UTC if offset == dt.timedelta(0) else dt.timezone(offset)


def non_finite(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], float]]:
    """(path, value) of every .inf/.nan inside a value: YAML has them, JSON does not."""
    if isinstance(value, float) and not math.isfinite(value):
        yield at, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from non_finite(item, (*at, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from non_finite(item, (*at, index))


def spell_float(value: float) -> str:
    """How YAML spells a float (`.inf`, `-.inf`, `.nan` for the non-finite ones)."""
    if value != value:
        return ".nan"
    if math.isinf(value):
        return "-.inf" if value < 0 else ".inf"
    return repr(value)


def same_values(a: Any, b: Any) -> bool:
    """Deep equality that also compares types (so True != 1 and 1 != 1.0); mapping order is not meaning."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return bool(b != b)
    if isinstance(a, dt.datetime):
        return bool(a == b and a.utcoffset() == b.utcoffset())
    return bool(a == b)
