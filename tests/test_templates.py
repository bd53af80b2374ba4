"""Templates show every kind's shape and stay valid against their schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from lib.core import paths
from lib.store import frontmatter, validate

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", paths.KINDS)
def test_template_is_valid_apart_from_its_placeholder_id(kind: str) -> None:
    template = ROOT / paths.STORE_FOLDERS[kind] / "TEMPLATE.md"
    metadata, _ = frontmatter.read(template)
    assert metadata["kind"] == kind
    result = validate.check_text(f"{paths.STORE_FOLDERS[kind]}/TEMPLATE.md", template.read_text(encoding="utf-8"))
    # the only complaints allowed are about the placeholder id and file name
    assert all(p.pointer == "/external_id" for p in result.problems), [str(p) for p in result.problems]


def test_session_template_lists_the_body_sections_in_order() -> None:
    _, body = frontmatter.read(ROOT / "docs/sessions/TEMPLATE.md")
    headings = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    from lib.store.schema import SESSION_SECTIONS
    assert tuple(headings) == SESSION_SECTIONS
