"""`.claude/notion.yaml`: which database mirrors each kind, and how frontmatter maps to its properties.

Validated against scripts/schemas/notion-config.schema.json; every error names the
file and the line. Example (docs/notion-sync.md has the full reference):

    kinds:
      session:
        database_id: 0123456789abcdef0123456789abcdef
        data_source: Sessions          # only needed when the database has several
        properties:
          title: Name                  # role: Notion property name
          external_id: external_id
          date: {property: Date, from: started_at}   # read another frontmatter key
    rate: {per_second: 3, burst: 3}
    retry: {max_attempts: 5, backoff_base_s: 0.5, timeout_s: 30}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core import settings
from lib.core.errors import ConfigError

CONFIG_PATH = ".claude/notion.yaml"
ROLES = ("title", "external_id", "status", "operator", "owner", "date", "tags", "summary", "workstream")


@dataclass(frozen=True)
class PropertyMap:
    role: str
    property: str   # the Notion property name
    source: str     # the frontmatter key it is read from


@dataclass(frozen=True)
class KindConfig:
    kind: str
    database_id: str
    data_source: str | None
    properties: tuple[PropertyMap, ...]

    def role(self, role: str) -> PropertyMap | None:
        for mapping in self.properties:
            if mapping.role == role:
                return mapping
        return None

    @property
    def external_id(self) -> PropertyMap:
        mapping = self.role("external_id")
        assert mapping is not None  # required by the schema
        return mapping


@dataclass(frozen=True)
class NotionConfig:
    path: Path
    kinds: dict[str, KindConfig]
    rate_per_s: float = 3.0
    burst: float = 3.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    timeout_s: float = 30.0
    file_attempts: int = 3


SCHEMA = "notion-config.schema.json"


def schema_path() -> Path:
    return settings.schema_path(SCHEMA)


def _message(error: Any) -> str:
    if error.validator == "oneOf":
        return "must be a property name or {property: NAME, from: FRONTMATTER_KEY}"
    return str(error.message)


def parse(text: str, path: Path) -> NotionConfig:
    source = str(path)
    data = settings.parse_document(text, source, SCHEMA, shape="a mapping with a `kinds` section", best=True,
                                   message=_message)

    kinds: dict[str, KindConfig] = {}
    for kind, spec in data["kinds"].items():
        maps: list[PropertyMap] = []
        seen: dict[str, str] = {}
        for role, value in spec["properties"].items():
            if isinstance(value, str):
                mapping = PropertyMap(role, value, role)
            else:
                mapping = PropertyMap(role, value["property"], value.get("from", role))
            if mapping.property in seen:
                raise settings.fail_at(text, source, ["kinds", kind, "properties", role], f"Notion property "
                                       f"{mapping.property!r} is already mapped by {seen[mapping.property]!r}")
            seen[mapping.property] = role
            maps.append(mapping)
        kinds[kind] = KindConfig(kind, str(spec["database_id"]), spec.get("data_source"), tuple(maps))

    rate = data.get("rate") or {}
    retry = data.get("retry") or {}
    return NotionConfig(
        path=path, kinds=kinds,
        rate_per_s=float(rate.get("per_second", 3.0)), burst=float(rate.get("burst", 3.0)),
        max_attempts=int(retry.get("max_attempts", 5)),
        backoff_base_s=float(retry.get("backoff_base_s", 0.5)),
        backoff_max_s=float(retry.get("backoff_max_s", 30.0)),
        timeout_s=float(retry.get("timeout_s", 30.0)),
        file_attempts=int(retry.get("file_attempts", 3)),
    )


def load(root: Path) -> NotionConfig:
    path = root / CONFIG_PATH
    text = settings.read_text(path)
    if text is None:
        raise ConfigError(f"{path}: missing; create it to say which Notion database mirrors each kind "
                          "(see docs/notion-sync.md)")
    return parse(text, path)
