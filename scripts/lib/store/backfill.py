"""Backfill: bring existing notes up to the contract, adding only what can be derived.

Plan first, write later: `plan()` computes every file's new text and validates all
of them (with the cross-file checks); `apply()` writes only when nothing would be
invalid. Each write is atomic, so an interrupted run leaves every file either old
or new, and re-planning picks up exactly what is left.

Derived values (never invented content) and where they come from:
- `kind` from the folder;
- `external_id` from the file name (sessions, workstreams, plans, learnings) or its
  `ADR-NNNN` / `NNNN` prefix (ADRs);
- `owner` of a workstream from the author of the commit that first added the file,
  mapped to an operator through `.claude/operators.yaml`;
- empty `summary` and `tags` where the schema wants the keys; `sync_status: pending`;
  `content_hash`.
Each is recorded in the file's `legacy_notes` (an empty list when nothing was derived).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import git
from lib.core.errors import BatonError
from lib.core.paths import KINDS, Store, kind_for_relpath
from lib.core.process import pid_alive
from lib.store import frontmatter, validate
from lib.store.yamlio import jsonable

LOCK_NAME = "BACKFILL_LOCK"
# email of a commit author -> operator slug, or None when no operator has that email
OwnerLookup = Callable[[str], "str | None"]
_ADR_STEM = re.compile(r"^(?:ADR-)?(\d{4})(?:-|$)")


@dataclass
class FileChange:
    path: str  # repository-relative, POSIX
    kind: str
    added: dict[str, Any] = field(default_factory=dict)
    normalised: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    new_text: str = ""
    old_text: str = ""

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "added": {k: jsonable(v) for k, v in self.added.items()},
            "normalised": {k: [jsonable(a), jsonable(b)] for k, (a, b) in self.normalised.items()},
        }


@dataclass
class BackfillPlan:
    changes: list[FileChange]
    problems: list[validate.Problem]
    files_checked: int

    @property
    def to_write(self) -> list[FileChange]:
        return [c for c in self.changes if c.changed]


def first_author_emails(root: Path) -> dict[str, str]:
    """Repository-relative path -> email of the author of the commit that added it (following renames)."""
    try:
        result = git.run(root, "log", "--diff-filter=A", "--format=%x00%ae", "--name-only", "--reverse", "--",
                         "workstreams")
    except BatonError:
        return {}
    if not result.ok:
        return {}
    out = result.stdout
    authors: dict[str, str] = {}
    for block in out.split("\x00")[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        email, files = lines[0], lines[1:]
        for name in files:
            authors.setdefault(name, email)
    return authors


def first_author_email(root: Path, relpath: str) -> str | None:
    """The author of the commit that first added `relpath`, following renames (`git log --follow`)."""
    try:
        result = git.run(root, "log", "--diff-filter=A", "--follow", "--format=%ae", "--", relpath)
    except BatonError:
        return None
    out = result.stdout.split() if result.ok else []
    return out[-1] if out else None


def _derive_external_id(kind: str, stem: str) -> str | None:
    if kind == "adr":
        match = _ADR_STEM.match(stem)
        return f"ADR-{match.group(1)}" if match else None
    return stem


def _normalise(doc: frontmatter.Document, change: FileChange, notes: list[str]) -> None:
    tags = doc.get("tags")
    if isinstance(tags, str):
        new_tags = [t.strip() for t in tags.split(",") if t.strip()]
        change.normalised["tags"] = (tags, new_tags)
        notes.append("tags: split from a comma-separated string")
        doc.set("tags", new_tags)
    elif "tags" in doc and tags is None:
        change.normalised["tags"] = (None, [])
        notes.append("tags: empty list instead of null")
        doc.set("tags", [])
    if "summary" in doc and doc.get("summary") is None:
        change.normalised["summary"] = (None, "")
        notes.append("summary: empty string instead of null")
        doc.set("summary", "")
    kind = doc.get("kind")
    if isinstance(kind, str) and kind != kind.strip().lower() and kind.strip().lower() == change.kind:
        change.normalised["kind"] = (kind, change.kind)
        notes.append(f"kind: {kind!r} lower-cased")
        doc.set("kind", change.kind)


def plan_file(
    path: Path, root: Path, kind: str, owner_for: Callable[[str], tuple[str | None, str | None]]
) -> FileChange:
    rel = path.relative_to(root).as_posix()
    old_text = path.read_bytes().decode("utf-8")
    doc = frontmatter.loads_document(old_text, path, kind=kind)
    change = FileChange(rel, kind, old_text=old_text)
    notes: list[str] = []

    def add(key: str, value: Any, note: str | None) -> None:
        doc.set(key, value)
        change.added[key] = value
        if note:
            notes.append(f"{key}: {note}")

    if "kind" not in doc:
        add("kind", kind, f"derived from the folder {path.parent.relative_to(root).as_posix()}/")
    _normalise(doc, change, notes)
    if "external_id" not in doc:
        derived = _derive_external_id(kind, path.stem)
        if derived is not None:
            add("external_id", derived, "derived from the file name")
    if kind == "workstream" and "owner" not in doc:
        slug, email = owner_for(rel)
        if slug:
            add("owner", slug, f"derived from the author ({email}) of the commit that added the file")
    if "summary" not in doc:
        add("summary", "", None)
    if "tags" not in doc:
        add("tags", [], None)
    if "sync_status" not in doc:
        add("sync_status", "pending", None)
    existing_notes = doc.get("legacy_notes")
    if notes or "legacy_notes" not in doc:
        merged = list(existing_notes or []) + [n for n in notes if n not in (existing_notes or [])]
        if "legacy_notes" not in doc:
            change.added["legacy_notes"] = merged
        doc.set("legacy_notes", merged)
    if "content_hash" not in doc:
        change.added["content_hash"] = doc.stamp_content_hash()
    change.new_text = doc.render()
    return change


def plan(root: Path, slug_for_email: OwnerLookup) -> BackfillPlan:
    """Compute and validate every file's backfilled text; nothing is written."""
    store = Store(root)
    authors: dict[str, str] | None = None

    def owner_for(rel: str) -> tuple[str | None, str | None]:
        nonlocal authors
        if authors is None:
            authors = first_author_emails(root)
        email = authors.get(rel) or first_author_email(root, rel)
        if not email:
            return None, None
        return slug_for_email(email), email

    changes: list[FileChange] = []
    problems: list[validate.Problem] = []
    ownerless: set[str] = set()
    for path in store.note_paths():
        kind = store.kind_of(path)
        assert kind is not None
        rel = path.relative_to(root).as_posix()
        try:
            change = plan_file(path, root, kind, owner_for)
        except (frontmatter.FrontmatterError, UnicodeDecodeError) as exc:
            reason = exc.reason if isinstance(exc, frontmatter.FrontmatterError) else "not valid UTF-8 text"
            line = exc.line if isinstance(exc, frontmatter.FrontmatterError) else None
            problems.append(validate.Problem(rel, line or 1, "", reason))
            continue
        changes.append(change)
        if kind == "workstream" and "owner" not in frontmatter.loads(change.new_text)[0]:
            email = (authors or {}).get(rel) or first_author_email(root, rel)
            hint = (f"add {email} to an operator in .claude/operators.yaml" if email
                    else "the file is not committed yet, so its author is unknown")
            problems.append(validate.Problem(rel, 1, "/owner", f"cannot derive owner: {hint}"))
            ownerless.add(rel)
    report = validate.check_many((c.path, c.new_text) for c in changes)
    # the schema's own "missing owner" says less than the hint above
    problems.extend(p for p in report.problems
                    if not (p.path in ownerless and p.message == "missing required key 'owner'"))
    return BackfillPlan(changes=changes, problems=sorted(set(problems)), files_checked=len(changes))


