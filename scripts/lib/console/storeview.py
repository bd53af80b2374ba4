"""The console's view of one repository's store, read through the store index (`lib.store.index`).

The index parses each note once and keeps it in `.claude/state/index.sqlite` (so a restarted console
is warm); this view keeps the rows the console shows in memory, in the index's order (newest first:
date, then sequence), and asks the index again only when something may have changed:

- the store folders are statted; a note created, deleted or replaced (every baton tool writes by
  rename) changes its folder's mtime, and the index is refreshed;
- a note edited in place does not: the index's own refresh (a stat of every note) runs every
  `full_scan_s` seconds anyway;
- in the console these looks are the event watcher's, every poll interval, off the request path:
  a request answers from the view at once, at most one poll interval (plus one refresh) behind.

All index calls run on one thread of the view's own (an SQLite connection belongs to its thread).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lib.core.paths import KINDS, STORE_FOLDERS
from lib.store import frontmatter, fulltext
from lib.store import index as store_index
from lib.store import report as store_report

# File-system timestamps move in ticks (a jiffy on Linux: 1-10 ms): a folder changed this recently may
# change again without its mtime moving, so the next call looks again.
RACY_NS = 20_000_000
T = TypeVar("T")
NO_PARALLEL = 1 << 62


def warm(root: Path) -> int:
    """Bring the store index of `root` up to date in this thread (parsing a cold store in parallel);
    call it before any other thread starts. The number of notes."""
    with store_index.Index(root) as idx:
        return idx.refresh(validate=False).notes


@dataclass(frozen=True)
class NoteView:
    kind: str
    external_id: str
    relpath: str
    meta: dict[str, Any]  # JSON-ready (dates as ISO strings), as the index holds it
    error: str | None
    # The index's day of the note (YYYY-MM-DD, '' when it has none) and its place: newest first when
    # sorted in reverse (date, then sequence, then path).
    date: str = ""
    key: tuple[str, int, str] = ("", 0, "")

    @property
    def is_claim_stub(self) -> bool:
        return self.kind == "session" and self.meta.get("status") == "claimed"

    def sort_key(self) -> tuple[str, int, str]:
        return self.key


def note_from_index(row: store_index.IndexedNote, error: str | None = None) -> NoteView:
    """The console's record of an indexed note; `error` is kept only for a note that could not be read
    (no frontmatter came out of it), not for one the validator has remarks about."""
    path = row.path
    meta = dict(row.metadata or {})
    error = error if not meta else None
    kind = row.kind if row.kind in STORE_FOLDERS else (_folder_kind(path) or "session")
    return NoteView(kind=kind, external_id=row.id, relpath=path, meta=meta, error=error,
                date=row.date or "", key=(row.date or "0000-00-00", row.seq, path))


def _folder_kind(relpath: str) -> str | None:
    folder = relpath.rpartition("/")[0]
    return next((k for k, f in STORE_FOLDERS.items() if f == folder), None)


class StoreView:
    def __init__(self, root: Path, *, full_scan_s: float = 5.0) -> None:
        self.root = Path(root)
        self.full_scan_s = full_scan_s
        self._lock = threading.Lock()
        self._notes: dict[str, NoteView] = {}  # relpath -> note
        self._order: dict[str, list[tuple[tuple[str, int, str], str]]] = {k: [] for k in STORE_FOLDERS}
        self._folder_mtimes: dict[str, int] = {}
        self._last_full = float("-inf")
        self._racy = False
        # Set by the event watcher, which then runs the periodic refreshes in the background.
        self.watched = False
        self.generation = 0
        self._sorted: dict[str, tuple[int, list[NoteView], dict[str, NoteView]]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._index: store_index.Index | None = None

    # -- the index, on its own thread ----------------------------------------------

    def _on_index_thread(self, fn: Callable[[store_index.Index], T]) -> T:
        def call() -> T:
            if self._index is None:
                # Never a process pool from here: forking a process that runs a server's threads is not
                # safe. `warm` parses a cold store in parallel before the server starts.
                self._index = store_index.Index(self.root, parallel_threshold=NO_PARALLEL)
            return fn(self._index)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baton-index")
        return self._executor.submit(call).result()

    def close(self) -> None:
        """Close the index and stop its thread (a later call opens them again)."""
        def shut(idx: store_index.Index) -> None:
            idx.close()
            self._index = None
        if self._index is not None:
            self._on_index_thread(shut)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- freshness -----------------------------------------------------------------

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

        With an event watcher (`watched`), only its `background` calls refresh: every poll interval when
        a store folder changed, and every `full_scan_s` seconds for notes edited in place; readers answer
        from the view (after the first load). Without one, a reader's call refreshes when a folder
        changed (or the periodic refresh is due), and does not wait for a refresh another thread runs.
        """
        cold = self._last_full == float("-inf")
        if not background and not cold and self.watched:
            # The watcher keeps the view fresh; a reader never pays for a refresh of the index (at
            # 10,000 notes that is a stat of each, ~0.1 s) and is one poll interval behind at most.
            return set()
        if background or cold:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return set()
        try:
            stamp = self._folder_stamp()
            periodic = background or not self.watched
            due = periodic and time.monotonic() - self._last_full >= self.full_scan_s
            if not force and not cold and not due and not self._racy and stamp == self._folder_mtimes:
                return set()
            now_ns = time.time_ns()
            changed = self._load_all() if self._last_full == float("-inf") else self._load_changes()
            self._last_full = time.monotonic()
            self._folder_mtimes = stamp
            self._racy = any(now_ns - m < RACY_NS for m in stamp.values() if m > 0)
            if changed:
                self.generation += 1
            return changed
        finally:
            self._lock.release()

    def _load_all(self) -> set[str]:
        def load(idx: store_index.Index) -> tuple[list[store_index.IndexedNote], dict[str, str]]:
            idx.refresh(validate=False)
            return idx.notes(with_metadata=True), _errors(idx, None)

        rows, errors = self._on_index_thread(load)
        self._notes.clear()
        for order in self._order.values():
            order.clear()
        for row in rows:
            note = note_from_index(row, errors.get(row.path))
            self._notes[note.relpath] = note
            self._order[note.kind].append((note.key, note.relpath))
        for order in self._order.values():
            order.sort()
        return set(self._notes)

    def _load_changes(self) -> set[str]:
        def load(idx: store_index.Index) -> tuple[list[str], list[store_index.IndexedNote], dict[str, str]]:
            result = idx.refresh(validate=False)
            paths = list(result.changed_paths)
            rows = [row for row in (idx.note(p, with_metadata=True) for p in paths) if row is not None]
            return paths, rows, _errors(idx, paths)

        paths, rows, errors = self._on_index_thread(load)
        for path in paths:
            self._drop(path)
        for row in rows:
            self._put(note_from_index(row, errors.get(row.path)))
        return set(paths)

    def _drop(self, rel: str) -> None:
        old = self._notes.pop(rel, None)
        if old is None:
            return
        order = self._order[old.kind]
        i = bisect.bisect_left(order, (old.key, rel))
        if i < len(order) and order[i] == (old.key, rel):
            del order[i]

    def _put(self, note: NoteView) -> None:
        self._drop(note.relpath)
        self._notes[note.relpath] = note
        # Kept in order as notes come and go: a change costs a bisection, not a sort of every note.
        bisect.insort(self._order[note.kind], (note.key, note.relpath))

    # -- queries -------------------------------------------------------------------

    def _of_kind(self, kind: str) -> tuple[list[NoteView], dict[str, NoteView]]:
        self.refresh()
        with self._lock:
            cached = self._sorted.get(kind)
            if cached is not None and cached[0] == self.generation:
                return cached[1], cached[2]
            notes = self._notes
            found = [notes[rel] for _, rel in reversed(self._order[kind])]
            by_id: dict[str, NoteView] = {}
            for note in reversed(found):  # of two notes with one id, the newest wins
                by_id[note.external_id] = note
            self._sorted[kind] = (self.generation, found, by_id)
            return found, by_id

    def notes(self, kind: str) -> list[NoteView]:
        """Notes of a kind, newest first (date, then sequence). Do not modify the list."""
        return self._of_kind(kind)[0]

    def get(self, kind: str, external_id: str) -> NoteView | None:
        return self._of_kind(kind)[1].get(external_id)

    def search(self, query: str, *, kind: str | None = None, limit: int = 30) -> list[fulltext.Hit]:
        """Full-text hits for a query, best first (lib.store.fulltext; raises its QueryError)."""
        self.refresh()
        return self._on_index_thread(lambda idx: fulltext.search(idx, query, kind=kind, limit=limit))

    def body(self, note: NoteView) -> str:
        """The markdown body of a note, read now."""
        _, body = frontmatter.read(self.root / note.relpath)
        return body


def _errors(idx: store_index.Index, paths: Iterable[str] | None) -> dict[str, str]:
    """Why a note could not be read (its first problem), for notes the index holds no metadata of."""
    wanted = None if paths is None else set(paths)
    out: dict[str, str] = {}
    for problem in store_report.file_problems(idx):
        if (wanted is None or problem.path in wanted) and problem.path not in out:
            out[problem.path] = f"{problem.message} (line {problem.line})" if problem.line else problem.message
    return out
