"""YAML reading and writing with one pinned interpretation.

Two paths, one meaning:
- reads go through libyaml (PyYAML's CSafeLoader), ~20x faster than ruamel's
  round-trip loader, with its scalar resolution replaced by YAML 1.2 rules;
- writes go through ruamel.yaml's round-trip mode, which keeps comments, key
  order, quoting and unknown keys (lib/store/roundtrip.py, with the plain values
  both paths agree on).

The pinned interpretation is YAML 1.2 as ruamel.yaml resolves it: only
true/false (any case variant) are booleans, so `yes`, `no`, `on`, `off` stay
strings; `010` is the integer 10 (not octal 8); `0o10`, `0x1F`, `0b11` and
underscores in numbers are integers; `1:30` is a string (no sexagesimal);
dates and timestamps become date/datetime values. docs/conventions/frontmatter.md
states this and tests/test_yamlio.py checks both paths agree on a corpus.

Both paths are safe: no tag constructs a Python object; an unknown tag is an
error, and so are the YAML 1.1 collection tags (`!!set`, `!!omap`, `!!pairs`) and
`!!binary`, which have no JSON form.

Both paths are bounded (lib/store/yamlbounds.py, docs/security.md "YAML bounds"): a
document over the size cap is refused before it is parsed; the composed node graph is
checked before any value is built, so aliases that would expand past the cap ("billion
laughs"), nesting past the depth cap and aliases inside their own anchor are refused in
time linear in the document; an integer past the digit limit is refused where it is
constructed. The
round-trip path parses only documents the fast path has vetted
(`frontmatter.loads_document`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from lib.store.yamlbounds import DEFAULT_LIMITS, check_size, limits, vet
from lib.store.yamlbounds import (
    YAMLLoadError as YAMLLoadError,  # what load() raises: its callers catch it here
)

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml: same rules, slower
    _BaseLoader = yaml.SafeLoader


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


# bits of the largest integer with `max_int_digits` decimal digits, for the other bases
_BITS_PER_DIGIT = math.log2(10)


def _not_a(node: yaml.Node, text: str, what: str) -> yaml.YAMLError:
    # An explicit tag (`!!int x`) or an impossible date (`2024-13-45`): one line, not a traceback.
    shown = text if len(text) <= 40 else text[:40] + "..."
    return yaml.constructor.ConstructorError(None, None, f"{shown!r} is not {what}", node.start_mark)


_PLAIN_INT = re.compile(r"^[-+]?[0-9_]+$")


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if not _INT.match(text):
        raise _not_a(node, text, "an integer")
    text = text.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    max_digits = DEFAULT_LIMITS.max_int_digits
    if text[:2] in ("0b", "0x", "0o"):
        value = int(text[2:], {"0b": 2, "0x": 16, "0o": 8}[text[:2]])
        if value.bit_length() > max_digits * _BITS_PER_DIGIT:
            raise _too_many_digits(node, f"{len(text) - 2}-digit", max_digits)
        return sign * value
    digits = text.lstrip("0") or "0"  # int() counts leading zeros against its own limit
    if len(digits) > max_digits:  # int() itself would refuse, with a traceback
        raise _too_many_digits(node, f"{len(digits)}-digit", max_digits)
    return sign * int(digits)


def _too_many_digits(node: yaml.Node, size: str, max_digits: int) -> yaml.YAMLError:
    return yaml.constructor.ConstructorError(
        None, None, f"a {size} integer is past the limit of {max_digits} digits", node.start_mark
    )


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    if not (_FLOAT.match(text) or _PLAIN_INT.match(text)) or not text.strip("+-_"):
        raise _not_a(node, text, "a number")
    text = text.replace("_", "").lower()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == ".inf":
        return sign * float("inf")
    if text == ".nan":
        return float("nan")
    return sign * float(text)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    text = str(loader.construct_scalar(node))
    if not _BOOL.match(text):
        raise _not_a(node, text, "true or false")
    return text.lower() == "true"


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> dt.date | dt.datetime:
    try:
        value: dt.date | dt.datetime = loader.construct_yaml_timestamp(node)
    except (ValueError, AttributeError, OverflowError):  # no such day, or not a timestamp at all
        raise _not_a(node, str(node.value), "a valid date or timestamp") from None
    return value


def _refuse_unknown(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported YAML tag {node.tag!r}", node.start_mark
    )


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _refuse_unknown(loader, "", node)


FastLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
FastLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
FastLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
# YAML 1.1 types with no JSON form: refused like any other unknown tag
for _refused in ("set", "binary", "omap", "pairs"):
    FastLoader.add_constructor(f"tag:yaml.org,2002:{_refused}", _refuse_tag)
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
    """Parse one YAML document with the fast loader, within `limits()`; raises YAMLLoadError."""
    return _load(text, FastLoader.construct_document)


def _load(text: str, build: Callable[[Any, Any], Any]) -> Any:
    """Compose `text` within `limits()`, vet the node graph, then `build` the value from it; every error
    as a YAMLLoadError (what `build` raises as _Unusual goes through)."""
    bounds = limits()
    check_size(text, bounds)
    try:
        loader = FastLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            vet(node, bounds, aliases="*" in text)
            return build(loader, node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise YAMLLoadError(_one_line(exc), _mark_line(exc)) from None
    except YAMLLoadError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise unforeseen(exc) from None


def unforeseen(exc: Exception) -> YAMLLoadError:
    # The constructors check what they build; this is the last line for a value that slipped past them.
    text = " ".join(str(exc).split())[:200]
    return YAMLLoadError(f"a value cannot be read ({type(exc).__name__}: {text})")


_TAG = "tag:yaml.org,2002:"
_STR, _INT_TAG, _FLOAT_TAG, _BOOL_TAG, _NULL_TAG, _TIMESTAMP_TAG, _MAP, _SEQ = (
    _TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class _Unusual(Exception):
    """A document the direct construction does not handle: load it the ordinary way."""


def load_jsonable(text: str) -> Any:
    """`jsonable(load(text))`, about twice as fast: what readers that want JSON values use.

    libyaml composes the node tree; plain mappings, sequences and the core scalar tags are
    then turned into JSON values directly, skipping PyYAML's general constructor. Anything
    else (merge keys, non-string keys, other tags) goes the ordinary way, so the result and
    the errors are those of `jsonable(load(text))`.
    """
    try:
        return _load(text, _direct)
    except _Unusual:
        return jsonable(load(text))


def _direct(loader: Any, node: Any) -> Any:
    # the graph was vetted: no cycle, bounded depth and expansion
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
            return _construct_bool(loader, node)
        if tag == _FLOAT_TAG:
            return _construct_float(loader, node)
        if tag == _TIMESTAMP_TAG:
            return _construct_timestamp(loader, node).isoformat()
        raise _Unusual
    if cls is yaml.MappingNode and node.tag == _MAP:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR:
                raise _Unusual
            out[key_node.value] = _direct(loader, value_node)
        return out
    if cls is yaml.SequenceNode and node.tag == _SEQ:
        return [_direct(loader, item) for item in node.value]
    raise _Unusual


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
