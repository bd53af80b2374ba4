"""The five kinds' JSON Schemas (scripts/schemas/*.schema.json): loading, key order, ids.

The schema files are the contract: their `properties` order is the canonical key
order of a new file, and other tools can validate notes with them directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from lib.core.paths import KINDS
from lib.store import sessionid
from lib.store.yamlio import jsonable

__all__ = ["ID_PATTERNS", "KINDS", "SESSION_SECTIONS", "jsonable", "key_order", "load", "validator"]

# Body sections of a written session note, in order (docs/conventions/frontmatter.md).
SESSION_SECTIONS: tuple[str, ...] = (
    "Summary",
    "What was done",
    "Decisions",
    "Open questions",
    "Next steps",
    "Resume Prompt",
    "Telemetry",
)
QUICK_SESSION_SECTIONS: tuple[str, ...] = ("Summary", "Resume Prompt")
WORKSTREAM_SECTIONS: tuple[str, ...] = ("Goal", "Tasks", "What's Next", "Key Context", "Session Log")

SESSION_ID = sessionid.SESSION_ID
LEGACY_SESSION_ID = sessionid.LEGACY_SESSION_ID
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ADR_ID = re.compile(r"^ADR-\d{4}$")

ID_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "session": (SESSION_ID, LEGACY_SESSION_ID),
    "workstream": (SLUG,),
    "plan": (SLUG,),
    "adr": (ADR_ID,),
    "learning": (SLUG,),
}


def schema_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load(name: str) -> dict[str, Any]:
    """A schema by kind (or `common`, `baton-config`, ...)."""
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def key_order(kind: str) -> list[str]:
    return list(load(kind)["properties"])


@cache
def validator(kind: str) -> Any:
    """A compiled Draft 2020-12 validator for a kind.

    The kind's `$ref`s into common.schema.json are inlined first: resolving them
    through a registry on every validation made checking ~3x slower.
    """
    import jsonschema

    schema = dereferenced(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def fast_check(kind: str) -> Callable[[Any], bool] | None:
    """A compiled yes/no check of a kind's schema, ~20x faster than `validator(kind)`.

    A pre-filter only: a note it accepts is valid, anything else goes to the full
    validator, which alone words the problems. The schemas use only keywords that
    draft-07 shares with 2020-12 (type, pattern, enum, const, required, properties,
    additionalProperties, items, minimum, minLength, allOf, if/then, not), which
    fastjsonschema implements. None when fastjsonschema is not installed.
    """
    try:
        import fastjsonschema
    except ImportError:
        return None
    definition = {k: v for k, v in dereferenced(kind).items() if k not in ("$schema", "$id")}
    compiled = fastjsonschema.compile(definition)

    def check(instance: Any) -> bool:
        try:
            compiled(instance)
        except Exception:  # a refusal or anything unexpected: let the full validator decide
            return False
        return True

    return check


def dereferenced(kind: str) -> dict[str, Any]:
    """A kind's schema with every reference to common.schema.json replaced by its definition."""
    definitions = load("common")["$defs"]
    prefix = "common.schema.json#/$defs/"

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                merged = {**definitions[ref[len(prefix):]], **{k: v for k, v in node.items() if k != "$ref"}}
                return inline(merged)
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(load(kind))
    return result


def id_is_valid(kind: str, external_id: str) -> bool:
    return any(p.match(external_id) for p in ID_PATTERNS[kind])


def expected_stem_matches(kind: str, stem: str, external_id: str) -> bool:
    """Whether a file name agrees with its external_id (ADRs may add a -slug after the id)."""
    if kind == "adr":
        if stem == external_id or stem.startswith(external_id + "-"):
            return True
        number = external_id[4:]
        return stem == number or stem.startswith(number + "-")
    return stem == external_id
