"""The one loader of YAML settings files checked against a JSON Schema.

`.claude/baton.yaml` (lib.core.config), `.claude/operators.yaml` (lib.store.operators) and
`.claude/notion.yaml` (lib.notion.config) all read through here, so they agree on how a file
is read, which schema file it is checked against, and how an error is worded:
`<file>:<line>: /json/pointer: message`, one line, naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.core.errors import ConfigError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_path(name: str) -> Path:
    """scripts/schemas/<name>: where every schema of baton lives."""
    return SCHEMAS_DIR / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    with open(schema_path(name), encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def read_text(path: Path) -> str | None:
    """The file's text; None when it does not exist; ConfigError when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _default_message(error: ValidationError) -> str:
    return " ".join(str(error.message).split())


def parse_document(text: str, source: str, schema_name: str, *, shape: str,
                   empty: Any = None, best: bool = False,
                   message: Callable[[ValidationError], str] = _default_message) -> Any:
    """The YAML document in `text`, validated against `schema_name`.

    `shape` words what the top level must be ("a mapping with an `operators:` list");
    `empty` is what an empty file means (None: an empty file is an error of shape);
    `best` reports jsonschema's best match instead of the first error in document order.
    """
    from lib.store import yamlio

    try:
        data = yamlio.load(text)
    except yamlio.YAMLLoadError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise ConfigError(f"{source}{where}: invalid YAML: {exc}") from None
    if data is None and empty is not None:
        data = empty
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: must be {shape}")

    import jsonschema
    from jsonschema.exceptions import best_match

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    if best:
        error = best_match(validator.iter_errors(data))
    else:
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        error = errors[0] if errors else None
    if error is not None:
        pointer = list(error.absolute_path)
        line = yamlio.key_line(text, pointer) or 1
        if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            line = yamlio.key_line(text, [*pointer, error.instance]) or line  # the offending key's own line
        if isinstance(error.instance, float) and not math.isfinite(error.instance):
            wording = f"{error.instance} is not a finite number"  # .inf/.nan: the schema's `finite` bounds
        else:
            wording = message(error)
        raise ConfigError(f"{source}:{line}: {pointer_of(pointer)}: {wording}")
    return data


def pointer_of(path: list[str | int] | list[Any]) -> str:
    return "/" + "/".join(str(p) for p in path)


def fail_at(text: str, source: str, pointer: list[str | int], message: str) -> ConfigError:
    """A ConfigError for a problem the schema cannot express (a duplicate, a clash), at the key's line."""
    from lib.store import yamlio

    line = yamlio.key_line(text, pointer) or 1
    return ConfigError(f"{source}:{line}: {pointer_of(pointer)}: {message}")
