"""The contract page documents every key of every kind, in the schemas' order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lib.store import schema

DOC = Path(__file__).resolve().parent.parent / "docs/conventions/frontmatter.md"


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_schema_key_is_documented_in_order(kind: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"### {kind}\n", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| \d+ \| `([a-z0-9_]+)` \|", section, flags=re.M)
    assert documented == schema.key_order(kind)


def test_body_sections_are_documented_in_order() -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = re.findall(r"^\d\. `## ([^`]+)`", text, flags=re.M)
    assert tuple(listed) == schema.SESSION_SECTIONS
