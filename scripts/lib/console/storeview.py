"""The console's view of one repository's store: every note's frontmatter, kept fresh cheaply.

Notes are read with `lib.frontmatter.read_metadata` (the one parser) and cached in memory keyed by
path, size and `st_mtime_ns`, so an unchanged file is never parsed twice. Freshness: every call
stats the store folders; a created, deleted or renamed note (every baton tool writes by rename)
changes its folder's mtime and triggers a scan at once; a note edited in place is picked up by the
full scan that runs at least every `full_scan_s` seconds.

This is the smallest stand-in for the store index (`lib.index`): when that lands, `StoreView`
keeps its interface and asks the index instead.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import frontmatter, yamlio
from ..paths import KINDS, SKIPPED_NAMES, STORE_FOLDERS

# File-system timestamps move in ticks (a jiffy, a few milliseconds, on Linux).
RACY_NS = 100_000_000
_SESSION_ID = re.compile(r"^(?P<initials>[A-Z]{2,4})-(?P<date>\d{6})-(?P<seq>\d{2})$")


@dataclass(frozen=True)
class Note:
    kind: str
    external_id: str
    relpath: str
    meta: dict[str, Any]  # JSON-ready (dates as ISO strings)
    error: str | None
    size: int
    mtime_ns: int

    @property
    def is_claim_stub(self) -> bool:
        return self.kind == "session" and self.meta.get("status") == "claimed"

    @property
    def date(self) -> str:
        """The note's day as YYYY-MM-DD ('' when unknown); a session id's date stands in for a missing key."""
        value = self.meta.get("date")
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
        m = _SESSION_ID.match(self.external_id)
        if m:
            d = m.group("date")
            return f"20{d[0:2]}-{d[2:4]}-{d[4:6]}"
        for key in ("written_at", "claimed_at", "created"):
            value = self.meta.get(key)
            if isinstance(value, str) and len(value) >= 10:
                return value[:10]
        return ""

    def sort_key(self) -> tuple[str, int, str, str]:
        """Newest first when sorted in reverse: date, then the id's sequence number, then write time."""
        m = _SESSION_ID.match(self.external_id)
        seq = int(m.group("seq")) if m else 0
        written = self.meta.get("written_at") or self.meta.get("claimed_at") or ""
        return (self.date, seq, written if isinstance(written, str) else "", self.external_id)


class StoreView:
    def __init__(self, root: Path, *, full_scan_s: float = 5.0) -> None:
        self.root = Path(root)
        self.full_scan_s = full_scan_s
        self._lock = threading.Lock()
        self._notes: dict[str, Note] = {}  # relpath -> note
        self._folder_mtimes: dict[str, int] = {}
        self._last_scan = float("-inf")
        self._racy = False
        # Set by the event watcher, which then runs the periodic full scans in the background.
        self.watched = False
        self.generation = 0
        self._sorted: dict[str, tuple[int, list[Note], dict[str, Note]]] = {}

    # -- freshness -------------------------------------------------------------

    def _folder_stamp(self) -> dict[str, int]:
        stamp: dict[str, int] = {}
        for kind in KINDS:
            try:
                stamp[kind] = os.stat(self.root / STORE_FOLDERS[kind]).st_mtime_ns
            except OSError:
                stamp[kind] = -1
        return stamp

    def refresh(self, *, force: bool = False, background: bool = False) -> set[str]:
        """Bring the view up to date; the relpaths of notes added, changed or removed.

        A reader's call (the default) scans when a store folder changed, and does not wait for a
        scan that another thread is running: it keeps the view as it was (at most one scan old).
        The periodic full scan (for edits in place) runs in the `background` call of the event
        watcher when there is one (`watched`), else in readers' calls.
        """
        if background or self._last_scan == float("-inf"):
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return set()
        try:
            stamp = self._folder_stamp()
            periodic = background or not self.watched
            stale = periodic and time.monotonic() - self._last_scan >= self.full_scan_s
            if not force and not stale and not self._racy and stamp == self._folder_mtimes:
                return set()
            now_ns = time.time_ns()
            changed = self._scan()
            self._folder_mtimes = stamp
            self._last_scan = time.monotonic()
            # A folder changed within a timestamp tick of this scan could change again without its
            # mtime moving (git's "racily clean" problem): scan again next time.
            self._racy = any(now_ns - m < RACY_NS for m in stamp.values() if m > 0)
            if changed:
                self.generation += 1
            return changed
        finally:
            self._lock.release()

    def _scan(self) -> set[str]:
        seen: set[str] = set()
        changed: set[str] = set()
        for kind in KINDS:
            folder = STORE_FOLDERS[kind]
            try:
                entries = list(os.scandir(self.root / folder))
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if not name.endswith(".md") or name in SKIPPED_NAMES:
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if not entry.is_file():
                    continue
                rel = f"{folder}/{name}"
                seen.add(rel)
                old = self._notes.get(rel)
                if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                    continue
                self._notes[rel] = _read_note(kind, Path(entry.path), rel, st.st_size, st.st_mtime_ns)
                changed.add(rel)
        for rel in set(self._notes) - seen:
            del self._notes[rel]
            changed.add(rel)
        return changed

    # -- queries ---------------------------------------------------------------

    def _of_kind(self, kind: str) -> tuple[list[Note], dict[str, Note]]:
        self.refresh()
        with self._lock:
            cached = self._sorted.get(kind)
            if cached is not None and cached[0] == self.generation:
                return cached[1], cached[2]
            found = [n for n in self._notes.values() if n.kind == kind]
            found.sort(key=Note.sort_key, reverse=True)
            by_id: dict[str, Note] = {}
            for note in reversed(found):  # of two notes with one id, the newest wins
                by_id[note.external_id] = note
            self._sorted[kind] = (self.generation, found, by_id)
            return found, by_id

    def notes(self, kind: str) -> list[Note]:
        """Notes of a kind, newest first (sessions: date, then sequence). Do not modify the list."""
        return self._of_kind(kind)[0]

    def get(self, kind: str, external_id: str) -> Note | None:
        return self._of_kind(kind)[1].get(external_id)

    def snapshot(self) -> dict[str, Note]:
        """relpath -> note, as of the last refresh (no refresh)."""
        with self._lock:
            return dict(self._notes)

    def body(self, note: Note) -> str:
        """The markdown body of a note, read now."""
        _, body = frontmatter.read(self.root / note.relpath)
        return body


def _read_note(folder_kind: str, path: Path, rel: str, size: int, mtime_ns: int) -> Note:
    error: str | None = None
    try:
        meta = yamlio.jsonable(frontmatter.read_metadata(path))
    except frontmatter.FrontmatterError as exc:
        meta, error = {}, exc.reason + (f" (line {exc.line})" if exc.line else "")
    except (OSError, UnicodeDecodeError) as exc:
        meta, error = {}, str(exc)
    kind = meta.get("kind") if meta.get("kind") in STORE_FOLDERS else folder_kind
    ext = meta.get("external_id")
    external_id = ext if isinstance(ext, str) and ext else path.stem
    return Note(kind=kind, external_id=external_id, relpath=rel, meta=meta, error=error, size=size,
                mtime_ns=mtime_ns)
