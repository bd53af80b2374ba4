"""Running check and fix: applying a plan's changes and generated files atomically; renaming a session everywhere."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lib.core import atomic
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, STORE_FOLDERS
from lib.store import frontmatter, roundtrip, schema
from lib.vault.conflicts import find as find_conflicts
from lib.vault.conflicts import repair_store
from lib.vault.model import (
    INDEX_FILE,
    MAPS_DIR,
    MERGE_CONFLICT,
    STALE,
    NoteChange,
    Problem,
    Report,
    Vault,
    load,
)
from lib.vault.planning import plan_vault

# ----------------------------------------------------------------- running

def check(root: Path) -> Report:
    plan = plan_vault(load(root))
    return Report(problems=_conflict_problems(find_conflicts(root)) + plan.problems)


def _conflict_problems(found: list[tuple[str, int]]) -> list[Problem]:
    return [Problem(rel, line, MERGE_CONFLICT, "git's conflict markers: a merge without baton's merge driver "
                                               "(run vault.py fix, then `git add` the file)", fixable=True)
            for rel, line in found]


def fix(root: Path, scope: set[str] | None = None, vault: Vault | None = None) -> Report:
    """Apply the repairs `check` marks fixable; return what is left and what changed.

    `scope` limits the work to these files (repository-relative paths); None is the whole store.
    `vault`: the store as already read (its notes are reused).
    """
    with atomic.locked(root / STATE_DIR / "vault.lock"):
        repaired = repair_store(root) if scope is None else None
        notes = load(root, bodies=scope, keep=vault.by_rel if vault else None)
        plan = plan_vault(notes, only=scope)
        report = Report(problems=[])
        changes = [change for _, change in sorted(plan.changes.items())]
        report.changed += [change.note.rel for change, done in zip(changes, apply_changes(root, changes),
                                                                   strict=True) if done]
        after = plan
        if report.changed:  # generated files reflect the notes as fixed
            kept = {rel: note for rel, note in notes.by_rel.items() if rel not in report.changed}
            after = plan_vault(load(root, bodies=scope, keep=kept), only=scope)
        written = set()
        for rel, content in sorted(after.generated.items()):
            if rel in after.foreign:
                continue
            outcome = write_generated(root, rel, content)
            if outcome:
                written.add(rel)
                {"created": report.created, "changed": report.changed, "deleted": report.deleted}[outcome].append(rel)
        report.problems = [p for p in after.problems if not (p.kind == STALE and p.path in written)]
        if repaired is not None:
            report.changed = sorted({*repaired.fixed, *report.changed})
            report.problems[:0] = [p for p in _conflict_problems(repaired.left)
                                   if p.path not in written and p.path not in repaired.fixed]
    return report


def write_generated(root: Path, rel: str, content: str | None) -> str | None:
    """Bring one generated file up to date: 'created', 'changed', 'deleted' or None (already right)."""
    path = root / rel
    if content is None:
        if not path.exists():
            return None
        path.unlink()
        return "deleted"
    try:
        current: str | None = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        current = None
    except (OSError, UnicodeDecodeError):
        current = ""
    if current == content:
        return None
    atomic.write_text(path, content)
    return "created" if current is None else "changed"


# Below this many notes to change, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 200


def apply_changes(root: Path, changes: list[NoteChange], jobs: int | None = None) -> list[bool]:
    """apply_change for each change (in several processes for many: the round trip costs ~25 ms a note)."""
    jobs = jobs or os.cpu_count() or 1
    if jobs < 2 or len(changes) < PARALLEL_THRESHOLD:
        return [apply_change(root, change) for change in changes]
    from concurrent.futures import ProcessPoolExecutor  # only a large first fix needs it

    size = -(-len(changes) // (jobs * 4))
    chunks = [changes[i: i + size] for i in range(0, len(changes), size)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return [done for chunk in pool.map(_apply_chunk, [root] * len(chunks), chunks) for done in chunk]


def _apply_chunk(root: Path, changes: list[NoteChange]) -> list[bool]:
    return [apply_change(root, change) for change in changes]


def apply_change(root: Path, change: NoteChange) -> bool:
    """Write one note's change through the round-trip writer; True when the file changed."""
    path = root / change.note.rel
    doc = frontmatter.load_document(path, kind=change.note.kind)
    metadata = dict(change.note.meta)
    changed = False
    for key, items in change.append.items():
        current = doc.data.get(key)
        if isinstance(current, list):
            if not current and hasattr(current, "fa"):
                current.fa.set_flow_style()  # an empty list was written `[]`: keep it inline
            for item in items:
                if item not in [str(v) for v in current]:
                    current.append(item)
                    changed = True
        else:
            doc.set(key, list(items))
            changed = True
        metadata[key] = roundtrip.to_plain(doc.data[key])
    if change.body is not None and change.body != doc.body:
        doc.body = change.body
        changed = True
    if not changed:
        return False
    if "content_hash" in doc:
        # What a reader gets back: the note's metadata as read, with the appended items, and the new body.
        doc.set("content_hash", frontmatter.content_hash(metadata, doc.body))
    doc.save(path)
    return True


def session_scope(vault: Vault, session_id: str) -> set[str]:
    """The files a handoff of `session_id` may touch: the note, its workstream and map, the ADRs it
    touched, the learnings it wrote, and INDEX.md."""
    if not schema.id_is_valid("session", session_id):
        raise BatonError(f"session id {session_id!r} is not <INITIALS>-YYMMDD-NN (or a legacy CONV-/LOCAL- id)")
    session = vault.get("session", session_id)
    if session is None:
        raise BatonError(f"{STORE_FOLDERS['session']}/{session_id}.md: no such session note")
    scope = {session.rel, INDEX_FILE}
    for ref in session.refs("workstream")[:1]:
        ws = vault.get("workstream", ref)
        if ws is not None:
            scope |= {ws.rel, f"{MAPS_DIR}/{ws.id}.md"}
    for ref in session.refs("adrs_touched"):
        adr = vault.get("adr", ref)
        if adr is not None:
            scope.add(adr.rel)
    scope |= {n.rel for n in vault.of_kind("learning") if session_id in n.refs("session")}
    return scope


def fix_session(root: Path, session_id: str, scope: set[str] | None = None) -> Report:
    """The handoff's step: link one session into the vault, touching only the files of its scope."""
    store = load(root, bodies=set())
    return fix(root, scope or session_scope(store, session_id), store)


def rename_session_references(root: Path, old: str, new: str, rels: Iterable[str]) -> list[str]:
    """In the given notes, replace session `old` by `new` in `sessions` lists (the handoff re-claimed its id).

    Links lines, Session Logs, maps and INDEX.md follow with `fix_session(root, new)`.
    """
    changed = []
    for rel in rels:
        path = root / rel
        if not rel.endswith(".md") or not path.is_file():
            continue
        doc = frontmatter.load_document(path)
        current = doc.data.get("sessions")
        if not isinstance(current, list) or old not in [str(v) for v in current]:
            continue
        for index, value in enumerate(current):
            if str(value) == old:
                current[index] = new
        if "content_hash" in doc:
            doc.stamp_content_hash()
        doc.save(path)
        changed.append(rel)
    return changed
