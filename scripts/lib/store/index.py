"""The store index: every note's metadata, key body sections and validation problems, cached in SQLite.

The cache lives in `.claude/state/index.sqlite` (machine-local, gitignored, always
safe to delete). Each row is keyed by the note's path and the file's size,
`st_mtime_ns` and `st_ctime_ns`. `Index.refresh()` stats every note (one
`os.scandir` per store folder) and reads only files that are new or whose stat
changed; rows of deleted or renamed files go. So an unchanged file is parsed once,
and a warm refresh that finds nothing changed imports neither YAML nor a validator.

Correctness details:
- A file modified in the same file-system timestamp tick as our read could keep
  its stat (coarse mtimes: 1-2 s on some file systems, a jiffy on Linux). A row
  whose mtime is within RACY_WINDOW_NS of the moment it was read is re-checked by a
  digest of its bytes on later refreshes until it is old enough (git's "racily
  clean" rule).
- Rows hold what the code that wrote them computed: a change to the parsing or
  validation code or to the schemas (their size and mtime) rebuilds the cache.
- A corrupt or foreign cache file is deleted and rebuilt without a word.
- Several processes may refresh at once: SQLite runs in WAL mode with a busy
  timeout, parsing happens outside any transaction, and an advisory lock lets one
  process parse a batch while the others wait and then find it done.
- When the state folder cannot hold the cache, an in-memory database is used
  (correct, just cold every time).

Validation problems are stored per file (None until a refresh with validation
ran over it); cross-file problems (duplicate ids) are computed from the indexed
ids on demand (lib.store.report). The pieces: lib.store.cachefile (the SQLite file),
lib.store.rows (a note file as rows), lib.store.queries (reading them),
lib.store.fulltext (searching their text); this module keeps the rows fresh.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lib.store.cachefile import (
    BUSY_TIMEOUT_S,
    FORMAT,
    INDEX_FILE,
    NOTE_TABLES,
    CacheFile,
    IndexCold,
    IndexUnavailable,
    bump_generation,
    exists,
    index_path,
    is_busy,
    is_query_error,
    write_transaction,
)
from lib.store.queries import IndexedNote, Queries
from lib.store.rows import (
    DOC_COLUMNS,
    FILE_COLUMNS,
    NOTE_TABLE_COLUMNS,
    SECTIONS,
    TEXT_COLUMNS,
    Item,
    Row,
    digest,
    parse_file,
    parse_parallel,
    split,
)
from lib.store.scan import Files, Scan, take

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking still keeps the data safe
    fcntl = None  # type: ignore[assignment]

__all__ = ["FORMAT", "INDEX_FILE", "SECTIONS", "Index", "IndexCold", "IndexStale", "IndexUnavailable", "IndexedNote",
           "RefreshResult", "exists", "index_path", "split"]

RACY_WINDOW_NS = 2_000_000_000
# Below this many files to parse a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400


class IndexStale(IndexUnavailable):
    """Refreshing would take more than the caller allowed (changes or time); what was done is kept."""

class RefreshResult:
    """What a refresh did: notes indexed, files parsed, notes added / changed / deleted, racy files verified."""

    def __init__(self, rebuilt: bool = False) -> None:
        self.notes = 0
        self.parsed = 0
        self.added = 0
        self.changed = 0
        self.deleted = 0
        self.verified = 0
        self.rebuilt = rebuilt
        self.seconds = 0.0
        self.changed_paths: list[str] = []

    @property
    def store_changed(self) -> bool:
        return bool(self.added or self.changed or self.deleted)


class Index(CacheFile, Queries):
    """The index of the store under `root`. Use as a context manager or call `close()`.

    `create=False` refuses to start a cache that does not exist (raises IndexCold),
    for callers with a time budget such as the SessionStart hook.
    """

    def __init__(self, root: Path, *, create: bool = True, busy_timeout: float = BUSY_TIMEOUT_S,
                 jobs: int | None = None, parallel_threshold: int = PARALLEL_THRESHOLD) -> None:
        self.jobs = jobs
        self.parallel_threshold = parallel_threshold
        super().__init__(root, create=create, busy_timeout=busy_timeout)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ refresh
    def refresh(self, *, validate: bool = True, max_changes: int | None = None,
                deadline: float | None = None, scanned: Scan | None = None) -> RefreshResult:
        """Bring the cache up to date with the files; returns what changed.

        `validate`: also check notes that have no stored problems yet (they are
        re-read). `max_changes` / `deadline` (a `time.monotonic()` value) bound the
        work: beyond them IndexStale is raised after saving what was done. `scanned`:
        a scan of this root taken moments ago (lib.store.prescan), used instead of a new one.
        """
        try:
            return self._refresh(validate, max_changes, deadline, scanned)
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise
            self._reset()
        except sqlite3.DatabaseError:
            self._reset()
        return self._refresh(validate, max_changes, deadline, scanned)

    def _refresh(self, validate: bool, max_changes: int | None, deadline: float | None,
                 scanned: Scan | None = None) -> RefreshResult:
        started = time.monotonic()
        result = RefreshResult(rebuilt=self.rebuilt)
        current = scanned or take(self.root)
        scanned_ns = current.started_ns
        known, deleted, to_parse, racy = self._compare(current, validate)
        if max_changes is not None and len(to_parse) + len(deleted) > max_changes:
            raise IndexStale(f"{len(to_parse) + len(deleted)} notes changed (limit {max_changes})")

        verified: list[tuple[int, str]] = []
        for rel, folder_kind, size, mtime, ctime, hashed in racy:
            now = time.time_ns()
            try:
                raw = (self.root / rel).read_bytes()
            except OSError:
                continue
            if digest(raw) == hashed:
                verified.append((now, rel))
            else:
                to_parse.append((rel, folder_kind, size, mtime, ctime))
        result.verified = len(verified)

        parsed: list[Row] = []
        finished = True
        if to_parse:
            with self._parse_lock(deadline):
                to_parse = self._still_needed(to_parse, validate, scanned_ns)
                parsed, finished = self._parse(to_parse, validate, deadline)
        result.parsed = len(parsed)
        for r in parsed:
            if r.file[0] not in known:
                result.added += 1
            elif known[r.file[0]][5] != r.file[5]:
                result.changed += 1
            else:
                continue
            result.changed_paths.append(r.file[0])
        result.deleted = len(deleted)
        result.changed_paths.extend(deleted)

        # The signature may be trusted next time only if every file seen now has its row.
        settled = finished and len(parsed) == len(to_parse)
        new_signature = current.signature if settled else ""
        newly_complete = finished and not self.is_complete
        if parsed or deleted or verified or newly_complete or new_signature != self._meta("signature"):
            with write_transaction(self._conn):
                gone = deleted + [r.file[0] for r in parsed]
                if gone:
                    # The old full text goes by the docs rowid, before the docs row is replaced (a row
                    # another process wrote meanwhile included).
                    self._conn.executemany("DELETE FROM fts WHERE rowid = (SELECT rowid FROM docs WHERE path = ?)",
                                           [(p,) for p in gone])
                if deleted:
                    for table in NOTE_TABLES:
                        self._conn.executemany(f"DELETE FROM {table} WHERE path = ?", [(p,) for p in deleted])
                if parsed:
                    for i, (table, columns) in enumerate(
                        (("files", FILE_COLUMNS), ("notes", NOTE_TABLE_COLUMNS), ("docs", DOC_COLUMNS))
                    ):
                        marks = ", ".join("?" * len(columns))
                        self._conn.executemany(
                            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [r[i] for r in parsed],
                        )
                    self._conn.executemany(
                        f"INSERT INTO fts (rowid, {', '.join(TEXT_COLUMNS)}) VALUES "
                        f"((SELECT rowid FROM docs WHERE path = ?), {', '.join('?' * len(TEXT_COLUMNS))})",
                        [(r.file[0], *r.text) for r in parsed],
                    )
                if verified:
                    self._conn.executemany("UPDATE files SET verified_ns = ? WHERE path = ?", verified)
                if parsed or deleted:
                    bump_generation(self._conn)
                if newly_complete:
                    self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('signature', ?)", (new_signature,))
        self.rebuilt = False
        result.notes = current.count - (len(to_parse) - len(parsed) if not finished else 0)
        result.seconds = time.monotonic() - started
        if not finished:
            raise IndexStale("time budget spent")
        return result

    def _compare(self, now: Scan, validate: bool) -> tuple[
        dict[str, Any], list[str], list[Item], list[tuple[str, str, int, int, int, str]]
    ]:
        """(known rows, deleted paths, files to parse, racy files to re-check) for a scan."""
        columns = "path, size, mtime_ns, ctime_ns, verified_ns, digest, validated"
        fast = bool(now.signature) and self.is_complete and self._meta("signature") == now.signature
        if fast:
            # Same files with the same stat as the last settled refresh: only racy rows, and rows
            # never validated, need a look (both found through their own indexes).
            rows = self._conn.execute(
                f"SELECT {columns} FROM files WHERE verified_ns - mtime_ns <= ?", (RACY_WINDOW_NS,)
            ).fetchall()
            if validate:
                rows += self._conn.execute(f"SELECT {columns} FROM files WHERE validated = 0").fetchall()
            deleted: list[str] = []
            if not rows:
                return {}, [], [], []  # the common warm case: the files are never decoded
        else:
            rows = self._conn.execute(f"SELECT {columns} FROM files").fetchall()
        seen: Files = now.files
        if not fast:
            deleted = [r[0] for r in rows if r[0] not in seen]
        known = {r[0]: r for r in rows}
        to_parse: list[Item] = []
        racy: list[tuple[str, str, int, int, int, str]] = []
        items = [(rel, seen[rel]) for rel in known if rel in seen] if fast else seen.items()
        for rel, (folder_kind, size, mtime, ctime) in items:
            row = known.get(rel)
            if row is None or row[1] != size or row[2] != mtime or row[3] != ctime or (validate and not row[6]):
                to_parse.append((rel, folder_kind, size, mtime, ctime))
            elif mtime + RACY_WINDOW_NS >= row[4]:
                racy.append((rel, folder_kind, size, mtime, ctime, row[5]))
        return known, deleted, to_parse, racy

    @contextlib.contextmanager
    def _parse_lock(self, deadline: float | None) -> Iterator[None]:
        """Let one process parse a batch; the others wait, then find it done (or give up at the deadline)."""
        if self.in_memory or fcntl is None:
            yield
            return
        lock_path = self.path.with_name(INDEX_FILE + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
        try:
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    raise IndexStale("another process is refreshing the index") from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _still_needed(self, items: list[Item], validate: bool,
                      scanned_ns: int) -> list[Item]:
        """Drop the files another process read (and indexed) after our scan, while we waited for the lock."""
        sql = "SELECT path, size, mtime_ns, ctime_ns, verified_ns, validated FROM files"
        current = {r[0]: r for r in self._conn.execute(sql)}
        keep = []
        for item in items:
            row = current.get(item[0])
            if (row is None or (row[1], row[2], row[3]) != item[2:5] or row[4] < scanned_ns
                    or (validate and not row[5])):
                keep.append(item)
        return keep

    def _parse(self, items: list[Item], validate: bool,
               deadline: float | None) -> tuple[list[Row], bool]:
        """Rows for the files, and whether all were done (False: the deadline passed first)."""
        root = str(self.root)
        jobs = self.jobs or os.cpu_count() or 1
        if jobs < 2 or len(items) < self.parallel_threshold or deadline is not None:
            rows: list[Row] = []
            for item in items:
                if deadline is not None and time.monotonic() > deadline:
                    return rows, False
                row = parse_file(root, item, validate)
                if row is not None:
                    rows.append(row)
            return rows, True
        return parse_parallel(root, items, validate, jobs), True

    # ------------------------------------------------------------ reading
    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query; a damaged cache is rebuilt and the query run again. A full-text query that is
        not valid FTS5 syntax raises sqlite3.OperationalError (the cache is fine)."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if is_busy(exc) or is_query_error(exc):
                raise
            self._reset()
        except sqlite3.DatabaseError:
            self._reset()
        self._refresh(True, None, None)
        return self._conn.execute(sql, params).fetchall()

    def _memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A derived value computed once per state of the store (kept in the `derived` table)."""
        import json  # not at the top: a search never needs it

        generation = self._meta("generation") or "0"
        rows = self.select("SELECT value FROM derived WHERE key = ? AND generation = ?", (key, generation))
        if rows:
            return json.loads(rows[0][0])
        value = compute()
        # Remembering is optional: never wait for another writer for it.
        self._conn.execute("PRAGMA busy_timeout = 20")
        try:
            with write_transaction(self._conn):
                self._conn.execute("DELETE FROM derived WHERE generation != ?", (generation,))
                self._conn.execute("INSERT OR REPLACE INTO derived VALUES (?, ?, ?)",
                                   (key, generation, json.dumps(value)))
        except sqlite3.OperationalError:
            pass
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return value


