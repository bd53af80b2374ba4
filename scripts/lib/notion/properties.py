"""Frontmatter values -> Notion property values, checked against the data source's schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from lib.core.errors import ConfigError
from lib.notion.blocks import chunk_rich_text, plain
from lib.notion.config import KindConfig

WRITABLE = frozenset({"title", "rich_text", "select", "multi_select", "status", "date", "url", "number",
                      "checkbox"})
# What each role may be stored as in Notion.
ROLE_TYPES: dict[str, frozenset[str]] = {
    "title": frozenset({"title"}),
    "external_id": frozenset({"rich_text", "title"}),
    "tags": frozenset({"multi_select", "rich_text", "select"}),
    "date": frozenset({"date", "rich_text"}),
}


def property_types(data_source: Mapping[str, Any]) -> dict[str, str]:
    props = data_source.get("properties") or {}
    return {str(name): str(spec.get("type")) for name, spec in props.items() if isinstance(spec, dict)}


def check_mapping(kind: KindConfig, types: Mapping[str, str], where: str) -> None:
    """Every mapped property exists in the data source with a type the sync can write."""
    for mapping in kind.properties:
        ptype = types.get(mapping.property)
        if ptype is None:
            known = ", ".join(sorted(types)) or "none"
            raise ConfigError(f"{where}: kinds.{kind.kind}.properties.{mapping.role}: the data source has no "
                              f"property {mapping.property!r} (it has: {known})")
        allowed = ROLE_TYPES.get(mapping.role, WRITABLE - {"title"})
        if ptype not in allowed or ptype not in WRITABLE:
            raise ConfigError(f"{where}: kinds.{kind.kind}.properties.{mapping.role}: Notion property "
                              f"{mapping.property!r} is of type {ptype}; expected one of {', '.join(sorted(allowed))}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value if v is not None)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _option(value: Any) -> str:
    # Notion refuses commas in option names; ";" keeps the meaning readable.
    return " ".join(_text(value).replace(",", ";").split())[:100]


def _rich(value: str) -> list[dict[str, Any]]:
    # A property value is a single rich_text array: at most 100 objects of 2,000 characters.
    return chunk_rich_text(plain(value))[0]


def _date(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return {"start": value.isoformat(), "end": None}
    if isinstance(value, dt.date):
        return {"start": value.isoformat(), "end": None}
    text = str(value).strip()
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
    return {"start": text.replace(" ", "T", 1) if len(text) > 10 else text, "end": None}


def property_value(ptype: str, value: Any) -> dict[str, Any]:
    if ptype == "title":
        return {"title": _rich(_text(value))}
    if ptype == "rich_text":
        return {"rich_text": _rich(_text(value))}
    if ptype in ("select", "status"):
        name = _option(value)
        return {ptype: {"name": name} if name else None}
    if ptype == "multi_select":
        items = value if isinstance(value, (list, tuple)) else ([] if value in (None, "") else [value])
        names: list[str] = []
        for item in items:
            name = _option(item)
            if name and name not in names:
                names.append(name)
        return {"multi_select": [{"name": n} for n in names[:100]]}
    if ptype == "date":
        return {"date": _date(value)}
    if ptype == "url":
        text = _text(value).strip()
        return {"url": text or None}
    if ptype == "number":
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        return {"number": number}
    if ptype == "checkbox":
        return {"checkbox": bool(value)}
    raise ValueError(f"cannot write a {ptype} property")


def build_properties(kind: KindConfig, types: Mapping[str, str], metadata: Mapping[str, Any],
                     fallback_title: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for mapping in kind.properties:
        value = metadata.get(mapping.source)
        if mapping.role == "title" and not _text(value).strip():
            value = fallback_title
        props[mapping.property] = property_value(types[mapping.property], value)
    return props
