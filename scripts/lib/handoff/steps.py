"""The handoff's steps after the note is written, one function each, shared by the single-step subcommands and
`finish` (docs/conventions/handoff.md, "Steps"). Each returns its JSON payload with its `warnings`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.core import config
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.handoff import commit as commits
from lib.handoff import context, identity, listings, note, resume_cache, state, worklog
from lib.handoff import manifest as manifests


def note_meta(root: Path, session_id: str) -> dict[str, Any]:
    path = identity.note_path(root, session_id)
    meta = identity.read_stub(path)
    if meta is None:
        raise BatonError(f"{path.relative_to(root)}: no such note")
    return meta


def dirty_before(root: Path, session_id: str, rels: Sequence[str]) -> set[str]:
    """Files the handoff has not written yet that already differ from HEAD (the user's own edits)."""
    record = manifests.load(root, session_id)
    return {rel for rel in rels if rel not in record.paths and (root / rel).exists()
            and worklog.has_uncommitted_changes(root, rel)}


def record_written(root: Path, session_id: str, rels: Sequence[str], dirty: set[str]) -> list[str]:
    """Add files to the handoff's record (so commit takes them); warnings for those with the user's edits."""
    warnings = []
    with manifests.editing(root, session_id) as record:
        for rel in rels:
            record.add(rel)
            if rel in dirty and rel not in record.preexisting_changes:
                record.preexisting_changes.append(rel)
                warnings.append(f"{rel} already had uncommitted changes; the handoff commit will include them")
    return warnings


def archive_transcript(root: Path, session_id: str, *, claude_id: str | None = None,
                       transcript: str | None = None) -> dict[str, Any]:
    from lib.handoff import transcripts

    claude_id = context.claude_session_id(claude_id, session_id, root)
    result = transcripts.archive_transcript(root, session_id, transcript=transcript, claude_session_id=claude_id)
    if result.note_changed:
        record_written(root, session_id, [f"{STORE_FOLDERS['session']}/{session_id}.md"], set())
    return {**result.as_dict(), "redactions": transcripts.total_redactions(result),
            "warnings": [result.warning] if result.warning else []}


def regen_index(root: Path, session_id: str | None) -> dict[str, Any]:
    result = listings.regen_indexes(root)
    if session_id:
        with manifests.editing(root, session_id) as record:
            for rel in result.paths:
                record.add(rel)
    warnings = [f"{p}: unreadable frontmatter, left out of the index" for p in result.skipped]
    return {**result.as_dict(), "warnings": warnings}


def append_log(root: Path, session_id: str, *, line: str | None, workstream: str | None,
               now: dt.datetime) -> dict[str, Any]:
    meta = note_meta(root, session_id)
    workstream = workstream or meta.get("workstream")
    if not workstream:
        return {"written": False, "warnings": ["the note names no workstream; no Session Log to update"]}
    text = line or str(meta.get("title") or "")
    recorded = meta.get("date")
    day = recorded if isinstance(recorded, dt.date) else note.note_date(session_id, now)
    return worklog.append_log(root, str(workstream), session_id, text, day).as_dict()


def changelog(root: Path, session_id: str, *, since: str | None = None) -> dict[str, Any]:
    from lib.handoff import changelog as changelogs

    dirty = dirty_before(root, session_id, [changelogs.FILENAME])
    result = changelogs.record_session(root, session_id, since=since)
    warnings = record_written(root, session_id, [changelogs.FILENAME], dirty)
    return {**result.as_dict(), "warnings": warnings}


def link(root: Path, session_id: str) -> dict[str, Any]:
    from lib import vault

    store = vault.load(root, bodies=set())  # frontmatter only: the scope's files are read whole by fix
    scope = vault.session_scope(store, session_id)
    dirty = dirty_before(root, session_id, sorted(scope))
    report = vault.fix(root, scope, store)
    written = sorted({*report.created, *report.changed})
    warnings = record_written(root, session_id, written, dirty)
    warnings += [str(p) for p in report.problems if p.path in scope and not p.fixable]
    return {"written": written, "warnings": warnings,
            "problems": [p.as_dict() for p in report.problems if p.path in scope]}


def stage(root: Path, session_id: str) -> dict[str, Any]:
    settings = commits.Settings.from_config(config.load(root))
    result = commits.stage(root, session_id, settings)
    warnings = []
    if result.staged_by_user:
        warnings.append("left staged and out of the handoff commit: " + ", ".join(result.staged_by_user))
    if result.unrelated_changes:
        warnings.append("other uncommitted changes, not part of the handoff: " + ", ".join(result.unrelated_changes))
    if result.preexisting_changes:
        warnings.append("these files had your own uncommitted edits, which the handoff commit will include: "
                        + ", ".join(result.preexisting_changes))
    return {**result.as_dict(), "warnings": warnings}


def commit(root: Path, session_id: str, *, push: bool) -> commits.CommitResult:
    """The library's commit (and push, with its re-claim of an id taken on the remote)."""
    settings = commits.Settings.from_config(config.load(root))
    return commits.commit(root, session_id, push=push, settings=settings)


def refresh_resume_cache(root: Path) -> dict[str, Any]:
    result = resume_cache.refresh_resume_cache(root)
    warnings = [] if result.ok else [f"resume cache not refreshed: {result.detail}"]
    return {**result.as_dict(), "warnings": warnings}


def archive_state(root: Path, session_id: str | None, claude_id: str | None) -> dict[str, Any]:
    claude_id = context.claude_session_id(claude_id, session_id, root)
    if not claude_id:
        raise BatonError("--session-id is required ($CLAUDE_CODE_SESSION_ID is not set)")
    return {**state.archive_state(root, claude_id).as_dict(), "warnings": []}
