"""A workstream's `## Session Log`: one line per session, newest first.

The line is `- [<ID>](../docs/sessions/<ID>.md) (<date>): <text>` (docs/conventions/frontmatter.md,
docs/conventions/vault.md); the older plain `- <ID> (<date>): <text>` is still recognised. The file is
edited through the round-trip writer, so its frontmatter stays byte for byte as it was;
a re-run replaces the session's line instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib import vault
from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.handoff import manifest as manifests
from lib.store import frontmatter, markdown
from lib.store.schema import SLUG
from lib.vault import merge

HEADING = "Session Log"


@dataclass
class LogResult:
    workstream: str
    path: str
    written: bool
    replaced: bool = False
    line: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def log_line(session_id: str, day: dt.date, text: str) -> str:
    return vault.session_log_line(session_id, day.isoformat(), text)


def _is_entry_of(line: str, session_id: str) -> bool:
    entry = line.lstrip()
    return entry.startswith((f"- {session_id} (", f"- [{session_id}]("))


def insert_entry(body: str, session_id: str, entry: str) -> tuple[str, bool]:
    """The body with `entry` first in its Session Log (added at the end when there is none)."""
    newline = "\r\n" if "\r\n" in body else "\n"
    lines = body.split(newline)
    ended = lines[-1] == ""
    if ended:
        lines.pop()
    found = markdown.find_section(lines, HEADING)
    if found is None:
        while lines and not lines[-1].strip():
            lines.pop()
        out = [*lines, ""] if lines else []
        return newline.join([*out, f"## {HEADING}", "", entry]) + newline, False
    start, end = found.start, found.end
    section = lines[start + 1:end]
    kept = [ln for ln in section if not _is_entry_of(ln, session_id)]
    replaced = len(kept) != len(section)
    first_item = next((i for i, ln in enumerate(kept) if ln.lstrip().startswith(("- ", "* "))), None)
    if first_item is not None:
        # Newest first by date, then id: the order the merge driver keeps when teammates' lines meet.
        key = merge.log_key(entry)
        items = [i for i, ln in enumerate(kept) if ln.lstrip().startswith(("- ", "* "))]
        older = next((i for i in items if key is None or (merge.log_key(kept[i]) or ("", "")) < key), None)
        kept.insert(older if older is not None else items[-1] + 1, entry)
    else:
        text_lines = [i for i, ln in enumerate(kept) if ln.strip()]
        if text_lines:  # prose under the heading: the log goes after it
            at = text_lines[-1] + 1
            kept[at:at] = ["", entry]
        else:
            kept = ["", entry] + ([""] if end < len(lines) else [])
    out = [*lines[: start + 1], *kept, *lines[end:]]
    return newline.join(out) + (newline if ended or end == len(lines) else ""), replaced


def has_uncommitted_changes(root: Path, rel: str) -> bool:
    """Whether the file differs from HEAD already (the user's own edits, which the commit will carry)."""
    tracked = gitcmd.run(root, "ls-files", "--error-unmatch", "--", rel)
    if not tracked.ok:
        return True
    diff = gitcmd.run(root, "diff", "--quiet", "HEAD", "--", rel)
    return diff.returncode == 1


def append_log(root: Path, workstream: str, session_id: str, text: str, day: dt.date) -> LogResult:
    if not SLUG.match(workstream):
        raise BatonError(f"--workstream {workstream!r}: not a slug (lowercase letters, digits, '-', '_')")
    rel = f"{STORE_FOLDERS['workstream']}/{workstream}.md"
    path = root / rel
    if not text.strip():
        raise BatonError("--line: the log line is empty")
    entry = log_line(session_id, day, text)
    if not path.is_file():
        return LogResult(workstream, rel, written=False, line=entry,
                         warnings=[f"{rel}: no such workstream; the Session Log was not updated"])
    record = manifests.load(root, session_id)
    preexisting = rel not in record.paths and has_uncommitted_changes(root, rel)
    doc = frontmatter.load_document(path, kind="workstream")
    doc.body, replaced = insert_entry(doc.body, session_id, entry)
    doc.save(path)
    with manifests.editing(root, session_id) as manifest:
        manifest.add(rel)
        if preexisting and rel not in manifest.preexisting_changes:
            manifest.preexisting_changes.append(rel)
    result = LogResult(workstream, rel, written=True, replaced=replaced, line=entry)
    if preexisting:
        result.warnings.append(f"{rel} already had uncommitted changes; the handoff commit will include them")
    return result


def rename_entry(root: Path, rel: str, old: str, new: str) -> bool:
    """Point a workstream's log line at a re-claimed id."""
    path = root / rel
    if not path.is_file():
        return False
    doc = frontmatter.load_document(path, kind="workstream")
    lines = doc.body.split("\n")
    changed = False
    old_link = f"[{old}]({vault.session_log_target(old)})"
    for i, line in enumerate(lines):
        if _is_entry_of(line, old):
            if old_link in line:
                lines[i] = line.replace(old_link, f"[{new}]({vault.session_log_target(new)})", 1)
            else:
                lines[i] = line.replace(f"- {old} (", f"- {new} (", 1)
            changed = True
    if changed:
        doc.body = "\n".join(lines)
        doc.save(path)
    return changed
