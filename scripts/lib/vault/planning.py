"""Planning a fix: every problem of the vault and the change that repairs it, without writing."""

from __future__ import annotations

import posixpath
from collections import defaultdict

from lib.core.paths import STORE_FOLDERS
from lib.vault.generated import _is_generated, generated_files
from lib.vault.links import (
    _resolve,
    _split_target,
    find_links_line,
    links_line,
    plan_prose_links,
    set_links_line,
)
from lib.vault.model import (
    _INLINE_LINK,
    _SCHEME,
    DANGLING,
    MISSING_BACKLINK,
    MISSING_LINK,
    ORPHAN,
    STALE,
    TEMPLATES_DIR,
    FixPlan,
    Problem,
    Vault,
    VaultNote,
)
from lib.vault.sessionlog import plan_session_log

# ----------------------------------------------------------------- planning

def _dangling(note: VaultNote, vault: Vault, plan: FixPlan) -> None:
    checks: list[tuple[str, str]] = {
        "session": [("workstream", "workstream"), ("plan", "plan")],
        "workstream": [("plan", "plan")],
        "plan": [("workstreams", "workstream")],
        "adr": [("sessions", "session"), ("supersedes", "adr"), ("superseded_by", "adr")],
        "learning": [("workstream", "workstream"), ("session", "session")],
    }.get(note.kind, [])
    for key, kind in checks:
        for ref in note.refs(key):
            if vault.get(kind, ref) is None:
                plan.problems.append(Problem(note.rel, note.key_line(key), DANGLING,
                                             f"{key}: {ref} names a {kind} that does not exist"))


def _backlinks(vault: Vault, plan: FixPlan, only: set[str] | None = None) -> dict[str, dict[str, list[str]]]:
    """Frontmatter list items each note is missing: {rel: {key: [items to append]}}."""
    wanted: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ws in vault.of_kind("workstream"):
        for ref in ws.refs("plan")[:1]:
            target = vault.get("plan", ref)
            if target is not None and ws.id not in target.refs("workstreams"):
                wanted[target.rel]["workstreams"].append(ws.id)
    for session in vault.of_kind("session"):
        if session.is_stub:
            continue
        for ref in session.refs("adrs_touched"):
            target = vault.get("adr", ref)
            if target is not None and session.id not in target.refs("sessions"):
                wanted[target.rel]["sessions"].append(session.id)
    out: dict[str, dict[str, list[str]]] = {}
    for rel, keys in wanted.items():
        note = vault.by_rel[rel]
        out[rel] = {}
        for key, items in keys.items():
            items = sorted(set(items))
            out[rel][key] = items
            if only is not None and rel not in only:
                continue
            what = "workstreams whose plan it is" if key == "workstreams" else "sessions that touched it"
            plan.problems.append(Problem(rel, note.key_line(key), MISSING_BACKLINK,
                                         f"{key} lacks {', '.join(items)} ({what})", fixable=True))
            plan.change(note).append[key] = items
    return out


def plan_vault(vault: Vault, only: set[str] | None = None) -> FixPlan:
    """Every problem of the store and the changes that repair what can be repaired.

    `only`: plan just these notes and generated files (the rest of the store is read for its
    frontmatter); orphans are then not looked for.
    """
    plan = FixPlan(problems=list(vault.unreadable))
    additions = _backlinks(vault, plan, only)
    for note in vault.notes:
        if only is not None and note.rel not in only:
            continue
        _dangling(note, vault, plan)
        lists = {key: note.refs(key) + items for key, items in additions.get(note.rel, {}).items()}
        body = note.body
        if not note.is_stub:
            wanted = links_line(note, vault, lists)
            current_index = find_links_line(body)
            current = body.splitlines()[current_index] if current_index is not None else None
            if current != wanted:
                line_no = note.body_line + (current_index or 0)
                if wanted is None:
                    message = "links line names no existing note; fix removes it"
                elif current is None:
                    message = f"no links line (expected: {wanted})"
                else:
                    message = f"links line is out of date (expected: {wanted})"
                plan.problems.append(Problem(note.rel, line_no, MISSING_LINK, message, fixable=True))
                body = set_links_line(body, wanted)
        if note.kind == "workstream":
            body = plan_session_log(note, body, vault, plan)
        body = plan_prose_links(note, body, vault, plan)
        if body != note.body:
            plan.change(note).body = body
    if only is None:
        _orphans(vault, plan, additions)
    plan.generated = generated_files(vault, additions, only)
    _stale(vault, plan)
    plan.problems.sort()
    return plan


def _orphans(vault: Vault, plan: FixPlan, additions: dict[str, dict[str, list[str]]]) -> None:
    degree: dict[str, int] = defaultdict(int)
    ref_keys = {
        "session": [("workstream", "workstream"), ("plan", "plan"), ("adrs_touched", "adr")],
        "workstream": [("plan", "plan")],
        "plan": [("workstreams", "workstream")],
        "adr": [("sessions", "session"), ("supersedes", "adr"), ("superseded_by", "adr")],
        "learning": [("workstream", "workstream"), ("session", "session")],
    }
    by_rel = vault.by_rel
    for note in vault.notes:
        if note.is_stub:
            continue
        extra = additions.get(note.rel, {})
        targets: set[str] = set()
        for key, kind in ref_keys.get(note.kind, []):
            for ref in note.refs(key) + extra.get(key, []):
                target = vault.get(kind, ref)
                if target is not None:
                    targets.add(target.rel)
        change = plan.changes.get(note.rel)
        body = change.body if change and change.body is not None else note.body
        for match in _INLINE_LINK.finditer(body):
            path, _ = _split_target(match["target"])
            if path and not _SCHEME.match(path):
                resolved = _resolve(note.folder, path)
                if resolved in by_rel:
                    targets.add(resolved)
        targets.discard(note.rel)
        for rel in targets:
            if not by_rel[rel].is_stub:
                degree[rel] += 1
                degree[note.rel] += 1
    for note in vault.notes:
        if not note.is_stub and degree[note.rel] == 0:
            plan.problems.append(Problem(note.rel, 1, ORPHAN, f"{note.kind} {note.id} links to no note and no note "
                                                              f"links to it"))




def _stale(vault: Vault, plan: FixPlan) -> None:
    for rel, content in sorted(plan.generated.items()):
        path = vault.root / rel
        if content is not None and not rel.startswith(TEMPLATES_DIR + "/") and path.exists() \
                and not _is_generated(path):
            plan.foreign.add(rel)
            plan.problems.append(Problem(rel, 1, STALE, "this file was not written by baton (its first line is "
                                                        "not the generated marker); fix leaves it alone"))
            continue
        if content is None:
            plan.problems.append(Problem(rel, 1, STALE, "generated for a workstream that no longer exists",
                                         fixable=True))
            continue
        try:
            current = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            plan.problems.append(Problem(rel, 1, STALE, "missing", fixable=True))
            continue
        except (OSError, UnicodeDecodeError):
            current = None
        if current != content:
            source = (f"{STORE_FOLDERS[posixpath.basename(rel)[:-3]]}/TEMPLATE.md"
                      if rel.startswith(TEMPLATES_DIR + "/") else "the notes")
            plan.problems.append(Problem(rel, 1, STALE, f"out of date with {source}", fixable=True))
