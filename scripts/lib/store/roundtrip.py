"""YAML's round-trip path (ruamel.yaml: comments, key order, quoting and unknown keys kept), the emitter
that puts a document's own spelling back where its values did not change, and the plain values both
paths agree on: to_plain, non-finite floats, value equality.

The reading rules, bounds and the fast path are lib/store/yamlio.py; the round-trip path parses
only documents that path has vetted.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import math
from collections.abc import Iterator, Mapping
from typing import Any

from lib.store.yamlio import YAMLLoadError, load, unforeseen


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


# ----------------------------------------------------------------- emitting with the source's spelling

def emit(data: Any, source_yaml: str | None, indent: tuple[int, int, int]) -> str:
    """A mapping as round-trip YAML, with the source's own spelling kept on every line whose tokens did not
    change (ruamel normalises aligned values, `~`, flow spacing); each restoration is re-read and kept only
    when it means exactly what `data` means, else ruamel's own output."""
    if data is None or not len(data):
        return ""
    rt = round_trip_yaml()
    rt.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    out = io.StringIO()
    rt.dump(data, out)
    emitted = out.getvalue()
    if not source_yaml:
        return emitted
    want = to_plain(data)
    # From the most faithful restoration to the most careful; each result is verified.
    for normalise, nulls in ((_strip_all_space, True), (_collapse_space, True), (_collapse_space, False)):
        restored = _restore(source_yaml, emitted, normalise, nulls)
        if restored == emitted:
            return emitted
        try:
            if same_values(load(restored), want):
                return restored
        except YAMLLoadError:
            pass
    return emitted


def _strip_all_space(line: str) -> str:
    key = "".join(line.split())
    return key[:-1] if key.endswith(":~") or key == "-~" else key


def _collapse_space(line: str) -> str:
    key = " ".join(line.split())
    return key[:-2] if key.endswith(": ~") else key


def _restore(source: str, emitted: str, normalise: Any, nulls: bool) -> str:
    """Emitted lines, except that runs whose tokens match the source keep the source's spelling."""
    src = source.splitlines(keepends=True)
    new = emitted.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, [normalise(s) for s in src], [normalise(n) for n in new], autojunk=False)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(src[i1:i2])
        elif tag == "replace" and i2 - i1 == j2 - j1:
            out.extend(s if _same_value_line(s, n, nulls) else n for s, n in zip(src[i1:i2], new[j1:j2], strict=True))
        else:
            out.extend(new[j1:j2])
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


def _same_value_line(source: str, emitted: str, nulls: bool) -> bool:
    """Whether two one-line `key: value` entries mean the same (e.g. `.250Z` re-spelled `.250000Z`)."""
    indent = len(source) - len(source.lstrip(" "))
    if indent != len(emitted) - len(emitted.lstrip(" ")):
        return False
    source, emitted = source[indent:], emitted[indent:]
    if source.startswith(("-", "#")) or emitted.startswith(("-", "#")):
        return False
    try:
        a, b = load(source), load(emitted)
    except YAMLLoadError:
        return False
    if not (isinstance(a, dict) and isinstance(b, dict) and len(a) == len(b) == 1):
        return False
    # With `nulls` off, `key:` never matches: it could head a block that continues below.
    if not nulls and next(iter(a.values())) is None:
        return False
    return same_values(a, b)


def guess_indent(yaml_text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation the document itself uses, for lines we emit."""
    mapping, offset = 0, -1
    prev_indent, prev_opens_block = 0, False
    for line in yaml_text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if prev_opens_block:
            if stripped.startswith("- ") or stripped == "-":
                if offset < 0:
                    offset = indent - prev_indent
            elif mapping == 0 and indent > prev_indent:
                mapping = indent - prev_indent
        if mapping and offset >= 0:
            break
        body = stripped[2:] if stripped.startswith("- ") else stripped
        prev_indent = indent
        prev_opens_block = body.rstrip().endswith(":") and not body.startswith(("'", '"'))
    mapping = mapping or 2
    offset = 2 if offset < 0 else offset
    return mapping, max(offset + 2, mapping), offset