@dataclass
class Held:
    """A held BACKFILL_LOCK, which is also the journal of the files this backfill changes.

    A run records every file it is about to write (`changed=<path>` lines, fsynced) before the
    first write. A run killed before its commit leaves the lock behind; the next run (with
    --break-stale-lock) takes those paths over, so its commit includes files rewritten before
    the kill.
    """

    path: Path
    carried: list[str] = field(default_factory=list)  # recorded by a run that did not finish
    recorded: list[str] = field(default_factory=list)

    def record(self, paths: Iterable[str]) -> None:
        new = [p for p in paths if p not in self.recorded]
        if not new:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        try:
            os.write(fd, "".join(f"changed={p}\n" for p in new).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.recorded.extend(new)

    @property
    def changed(self) -> list[str]:
        """Every file recorded by this run or carried over, in order, once each."""
        return list(dict.fromkeys([*self.carried, *self.recorded]))


TEMP_TAG = "backfill-"


def temp_tag() -> str:
    return f"{TEMP_TAG}{os.getpid()}-"


def sweep_temp_files(root: Path) -> list[str]:
    """Remove temp files left by backfills that were killed mid-write (never this run's own).

    Only a backfill writes `.<name>.backfill-<pid>-*.tmp`, and only one backfill runs at a time
    (the caller holds the lock), so every such file of another pid is an orphan.
    """
    store = Store(root)
    own = temp_tag()
    removed: list[str] = []
    folders = sorted({store.folder(kind) for kind in KINDS})
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if (name.startswith(".") and name.endswith(".tmp") and f".{TEMP_TAG}" in name
                    and f".{own}" not in name and entry.is_file(follow_symlinks=False)):
                with suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path).relative_to(root).as_posix())
    return removed


