"""`.claude/notion.yaml` and the property mapping: validation with file and line, value conversion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lib.core.errors import ConfigError
from lib.notion import config as nconfig
from lib.notion.properties import build_properties, check_mapping, property_value

DB = "0123456789abcdef0123456789abcdef"


def parse(text: str) -> nconfig.NotionConfig:
    return nconfig.parse(text, Path("/repo/.claude/notion.yaml"))


def test_a_valid_file_gives_mappings_and_defaults() -> None:
    cfg = parse(f"kinds:\n  session:\n    database_id: {DB}\n    properties:\n      title: Name\n"
                "      external_id: ext\n      date: {property: When, from: started_at}\n")
    kind = cfg.kinds["session"]
    assert kind.external_id.property == "ext"
    assert kind.role("date") == nconfig.PropertyMap("date", "When", "started_at")
    assert (cfg.rate_per_s, cfg.burst, cfg.max_attempts) == (3.0, 3.0, 5)


@pytest.mark.parametrize(("text", "expected"), [
    ("kinds:\n  sessions:\n    database_id: x\n", ".claude/notion.yaml:2: /kinds: 'sessions' is not one of"),
    (f"kinds:\n  session:\n    database_id: {DB}\n    properties:\n      title: Name\n",
     ".claude/notion.yaml:4: /kinds/session/properties: 'external_id' is a required property"),
    (f"kinds:\n  session:\n    database_id: {DB}\n    properties:\n      title: Name\n      external_id: [a]\n",
     ".claude/notion.yaml:6: /kinds/session/properties/external_id: must be a property name or"),
    (f"kinds:\n  session:\n    database_id: {DB}\n    properties:\n      title: Name\n      external_id: Name\n",
     ".claude/notion.yaml:6: /kinds/session/properties/external_id: Notion property 'Name' is already mapped"),
    ("kinds: [\n", ".claude/notion.yaml:2: invalid YAML"),
    (f"kinds:\n  session:\n    database_id: {DB}\n    properties: {{title: N, external_id: E}}\nrate:\n  per_second: 0\n",
     ".claude/notion.yaml:6: /rate/per_second:"),
])
def test_mistakes_name_the_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert expected in str(err.value)
    assert err.value.exit_code == 2


def test_a_mapped_property_must_exist_with_a_writable_type() -> None:
    kind = parse(f"kinds:\n  session:\n    database_id: {DB}\n    properties:\n      title: Name\n"
                 "      external_id: ext\n      tags: Tags\n").kinds["session"]
    check_mapping(kind, {"Name": "title", "ext": "rich_text", "Tags": "multi_select"}, "cfg")
    with pytest.raises(ConfigError, match="no property 'Tags'"):
        check_mapping(kind, {"Name": "title", "ext": "rich_text"}, "cfg")
    with pytest.raises(ConfigError, match="is of type people"):
        check_mapping(kind, {"Name": "title", "ext": "rich_text", "Tags": "people"}, "cfg")
    with pytest.raises(ConfigError, match="external_id: Notion property 'ext' is of type number"):
        check_mapping(kind, {"Name": "title", "ext": "number", "Tags": "multi_select"}, "cfg")


def test_values_convert_to_what_notion_accepts() -> None:
    assert property_value("select", "a, b") == {"select": {"name": "a; b"}}
    assert property_value("select", None) == {"select": None}
    assert property_value("status", "") == {"status": None}
    assert property_value("multi_select", ["x", "x", "y,z"]) == {"multi_select": [{"name": "x"}, {"name": "y;z"}]}
    assert property_value("date", dt.date(2026, 5, 11)) == {"date": {"start": "2026-05-11", "end": None}}
    assert property_value("date", "2026-05-11 10:00:00") == {"date": {"start": "2026-05-11T10:00:00", "end": None}}
    assert property_value("date", "someday") == {"date": None}
    assert property_value("url", "") == {"url": None}
    assert property_value("rich_text", ["a", "b"])["rich_text"][0]["text"]["content"] == "a, b"
    long = property_value("rich_text", "x" * 5000)["rich_text"]
    assert [len(o["text"]["content"]) for o in long] == [2000, 2000, 1000]
    assert property_value("number", True) == {"number": None}
    assert property_value("checkbox", "yes") == {"checkbox": True}


def test_the_title_falls_back_to_the_file_name() -> None:
    kind = parse(f"kinds:\n  plan:\n    database_id: {DB}\n    properties:\n      title: Name\n"
                 "      external_id: ext\n").kinds["plan"]
    props = build_properties(kind, {"Name": "title", "ext": "rich_text"}, {"external_id": "p"}, "my-plan")
    assert props["Name"]["title"][0]["text"]["content"] == "my-plan"


def test_the_settings_schema_is_a_valid_json_schema() -> None:
    import json

    import jsonschema

    schema = json.loads(nconfig.schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
