"""Compact JSON for the telemetry hook through the C accelerators in `_json`, without importing `json`.

`import json` pulls in `re` and `enum` and compiles regexes: more than the rest of a hook call.
Valid input never imports it; invalid input falls back to it for a precise error. Standard
library only and valid Python 3.8.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Tuple


class _ScanContext:
    """What _json.make_scanner reads from a JSONDecoder, without importing json."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


def _build_codec() -> Tuple[Any, Any]:
    try:
        import _json

        # typeshed wants a json.JSONDecoder; the C scanner only reads these attributes.
        scanner = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
        encoder = _json.make_encoder(
            None, _not_serialisable, _json.encode_basestring_ascii, None, ":", ",", False, False, True,
        )
        if scanner("[1]", 0)[0] != [1] or "".join(encoder({"a": 1}, 0)) != '{"a":1}':
            raise ImportError("unexpected _json behaviour")
        return scanner, encoder
    except Exception:
        return None, None


def _not_serialisable(obj: object) -> Any:
    raise TypeError("not JSON serialisable: " + type(obj).__name__)


_SCANNER, _ENCODER = _build_codec()


def loads(text: str) -> Any:
    """json.loads for one document, through the C scanner (no `re` import on valid input)."""
    if _SCANNER is not None:
        start = 0
        size = len(text)
        while start < size and text[start] in " \t\n\r":
            start += 1
        try:
            obj, end = _SCANNER(text, start)
        except Exception:
            obj = end = None  # the slow path below reports the error precisely
        if end is not None and not text[end:].strip(" \t\n\r"):
            return obj
    import json

    return json.loads(text)


def dumps(obj: Any) -> str:
    """Compact json.dumps (ASCII, no spaces)."""
    if _ENCODER is not None:
        return "".join(_ENCODER(obj, 0))
    import json

    return json.dumps(obj, separators=(",", ":"))
