"""The record of one handoff: which files it wrote, its mode, its commit.

`.claude/state/handoff-<ID>.json` (machine-local, gitignored). Every step that writes a
file records it here, so the commit step commits exactly those files and a re-claimed
id can rename them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lib.core import atomic
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR
from lib.store.schema import SESSION_ID

VERSION = 1


@dataclass
class Manifest:
    id: str
    operator: str | None = None
    initials: str | None = None
    claude_session_id: str | None = None
    mode: str | None = None
    since: str | None = None
    since_source: str | None = None
    paths: list[str] = field(default_factory=list)
    # Files the handoff edits that already had the user's uncommitted changes (committed with them).
    preexisting_changes: list[str] = field(default_factory=list)
    learnings: list[str] = field(default_factory=list)
    commit: str | None = None
    renamed_from: list[str] = field(default_factory=list)
    version: int = VERSION

    def add(self, relpath: str) -> None:
        if relpath not in self.paths:
            self.paths.append(relpath)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def path_for(root: Path, session_id: str) -> Path:
    if not SESSION_ID.match(session_id):
        raise BatonError(f"{session_id!r} is not a session id (<INITIALS>-YYMMDD-NN)")
    return root / STATE_DIR / f"handoff-{session_id}.json"


def load(root: Path, session_id: str) -> Manifest:
    path = path_for(root, session_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Manifest(id=session_id)
    except (OSError, ValueError) as exc:
        raise BatonError(f"{path}: unreadable handoff record ({exc}); delete it to start over") from None
    known = {f.name for f in fields(Manifest)}
    values = {k: v for k, v in data.items() if k in known} if isinstance(data, dict) else {}
    values["id"] = session_id
    return Manifest(**values)


def save(root: Path, manifest: Manifest) -> None:
    atomic.write_text(path_for(root, manifest.id), json.dumps(manifest.as_dict(), indent=2, sort_keys=True) + "\n")


@contextmanager
def editing(root: Path, session_id: str) -> Iterator[Manifest]:
    """Load, let the caller change, save; under a lock so two steps never lose each other's paths."""
    path = path_for(root, session_id)
    with atomic.locked(path.with_name(path.name + ".lock")):
        manifest = load(root, session_id)
        yield manifest
        save(root, manifest)


def all_manifests(root: Path) -> list[Manifest]:
    folder = root / STATE_DIR
    found = []
    for path in sorted(folder.glob("handoff-*.json")):
        session_id = path.name[len("handoff-"):-len(".json")]
        if not SESSION_ID.match(session_id):
            continue
        try:
            found.append(load(root, session_id))
        except BatonError:
            continue
    return found


def rename(root: Path, old: str, new: str) -> Manifest:
    """Move a handoff's record to its new id (after a re-claim)."""
    manifest = load(root, old)
    manifest.id = new
    manifest.renamed_from.append(old)
    manifest.paths = [p.replace(f"/{old}.md", f"/{new}.md") for p in manifest.paths]
    save(root, manifest)
    old_path = path_for(root, old)
    old_path.unlink(missing_ok=True)
    old_path.with_name(old_path.name + ".lock").unlink(missing_ok=True)
    return manifest