def _recorded_paths(root: Path, lines: Iterable[str]) -> list[str]:
    """Recorded paths that name a note of the store (a lock file is repository content too: checked)."""
    out: list[str] = []
    for rel in lines:
        if rel and not rel.startswith("/") and ".." not in Path(rel).parts and kind_for_relpath(rel) is not None:
            out.append(rel)
    return list(dict.fromkeys(out))


@contextmanager
def lock(root: Path, break_stale: bool = False) -> Iterator[Held]:
    """BACKFILL_LOCK: one backfill at a time; a lock left by a crashed run is detected and, when
    broken, its recorded files carried over."""
    path = root / LOCK_NAME
    carried: list[str] = []
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            holder = _read_lock(path)
            pid = holder.get("pid")
            host = holder.get("host")
            stale = isinstance(pid, int) and host == socket.gethostname() and not pid_alive(pid)
            if stale and break_stale:
                carried = _recorded_paths(root, holder.get("changed", []))
                path.unlink(missing_ok=True)
                continue
            if stale:
                raise BatonError(
                    f"{path}: left by a backfill (pid {pid}) that is no longer running; "
                    f"remove it (rm {LOCK_NAME}) or re-run with --break-stale-lock"
                ) from None
            raise BatonError(f"{path}: another backfill is running (pid {pid} on {host}); try again when it ends") from None
    else:  # pragma: no cover - the loop always breaks or raises
        raise BatonError(f"{path}: could not take the lock")
    try:
        head = f"pid={os.getpid()}\nhost={socket.gethostname()}\nstarted={time.time():.0f}\n"
        # What the interrupted run changed stays on record until a run commits it.
        head += "".join(f"changed={p}\n" for p in carried)
        os.write(fd, head.encode())
        os.fsync(fd)
        os.close(fd)
        yield Held(path, carried=carried, recorded=list(carried))
    finally:
        path.unlink(missing_ok=True)


def _read_lock(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"changed": []}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            text = fh.read(4 << 20).decode("utf-8", "replace")
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "changed":
            info["changed"].append(value)
        else:
            info[key] = int(value) if key == "pid" and value.isdigit() else value
    return info


def apply(root: Path, the_plan: BackfillPlan, on_write: Callable[[FileChange], None] | None = None) -> list[FileChange]:
    """Write every changed file atomically; refuses when the plan has problems."""
    from lib.core import atomic

    if the_plan.problems:
        raise BatonError(f"backfill would leave {len(the_plan.problems)} problems; nothing was written")
    written = []
    tag = temp_tag()
    for change in the_plan.to_write:
        atomic.write_text(root / change.path, change.new_text, tag=tag)
        written.append(change)
        if on_write:
            on_write(change)
    return written
