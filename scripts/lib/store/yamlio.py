"""YAML reading and writing with one pinned interpretation.

Two paths, one meaning:
- reads go through libyaml (PyYAML's CSafeLoader), ~20x faster than ruamel's
  round-trip loader, with its scalar resolution replaced by YAML 1.2 rules;
- writes go through ruamel.yaml's round-trip mode, which keeps comments, key
  order, quoting and unknown keys.

The pinned interpretation is YAML 1.2 as ruamel.yaml resolves it: only
true/false (any case variant) are booleans, so `yes`, `no`, `on`, `off` stay
strings; `010` is the integer 10 (not octal 8); `0o10`, `0x1F`, `0b11` and
underscores in numbers are integers; `1:30` is a string (no sexagesimal);
dates and timestamps become date/datetime values. docs/conventions/frontmatter.md
states this and tests/test_yamlio.py checks both paths agree on a corpus.

Both paths are safe: no tag constructs a Python object; an unknown tag is an
error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import yaml

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml: same rules, slower
    _BaseLoader = yaml.SafeLoader


class YAMLLoadError(ValueError):
    """YAML that cannot be parsed, or uses a tag we refuse; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE = re.compile(r"^(?:<<)$")
_TIMESTAMP = re.compile(
    r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)


# Tags of plain scalars already resolved: a fifth of a note's load time is matching each
# scalar against the resolver regexes, and the answer depends on the text alone.
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 50_000


class FastLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's safe loader with YAML 1.2 scalar resolution (see module docstring)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 100 and len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


FastLoader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
    ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
    ("tag:yaml.org,2002:merge", _MERGE, "<"),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:timestamp", _TIMESTAMP, "0123456789"),
):
    FastLoader.add_implicit_resolver(_tag, _regexp, list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.startswith("0b"):
        return sign * int(text[2:], 2)
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    if text.startswith("0o"):
        return sign * int(text[2:], 8)
    return sign * int(text)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == ".inf":
        return sign * float("inf")
    if text == ".nan":
        return float("nan")
    return sign * float(text)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _refuse_unknown(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported YAML tag {node.tag!r}", node.start_mark
    )


FastLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
FastLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
FastLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
FastLoader.add_multi_constructor("", _refuse_unknown)


def _mark_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _one_line(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    text = problem or str(exc).splitlines()[0]
    if context and problem:
        text = f"{context}: {problem}"
    return " ".join(str(text).split())


def load(text: str) -> Any:
    """Parse one YAML document with the fast loader; raises YAMLLoadError."""
    try:
        data = yaml.load(text, Loader=FastLoader)
    except yaml.YAMLError as exc:
        raise YAMLLoadError(_one_line(exc), _mark_line(exc)) from None
    if "*" in text:  # only an alias can make a value contain itself
        _refuse_cycles(data)
    return data


def _refuse_cycles(value: Any, inside: frozenset[int] = frozenset()) -> None:
    # `a: &x [1, *x]` is valid YAML for a list that contains itself: no JSON, hash or
    # schema check can take it, so it is refused like a malformed document.
    if not isinstance(value, (dict, list)):
        return
    if id(value) in inside:
        raise YAMLLoadError("an alias refers to a node that contains it")
    inside = inside | {id(value)}
    for item in value.values() if isinstance(value, dict) else value:
        _refuse_cycles(item, inside)


_TAG = "tag:yaml.org,2002:"
_STR, _INT_TAG, _FLOAT_TAG, _BOOL_TAG, _NULL_TAG, _TIMESTAMP_TAG, _MAP, _SEQ = (
    _TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class _Unusual(Exception):
    """A document the direct construction does not handle: load it the ordinary way."""


class _Cycle(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def load_jsonable(text: str) -> Any:
    """`jsonable(load(text))`, about twice as fast: what readers that want JSON values use.

    libyaml composes the node tree; plain mappings, sequences and the core scalar tags are
    then turned into JSON values directly, skipping PyYAML's general constructor. Anything
    else (merge keys, non-string keys, other tags) goes the ordinary way, so the result and
    the errors are those of `jsonable(load(text))`; except that an alias inside its own
    anchor, which JSON cannot hold (`jsonable` would recurse forever), is a YAMLLoadError.
    """
    try:
        loader = FastLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            return _direct(loader, node, set())
        finally:
            loader.dispose()
    except _Unusual:
        return jsonable(load(text))
    except _Cycle as exc:
        raise YAMLLoadError("an alias refers to a node that contains it", exc.line) from None
    except yaml.YAMLError as exc:
        raise YAMLLoadError(_one_line(exc), _mark_line(exc)) from None


def _direct(loader: Any, node: Any, open_nodes: set[int]) -> Any:
    cls = node.__class__
    if cls is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _NULL_TAG:
            return None
        if tag == _INT_TAG:
            return _construct_int(loader, node)
        if tag == _BOOL_TAG:
            return node.value.lower() == "true"
        if tag == _FLOAT_TAG:
            return _construct_float(loader, node)
        if tag == _TIMESTAMP_TAG:
            return loader.construct_yaml_timestamp(node).isoformat()
        raise _Unusual
    key = id(node)
    if key in open_nodes:  # an alias inside its own anchor
        raise _Cycle(node.start_mark.line + 1)
    open_nodes.add(key)
    try:
        if cls is yaml.MappingNode and node.tag == _MAP:
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR:
                    raise _Unusual
                out[key_node.value] = _direct(loader, value_node, open_nodes)
            return out
        if cls is yaml.SequenceNode and node.tag == _SEQ:
            return [_direct(loader, item, open_nodes) for item in node.value]
        raise _Unusual
    finally:
        open_nodes.discard(key)


def key_line(text: str, pointer: list[str | int]) -> int | None:
    """The 1-based line of the value (or key) at a JSON-pointer path, for error messages.

    Only called when reporting a problem, so it composes the node tree (slower) on
    demand. Returns the deepest line it could reach.
    """
    try:
        node = yaml.compose(text, Loader=FastLoader)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for part in pointer:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# ---------------------------------------------------------------- round trip

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


def jsonable(value: Any) -> Any:
    """YAML values -> JSON values: dates and datetimes become ISO 8601 strings (`isoformat()`),
    binary becomes text, mapping keys become strings. The content_hash recipe and schema
    validation both see notes through this."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


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
