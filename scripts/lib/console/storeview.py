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

import bisect
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import frontmatter, yamlio
from ..paths import KINDS, SKIPPED_NAMES, STORE_FOLDERS

# File-system timestamps move in ticks (a jiffy on Linux: 1-10 ms).
RACY_NS = 20_000_000
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
    ino: int = 0
    # The note's day as YYYY-MM-DD ('' when unknown); a session id's date stands in for a missing key.
    date: str = ""
    # Newest first when sorted in reverse: date, then the id's sequence number, then write time.
    key: tuple[str, int, str, str] = ("", 0, "", "")

    @property
    def is_claim_stub(self) -> bool:
        return self.kind == "session" and self.meta.get("status") == "claimed"

    def sort_key(self) -> tuple[str, int, str, str]:
        return self.key


def _day(external_id: str, meta: dict[str, Any], match: re.Match[str] | None) -> str:
    value = meta.get("date")
    if isinstance(value, str) and len(value) >= 10:
        return value[:10]
    if match:
        d = match.group("date")
        return f"20{d[0:2]}-{d[2:4]}-{d[4:6]}"
    for name in ("written_at", "claimed_at", "created"):
        value = meta.get(name)
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
    return ""


def make_note(kind: str, external_id: str, relpath: str, meta: dict[str, Any], error: str | None, size: int,
              mtime_ns: int, ino: int = 0) -> Note:
    """A note with its day and sort key worked out once (sorting 10,000 notes then costs milliseconds)."""
    match = _SESSION_ID.match(external_id)
    day = _day(external_id, meta, match)
    written = meta.get("written_at") or meta.get("claimed_at") or ""
    key = (day, int(match.group("seq")) if match else 0, written if isinstance(written, str) else "", external_id)
    return Note(kind, external_id, relpath, meta, error, size, mtime_ns, ino, day, key)


class StoreView:
    def __init__(self, root: Path, *, full_scan_s: float = 5.0) -> None:
        self.root = Path(root)
        self.full_scan_s = full_scan_s
        self._lock = threading.Lock()
        self._notes: dict[str, Note] = {}  # relpath -> note
        self._inodes: dict[str, dict[str, int]] = {}  # kind -> file name -> inode, as last listed
        self._order: dict[str, list[tuple[tuple[str, int, str, str], str]]] = {k: [] for k in STORE_FOLDERS}
        self._folder_mtimes: dict[str, int] = {}
        self._last_full = float("-inf")
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
        cold = self._last_full == float("-inf")
        if background or cold:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return set()
        try:
            stamp = self._folder_stamp()
            periodic = background or not self.watched
            full = force or self._last_full == float("-inf") or (
                periodic and time.monotonic() - self._last_full >= self.full_scan_s)
            if not full and not self._racy and stamp == self._folder_mtimes:
                return set()
            now_ns = time.time_ns()
            changed = self._scan(full)
            if full:
                self._last_full = time.monotonic()
            self._folder_mtimes = stamp
            # A folder changed within a timestamp tick of this scan could change again without its
            # mtime moving (git's "racily clean" problem): look again next time.
            self._racy = any(now_ns - m < RACY_NS for m in stamp.values() if m > 0)
            if changed:
                self.generation += 1
            return changed
        finally:
            self._lock.release()

    def _scan(self, full: bool) -> set[str]:
        """Read what changed. A full scan stats every note; otherwise only the names whose directory entry
        is new or points at another inode are read (an atomic replace gives a new inode; an edit in place
        waits for the next full scan)."""
        changed: set[str] = set()
        for kind in KINDS:
            folder = STORE_FOLDERS[kind]
            try:
                with os.scandir(self.root / folder) as it:
                    inodes = {e.name: e.inode() for e in it
                              if e.name.endswith(".md") and e.name not in SKIPPED_NAMES}
            except OSError:
                inodes = {}
            before = self._inodes.get(kind, {})
            self._inodes[kind] = inodes
            names = inodes.keys() if full else [n for n, ino in inodes.items() if before.get(n) != ino]
            for name in before.keys() - inodes.keys():
                rel = f"{folder}/{name}"
                if self._drop(rel):
                    changed.add(rel)
            base = self.root / folder
            for name in names:
                rel = f"{folder}/{name}"
                path = base / name
                try:
                    st = os.stat(path)
                except OSError:
                    if self._drop(rel):
                        changed.add(rel)
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                old = self._notes.get(rel)
                if old is not None and (old.size, old.mtime_ns, old.ino) == (st.st_size, st.st_mtime_ns, st.st_ino):
                    continue
                self._put(_read_note(kind, path, rel, st.st_size, st.st_mtime_ns, st.st_ino))
                changed.add(rel)
        return changed

    def _drop(self, rel: str) -> bool:
        old = self._notes.pop(rel, None)
        if old is None:
            return False
        order = self._order[old.kind]
        i = bisect.bisect_left(order, (old.key, rel))
        if i < len(order) and order[i] == (old.key, rel):
            del order[i]
        return True

    def _put(self, note: Note) -> None:
        self._drop(note.relpath)
        self._notes[note.relpath] = note
        # Kept sorted as notes come and go, so a change costs a bisect, not a sort of every note.
        bisect.insort(self._order[note.kind], (note.key, note.relpath))

    # -- queries ---------------------------------------------------------------

    def _of_kind(self, kind: str) -> tuple[list[Note], dict[str, Note]]:
        self.refresh()
        with self._lock:
            cached = self._sorted.get(kind)
            if cached is not None and cached[0] == self.generation:
                return cached[1], cached[2]
            notes = self._notes
            found = [notes[rel] for _, rel in reversed(self._order[kind])]
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


def _read_note(folder_kind: str, path: Path, rel: str, size: int, mtime_ns: int, ino: int) -> Note:
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
    return make_note(kind, external_id, rel, meta, error, size, mtime_ns, ino)
