"""A learning a session writes beside its note: docs/learnings/<slug>.md, checked before anything is written.

The content arrives as JSON (docs/conventions/handoff.md, "write-learning input"); the session's note
itself is lib/handoff/note.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.handoff import manifest as manifests
from lib.handoff.note import (
    EMPTY_SECTION,
    ContentError,
    note_date,
    record,
    slug_field,
    text_field,
    validate_document,
)
from lib.security import redact
from lib.store import frontmatter, schema

LEARNING_KEYS = ("slug", "title", "summary", "tags", "workstream", "what_happened", "lesson", "how_to_apply")
LEARNING_SECTIONS = (("what_happened", "What happened"), ("lesson", "The lesson"), ("how_to_apply", "How to apply it"))


def learning_path(root: Path, slug: str) -> tuple[Path, str]:
    rel = f"{STORE_FOLDERS['learning']}/{slug}.md"
    return root / rel, rel


def build_learning(data: Any, session_id: str, operator: str, now: dt.datetime) -> tuple[str, frontmatter.Document]:
    if not isinstance(data, Mapping):
        raise ContentError("learning", ["must be a JSON object"])
    problems: list[str] = []
    unknown = sorted(set(data) - set(LEARNING_KEYS))
    if unknown:
        problems.append(f"unknown key(s): {', '.join(unknown)} (allowed: {', '.join(LEARNING_KEYS)})")
    slug = data.get("slug")
    if not isinstance(slug, str) or not schema.SLUG.match(slug) or slug.upper() in ("TEMPLATE", "INDEX", "README"):
        problems.append(f"slug: {slug!r} is not a slug (lowercase letters, digits, '-', '_')")
    title = text_field(data, "title", problems, required=True, one_line=True)
    summary = text_field(data, "summary", problems, required=True)
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        problems.append("tags: must be a list of non-empty strings")
    workstream = slug_field(data, "workstream", problems)
    texts = {key: text_field(data, key, problems, required=False) for key, _ in LEARNING_SECTIONS}
    if not any(texts.values()):
        problems.append("what_happened / lesson / how_to_apply: give at least the lesson")
    if problems:
        raise ContentError("learning", problems)
    meta = {
        "title": title, "operator": operator, "summary": summary, "workstream": workstream, "tags": list(tags),
        "kind": "learning", "external_id": slug, "session": session_id, "date": note_date(session_id, now),
        "sync_status": "pending",
    }
    body = "\n".join(f"## {heading}\n\n{texts[key] or EMPTY_SECTION}\n" for key, heading in LEARNING_SECTIONS)
    doc = frontmatter.new_document(redact.redact_data(meta), redact.redact(body), kind="learning")
    doc.stamp_content_hash()
    return str(slug), doc


def check_learning_target(path: Path, rel: str, session_id: str, force: bool) -> None:
    if not path.exists() or force:
        return
    try:
        existing = frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError:
        existing = {}
    if existing.get("session") != session_id:
        raise BatonError(f"{rel}: a learning with this slug exists; pick another slug (or --force to replace it)")


@dataclass
class PreparedLearning:
    slug: str
    rel: str
    doc: frontmatter.Document


def learning_operator(root: Path, session_id: str) -> str:
    from lib.handoff import identity

    meta = identity.read_stub(identity.note_path(root, session_id)) or {}
    operator = meta.get("operator") or manifests.load(root, session_id).operator
    if not isinstance(operator, str) or not operator:
        raise BatonError(f"{session_id}: no claim with an operator; run `handoff_helpers.py start` first")
    return operator


def prepare_learning(root: Path, session_id: str, operator: str, data: Any, *, force: bool,
                     now: dt.datetime) -> PreparedLearning:
    slug, doc = build_learning(data, session_id, operator, now)
    path, rel = learning_path(root, slug)
    check_learning_target(path, rel, session_id, force)
    problems = validate_document(rel, doc, "learning")
    if problems:
        raise ContentError(rel, problems)
    return PreparedLearning(slug, rel, doc)


def save_learning(root: Path, session_id: str, prepared: PreparedLearning) -> dict[str, Any]:
    prepared.doc.save(root / prepared.rel)  # validated by prepare_learning
    digest = str(prepared.doc.get("content_hash"))
    record(root, session_id, prepared.rel, learning=prepared.slug)
    return {"slug": prepared.slug, "path": prepared.rel, "content_hash": digest}


def write_learning(root: Path, session_id: str, data: Any, *, force: bool, now: dt.datetime) -> dict[str, Any]:
    operator = learning_operator(root, session_id)
    prepared = prepare_learning(root, session_id, operator, data, force=force, now=now)
    return save_learning(root, session_id, prepared)
