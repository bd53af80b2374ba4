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
ids on demand.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

from lib.core.paths import KINDS, SKIPPED_NAMES, STATE_DIR, STORE_FOLDERS
from lib.store import markdown, sessionid

if TYPE_CHECKING:
    from lib.store.validate import Problem, Report

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking still keeps the data safe
    fcntl = None  # type: ignore[assignment]

INDEX_FILE = "index.sqlite"
# Bump when the table layout or what a row means changes.
FORMAT = 4
RACY_WINDOW_NS = 2_000_000_000
BUSY_TIMEOUT_S = 30.0
# Below this many files to parse a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400
SECTION_LIMIT = 4000

# Body sections kept per kind (matched case-insensitively), for the dashboard and the SessionStart hook.
SECTIONS: dict[str, tuple[str, ...]] = {
    "session": ("Summary", "Resume Prompt", "Open questions", "Next steps"),
    "workstream": ("What's Next",),
}
# The code and data whose change makes cached rows stale.
_CODE_FILES = (
    "store/index.py",
    "store/frontmatter.py",
    "store/yamlio.py",
    "store/validate.py",
    "store/schema.py",
    "core/paths.py",
)

# Compiled on first use (only files being parsed need them): a warm refresh compiles none.
_PATTERNS = {
    "iso_date": r"(\d{4})-(\d{2})-(\d{2})",
    "trailing_int": r"(\d+)(?!.*\d)",
    "timestampish": r"^\d{4}-\d{1,2}-\d{1,2}",
    "confidence": r"(?i)confidence\W{0,3}\s*(high|medium|low)\b",
    "closing": r"(?m)^(?:---|\.\.\.)[ \t]*$",
}


def _re(name: str) -> re.Pattern[str]:
    return re.compile(_PATTERNS[name])  # re caches compiled patterns

# Three tables, so a refresh reads only the small `files` rows and queries only `notes`:
# files (the freshness key), notes (queryable fields), docs (metadata JSON, body sections, problems).
_FILE_COLUMNS = ("path", "size", "mtime_ns", "ctime_ns", "verified_ns", "digest", "validated")
_NOTE_COLUMNS = (
    "path", "kind", "external_id", "operator", "status", "outcome", "confidence", "date", "seq",
    "title", "summary", "workstream", "claimed_at", "content_hash", "problem_count",
)
_NOTE_TABLE_COLUMNS = (*_NOTE_COLUMNS, "rank")
_DOC_COLUMNS = ("path", "metadata", "sections", "error", "problems")
_NOTE_TABLES = ("files", "notes", "docs")
_TABLES = (*_NOTE_TABLES, "derived")
_SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    verified_ns INTEGER NOT NULL, digest TEXT NOT NULL, validated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes (
    path TEXT PRIMARY KEY, kind TEXT, external_id TEXT, operator TEXT, status TEXT, outcome TEXT,
    confidence TEXT, date TEXT, seq INTEGER NOT NULL, title TEXT, summary TEXT, workstream TEXT,
    claimed_at TEXT, content_hash TEXT, problem_count INTEGER, rank TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs (
    path TEXT PRIMARY KEY, metadata TEXT NOT NULL, sections TEXT, error TEXT, problems TEXT
);
CREATE INDEX IF NOT EXISTS notes_by_kind ON notes (kind, rank);
CREATE INDEX IF NOT EXISTS notes_by_operator ON notes (kind, operator, rank, status, path);
CREATE INDEX IF NOT EXISTS notes_by_workstream ON notes (kind, workstream, rank, status, path);
CREATE INDEX IF NOT EXISTS notes_by_id ON notes (kind, external_id);
CREATE INDEX IF NOT EXISTS notes_by_status ON notes (kind, status, rank, path);
CREATE INDEX IF NOT EXISTS files_racy ON files (verified_ns - mtime_ns);
CREATE INDEX IF NOT EXISTS files_unvalidated ON files (path) WHERE validated = 0;
CREATE TABLE IF NOT EXISTS derived (key TEXT PRIMARY KEY, generation TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notes_with_problems ON notes (problem_count) WHERE problem_count > 0;
INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '{FORMAT}');
"""


# One parsed file: its files, notes and docs rows.
Row = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


class IndexError_(Exception):
    """Base of the index's own signals (not user errors)."""


class IndexCold(IndexError_):
    """The cache does not exist yet (or was never completed) and the caller asked not to build it."""


class IndexStale(IndexError_):
    """Refreshing would take more than the caller allowed (changes or time); what was done is kept."""


# Records are NamedTuples: a dataclass costs several times more to define, and every
# command that reads the store imports this module.
class Note(NamedTuple):
    """One indexed note. `operator` is a session's or learning's operator, a workstream's or plan's owner."""

    path: str
    kind: str | None
    external_id: str | None
    operator: str | None
    status: str | None
    outcome: str | None
    confidence: str | None
    date: str | None
    seq: int
    title: str | None
    summary: str | None
    workstream: str | None
    claimed_at: str | None
    content_hash: str | None
    problem_count: int | None
    metadata: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.external_id or PurePosixPath(self.path).stem

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "path": self.path, "kind": self.kind, "external_id": self.external_id,
            "operator": self.operator, "status": self.status, "outcome": self.outcome,
            "confidence": self.confidence, "date": self.date, "seq": self.seq, "title": self.title,
            "summary": self.summary, "workstream": self.workstream, "claimed_at": self.claimed_at,
            "content_hash": self.content_hash, "problem_count": self.problem_count,
        }
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out


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


def index_path(root: Path) -> Path:
    return root / STATE_DIR / INDEX_FILE


def exists(root: Path) -> bool:
    """Whether a cache file is there (it may still be incomplete or stale)."""
    return index_path(root).is_file()


def _code_fingerprint() -> str:
    here = Path(__file__).resolve().parents[1]
    parts = [f"format={FORMAT}"]
    paths = [here / name for name in _CODE_FILES]
    schemas = here.parent / "schemas"
    with contextlib.suppress(OSError):
        paths += sorted(schemas / n for n in os.listdir(schemas) if n.endswith(".json"))
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


class Index:
    """The index of the store under `root`. Use as a context manager or call `close()`.

    `create=False` refuses to start a cache that does not exist (raises IndexCold),
    for callers with a time budget such as the SessionStart hook.
    """

    def __init__(self, root: Path, *, create: bool = True, busy_timeout: float = BUSY_TIMEOUT_S,
                 jobs: int | None = None, parallel_threshold: int = PARALLEL_THRESHOLD) -> None:
        self.root = Path(root).resolve()
        self.path = index_path(self.root)
        self.busy_timeout = busy_timeout
        self.jobs = jobs
        self.parallel_threshold = parallel_threshold
        self.in_memory = False
        self.rebuilt = False
        if not create and not self.path.is_file():
            raise IndexCold(f"no index at {self.path}")
        self._conn = self._open()

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def _connect(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None)
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-32000")  # 32 MB: a cold build inserts ~10 MB per 10,000 notes
        return conn

    def _open(self) -> sqlite3.Connection:
        fingerprint = _code_fingerprint()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return self._open_memory(fingerprint)
        for attempt in range(2):
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect(str(self.path))
                if self._prepare(conn, fingerprint):
                    return conn
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) or _is_readonly(exc):
                    if conn is not None:
                        conn.close()
                    if _is_busy(exc):
                        raise
                    return self._open_memory(fingerprint)
            except sqlite3.DatabaseError:
                pass  # not a database, or a damaged one: start again
            if conn is not None:
                conn.close()
            if attempt == 0:
                self._discard_files()
        return self._open_memory(fingerprint)

    def _open_memory(self, fingerprint: str) -> sqlite3.Connection:
        self.in_memory = True
        conn = self._connect(":memory:")
        self._prepare(conn, fingerprint)
        return conn

    def _prepare(self, conn: sqlite3.Connection, fingerprint: str) -> bool:
        """Create the tables, check format and code fingerprint; False when the file must be discarded."""
        meta = {}
        with contextlib.suppress(sqlite3.OperationalError):
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta and (meta.get("format") != str(FORMAT) or "db_id" not in meta):
            return False
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if meta and not tables.issuperset(_TABLES):
            return False
        if not meta or not tables.issuperset(_TABLES):
            # One transaction, so a process opening the file meanwhile sees all of it or none.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{_SCHEMA_SQL}\n"
                f"INSERT OR IGNORE INTO meta VALUES ('db_id', '{os.urandom(8).hex()}');\n"
                "INSERT OR IGNORE INTO meta VALUES ('generation', '0');\n"
                f"INSERT OR IGNORE INTO meta VALUES ('code', '{_sql_text(fingerprint)}');\nCOMMIT;"
            )
            return self._meta_of(conn).get("code") == fingerprint
        # Rows written by other code are stale; a new file is quicker than deleting every row.
        return meta.get("code") == fingerprint

    @staticmethod
    def _meta_of(conn: sqlite3.Connection) -> dict[str, str]:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    def _discard_files(self) -> None:
        self.rebuilt = True
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _reset(self) -> None:
        self.close()
        if not self.in_memory:
            self._discard_files()
        self._conn = self._open()

    # ------------------------------------------------------------ state
    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def is_complete(self) -> bool:
        """Whether a full refresh has finished since the cache was (re)built."""
        return self._meta("complete") == "1"

    @property
    def fingerprint(self) -> str:
        """Changes whenever the indexed store changes (a new cache file gets a new id)."""
        return f"{self._meta('db_id')}:{self._meta('generation')}"

    # ------------------------------------------------------------ refresh
    def refresh(self, *, validate: bool = True, max_changes: int | None = None,
                deadline: float | None = None) -> RefreshResult:
        """Bring the cache up to date with the files; returns what changed.

        `validate`: also check notes that have no stored problems yet (they are
        re-read). `max_changes` / `deadline` (a `time.monotonic()` value) bound the
        work: beyond them IndexStale is raised after saving what was done.
        """
        try:
            return self._refresh(validate, max_changes, deadline)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise
            self._reset()
        except sqlite3.DatabaseError:
            self._reset()
        return self._refresh(validate, max_changes, deadline)

    def _refresh(self, validate: bool, max_changes: int | None, deadline: float | None) -> RefreshResult:
        started = time.monotonic()
        result = RefreshResult(rebuilt=self.rebuilt)
        scanned_ns = time.time_ns()
        seen = scan(self.root)
        signature = _signature(seen)
        known, deleted, to_parse, racy = self._compare(seen, signature, validate)
        if max_changes is not None and len(to_parse) + len(deleted) > max_changes:
            raise IndexStale(f"{len(to_parse) + len(deleted)} notes changed (limit {max_changes})")

        verified: list[tuple[int, str]] = []
        for rel, folder_kind, size, mtime, ctime, digest in racy:
            now = time.time_ns()
            try:
                raw = (self.root / rel).read_bytes()
            except OSError:
                continue
            if _digest(raw) == digest:
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
            if r[0][0] not in known:
                result.added += 1
            elif known[r[0][0]][5] != r[0][5]:
                result.changed += 1
            else:
                continue
            result.changed_paths.append(r[0][0])
        result.deleted = len(deleted)
        result.changed_paths.extend(deleted)

        # The signature may be trusted next time only if every file seen now has its row.
        settled = finished and len(parsed) == len(to_parse)
        new_signature = signature if settled else ""
        newly_complete = finished and not self.is_complete
        if parsed or deleted or verified or newly_complete or new_signature != self._meta("signature"):
            with _write(self._conn):
                if deleted:
                    for table in _NOTE_TABLES:
                        self._conn.executemany(f"DELETE FROM {table} WHERE path = ?", [(p,) for p in deleted])
                if parsed:
                    for i, (table, columns) in enumerate(
                        (("files", _FILE_COLUMNS), ("notes", _NOTE_TABLE_COLUMNS), ("docs", _DOC_COLUMNS))
                    ):
                        marks = ", ".join("?" * len(columns))
                        self._conn.executemany(
                            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [r[i] for r in parsed],
                        )
                if verified:
                    self._conn.executemany("UPDATE files SET verified_ns = ? WHERE path = ?", verified)
                if parsed or deleted:
                    _bump(self._conn)
                if newly_complete:
                    self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('signature', ?)", (new_signature,))
        self.rebuilt = False
        result.notes = len(seen) - (len(to_parse) - len(parsed) if not finished else 0)
        result.seconds = time.monotonic() - started
        if not finished:
            raise IndexStale("time budget spent")
        return result

    def _compare(self, seen: dict[str, tuple[str, int, int, int]], signature: str, validate: bool) -> tuple[
        dict[str, Any], list[str], list[tuple[str, str, int, int, int]], list[tuple[str, str, int, int, int, str]]
    ]:
        """(known rows, deleted paths, files to parse, racy files to re-check) for a scan."""
        columns = "path, size, mtime_ns, ctime_ns, verified_ns, digest, validated"
        fast = bool(signature) and self.is_complete and self._meta("signature") == signature
        if fast:
            # Same files with the same stat as the last settled refresh: only racy rows, and rows
            # never validated, need a look (both found through their own indexes).
            rows = self._conn.execute(
                f"SELECT {columns} FROM files WHERE verified_ns - mtime_ns <= ?", (RACY_WINDOW_NS,)
            ).fetchall()
            if validate:
                rows += self._conn.execute(f"SELECT {columns} FROM files WHERE validated = 0").fetchall()
            deleted: list[str] = []
        else:
            rows = self._conn.execute(f"SELECT {columns} FROM files").fetchall()
            deleted = [r[0] for r in rows if r[0] not in seen]
        known = {r[0]: r for r in rows}
        to_parse: list[tuple[str, str, int, int, int]] = []
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

    def _still_needed(self, items: list[tuple[str, str, int, int, int]], validate: bool,
                      scanned_ns: int) -> list[tuple[str, str, int, int, int]]:
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

    def _parse(self, items: list[tuple[str, str, int, int, int]], validate: bool,
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
        return _parse_parallel(root, items, validate, jobs), True

    # ------------------------------------------------------------ queries
    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise
            self._reset()
        except sqlite3.DatabaseError:
            self._reset()
        self._refresh(True, None, None)
        return self._conn.execute(sql, params).fetchall()

    def notes(self, kind: str | None = None, *, operator: str | None = None,
              not_operator: str | None = None, status: str | Sequence[str] | None = None,
              not_status: str | Sequence[str] | None = None, workstream: str | None = None,
              since: str | None = None, limit: int | None = None, order: str = "newest",
              with_metadata: bool = False) -> list[Note]:
        """Notes matching every given filter. `order`: "newest" (date, then sequence) or "path".

        `since` keeps notes whose date is on or after an ISO date. Statuses may be one
        value or several; `not_status` keeps notes without a status too.
        """
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if operator is not None:
            where.append("operator = ?")
            params.append(operator)
        if not_operator is not None:
            where.append("operator IS NOT ?")
            params.append(not_operator)
        for column_values, negate in ((status, False), (not_status, True)):
            if column_values is None:
                continue
            values = [column_values] if isinstance(column_values, str) else list(column_values)
            marks = ", ".join("?" * len(values))
            where.append(f"(status IS NULL OR status NOT IN ({marks}))" if negate else f"status IN ({marks})")
            params.extend(values)
        if workstream is not None:
            where.append("workstream = ?")
            params.append(workstream)
        if since is not None:
            # rank starts with the date, so this is a range of the (kind, rank) index.
            where.append("rank >= ? AND date >= ?")
            params.extend([since, since])
        sql = f"SELECT {_select_list(with_metadata)} FROM {_from(with_metadata)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rank DESC, path DESC" if order == "newest" else " ORDER BY path"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_note(row, with_metadata) for row in self._select(sql, params)]

    def note(self, path: str, *, with_metadata: bool = True) -> Note | None:
        rows = self._select(
            f"SELECT {_select_list(with_metadata)} FROM {_from(with_metadata)} WHERE notes.path = ?", (path,)
        )
        return _note(rows[0], with_metadata) if rows else None

    def sections(self, path: str) -> dict[str, str]:
        """The kept body sections of a note (see SECTIONS), by their canonical names."""
        rows = self._select("SELECT sections FROM docs WHERE path = ?", (path,))
        if not rows or not rows[0][0]:
            return {}
        data: dict[str, str] = json.loads(rows[0][0])
        return data

    def _memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A derived value computed once per state of the store (kept in the `derived` table)."""
        generation = self._meta("generation") or "0"
        rows = self._select("SELECT value FROM derived WHERE key = ? AND generation = ?", (key, generation))
        if rows:
            return json.loads(rows[0][0])
        value = compute()
        # Remembering is optional: never wait for another writer for it.
        self._conn.execute("PRAGMA busy_timeout = 20")
        try:
            with _write(self._conn):
                self._conn.execute("DELETE FROM derived WHERE generation != ?", (generation,))
                self._conn.execute("INSERT OR REPLACE INTO derived VALUES (?, ?, ?)",
                                   (key, generation, json.dumps(value)))
        except sqlite3.OperationalError:
            pass
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return value

    def count(self, kind: str | None = None) -> int:
        counts: dict[str, int] = self._memo("counts", lambda: {
            str(k): n for k, n in self._select("SELECT kind, COUNT(*) FROM notes GROUP BY kind")
        })
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def latest_by(self, column: str, kind: str = "session", *,
                  not_status: Sequence[str] = ("claimed",)) -> dict[str, Note]:
        """The newest note of a kind for each value of `operator` or `workstream`."""
        if column not in ("operator", "workstream"):
            raise ValueError(f"cannot group by {column!r}")
        marks = ", ".join("?" * len(not_status))

        def compute() -> list[list[Any]]:
            # From the covering index (kind, column, rank, status, path); then one lookup of the winners.
            sql = (f"SELECT MAX(rank || ' ' || path) FROM notes WHERE kind = ? AND {column} IS NOT NULL "
                   f"AND (status IS NULL OR status NOT IN ({marks})) GROUP BY {column}")
            paths = [row[0].split(" ", 2)[2] for row in self._select(sql, [kind, *not_status])]
            rows: list[list[Any]] = []
            for start in range(0, len(paths), 500):
                chunk = paths[start: start + 500]
                rows.extend(list(r) for r in self._select(
                    f"SELECT {_select_list(False)} FROM notes WHERE path IN ({', '.join('?' * len(chunk))})", chunk
                ))
            return rows

        index = _NOTE_COLUMNS.index(column)
        rows = self._memo(f"latest_by\0{column}\0{kind}\0{','.join(not_status)}", compute)
        return {row[index]: _note(row, False) for row in rows}

    def counts_by_operator(self, since: str | None = None, kind: str = "session",
                           not_status: Sequence[str] = ("claimed",)) -> dict[str, int]:
        marks = ", ".join("?" * len(not_status))
        sql = (f"SELECT operator, COUNT(*) FROM notes WHERE kind = ? AND operator IS NOT NULL "
               f"AND (status IS NULL OR status NOT IN ({marks}))")
        params: list[Any] = [kind, *not_status]
        if since is not None:
            sql += " AND date >= ?"
            params.append(since)
        key = f"counts_by_operator\0{since}\0{kind}\0{','.join(not_status)}"
        counts: dict[str, int] = self._memo(key, lambda: {
            op: n for op, n in self._select(sql + " GROUP BY operator", params)
        })
        return counts

    def validated(self) -> bool:
        return not self._select("SELECT 1 FROM files WHERE validated = 0 LIMIT 1")

    def file_problems(self) -> list[Problem]:
        """Every stored per-file problem (refresh with validation first)."""
        from lib.store.validate import Problem

        problems = []
        for path, text in self._select(
            "SELECT notes.path, problems FROM notes JOIN docs USING (path) WHERE problem_count > 0"
        ):
            for line, pointer, message in json.loads(text):
                problems.append(Problem(path, line, pointer, message))
        return problems

    def duplicate_ids(self) -> list[tuple[str, str, list[str]]]:
        """(kind, external_id, paths) for every id that more than one note of a kind uses."""
        rows = self._memo("duplicate_ids", lambda: [list(r) for r in self._select(
            "SELECT kind, external_id, GROUP_CONCAT(path, char(10)) FROM notes "
            "WHERE external_id IS NOT NULL AND kind IS NOT NULL GROUP BY kind, external_id HAVING COUNT(*) > 1"
        )])
        return [(k, i, sorted(paths.split("\n"))) for k, i, paths in rows]

    def problem_count(self) -> tuple[int, int]:
        """(problems, files with problems), cross-file ones included."""
        count, files = self._memo("problem_count", self._problem_count)
        return int(count), int(files)

    def _problem_count(self) -> tuple[int, int]:
        count, files = self._select(
            "SELECT COALESCE(SUM(problem_count), 0), COUNT(*) FROM notes WHERE problem_count > 0"
        )[0]
        paths_with = None
        for _kind, _ext, paths in self.duplicate_ids():
            if paths_with is None:
                paths_with = {r[0] for r in self._select("SELECT path FROM notes WHERE problem_count > 0")}
            for path in paths:
                count += 1
                if path not in paths_with:
                    paths_with.add(path)
                    files += 1
        return int(count), int(files)

    def report(self) -> Report:
        """The validator's report over the whole store, served from the index (refresh first)."""
        from lib.store.validate import FileResult, Problem, Report

        files = [FileResult(path, kind, ext_id) for path, kind, ext_id in self._select(
            "SELECT path, kind, external_id FROM notes ORDER BY path"
        )]
        by_path = {f.path: f for f in files}
        for problem in self.file_problems():
            by_path[problem.path].problems.append(problem)
        cross = []
        for _kind, ext_id, paths in self.duplicate_ids():
            for path in paths:
                others = ", ".join(p for p in paths if p != path)
                cross.append(Problem(path, self._id_line(path), "/external_id",
                                     f"duplicate external_id {ext_id!r} (also in {others})"))
        return Report(files=files, cross_problems=cross)

    def _id_line(self, path: str) -> int:
        from lib.store import frontmatter, yamlio

        try:
            parts = frontmatter.split((self.root / path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, frontmatter.FrontmatterError):
            return 1
        found = yamlio.key_line(parts.yaml_text, ["external_id"]) if parts.yaml_text else None
        return found + 1 if found else 1


# ---------------------------------------------------------------- scanning and parsing

def scan(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every note file under the store folders: relpath -> (folder kind, size, mtime_ns, ctime_ns)."""
    found: dict[str, tuple[str, int, int, int]] = {}
    base = str(root)
    for kind, folder in STORE_FOLDERS.items():
        try:
            entries = os.scandir(os.path.join(base, folder))
        except OSError:
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".md") or name in SKIPPED_NAMES:
                    continue
                try:
                    if not entry.is_file():
                        continue
                    st = entry.stat()
                except OSError:
                    continue
                found[f"{folder}/{name}"] = (kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return found


def _signature(seen: dict[str, tuple[str, int, int, int]]) -> str:
    """A digest of every note's path and stat: equal signatures mean no file was added, removed or touched."""
    try:
        from _blake2 import blake2b  # hashlib without OpenSSL's start-up cost
    except ImportError:  # pragma: no cover - other Pythons
        from hashlib import blake2b
    # In scan order, unsorted: a folder listed in another order just costs one full comparison.
    text = "\n".join(f"{p}\0{v[1]}\0{v[2]}\0{v[3]}" for p, v in seen.items())
    return blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _digest(raw: bytes) -> str:
    import hashlib  # ~10 ms to import: only paid when a file is read

    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def parse_file(root: str, item: tuple[str, str, int, int, int], validate: bool) -> Row | None:
    """One row of the notes table for a file (None when it vanished since the scan)."""
    from lib.store import frontmatter

    rel, folder_kind = item[0], item[1]
    verified = time.time_ns()
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem = (1, "", f"cannot read: {exc.strerror or exc}")
        return _row(rel, item, verified, "", folder_kind, {}, None, None, problem[2], [problem])
    digest = _digest(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = (raw[: exc.start].count(b"\n") + 1, "", "not valid UTF-8 text")
        return _row(rel, item, verified, digest, folder_kind, {}, None, None, problem[2], [problem])
    conflicts: list[tuple[int, str, str]] = []
    if "<<<<<<<" in text or ">>>>>>>" in text:
        from lib.store.validate import conflict_problems

        conflicts = [(p.line, p.pointer, p.message) for p in conflict_problems(rel, text)]
    try:
        yaml_text, body = split(text, rel)
        jsonable = _metadata_json(yaml_text, rel)
    except frontmatter.FrontmatterError as exc:
        problem = (exc.line or 1, "", exc.reason)
        return _row(rel, item, verified, digest, folder_kind, {}, None, None, exc.reason, [*conflicts, problem])
    problems: list[tuple[int, str, str]] | None = None
    if validate:
        from lib.store.validate import check_metadata

        metadata = jsonable
        if any(isinstance(jsonable.get(k), str) and _re("timestampish").match(jsonable[k])
               for k in ("kind", "external_id")):
            # Was it a date in the YAML? The validator looks at these two keys' YAML types.
            metadata = frontmatter.parse_metadata(yaml_text, rel)
        checked = check_metadata(rel, yaml_text, metadata, folder_kind, instance=jsonable)
        problems = conflicts + [(p.line, p.pointer, p.message) for p in checked.problems]
    declared = jsonable.get("kind")
    kind = declared if declared in KINDS else folder_kind
    content_hash = _content_hash(jsonable, body)
    return _row(rel, item, verified, digest, kind, jsonable, body, content_hash, None, problems)


def split(text: str, rel: str) -> tuple[str | None, str]:
    """(frontmatter YAML, body) exactly as `frontmatter.split` cuts them, faster for the usual file.

    A file that starts with a bare `---` line and has no CR is cut with one regex search for
    the closing line; anything else (BOM, CRLF, spaces after the opening) goes to the library.
    """
    if text.startswith("---\n") and "\r" not in text:
        closing = _re("closing").search(text, 4)
        if closing is not None:
            return text[4: closing.start()], text[closing.end() + 1:]
    from lib.store import frontmatter

    parts = frontmatter.split(text, rel)
    return parts.yaml_text, parts.body


def _metadata_json(yaml_text: str | None, rel: str) -> dict[str, Any]:
    """The frontmatter as JSON values: `yamlio.jsonable(frontmatter.parse_metadata(...))`, errors included."""
    from lib.store import frontmatter, yamlio

    if yaml_text is None or not yaml_text.strip():
        return {}
    try:
        data = yamlio.load_jsonable(yaml_text)
    except yamlio.YAMLLoadError as exc:
        line = exc.line + 1 if exc.line else None  # +1: the opening delimiter
        raise frontmatter.FrontmatterError(rel, f"invalid YAML: {exc}", line=line) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        frontmatter.parse_metadata(yaml_text, rel)  # raises the library's own wording
        raise frontmatter.FrontmatterError(rel, "frontmatter must be a mapping", line=2)
    return data


class _NotCanonical(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _NotCanonical


def _content_hash(jsonable: dict[str, Any], body: str) -> str | None:
    """lib.store.frontmatter.content_hash, computed from the JSON form the index has already made."""
    from lib.store import frontmatter

    sync = frontmatter.SYNC_KEYS
    try:
        meta_json = json.dumps({k: v for k, v in jsonable.items() if k not in sync}, sort_keys=True,
                               ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_refuse)
    except (_NotCanonical, ValueError):  # a value with no JSON form (a set; NaN): no canonical hash
        return None
    import hashlib

    body_lf = body.replace("\r\n", "\n").replace("\r", "\n")
    return "sha256:" + hashlib.sha256((meta_json + "\n" + body_lf).encode("utf-8")).hexdigest()


def _row(rel: str, item: tuple[str, str, int, int, int], verified: int, digest: str, kind: str,
         meta: dict[str, Any], body: str | None, content_hash: str | None, error: str | None,
         problems: list[tuple[int, str, str]] | None) -> Row:
    _, _, size, mtime, ctime = item
    ext_id = _text(meta.get("external_id"))
    stem = rel.rpartition("/")[2][:-3]  # a note's path always ends in .md
    person = meta.get("operator") if kind in ("session", "learning") else meta.get("owner")
    sections = _sections(body, kind) if body is not None else {}
    confidence = _text(meta.get("confidence"))
    if confidence is None and sections.get("Resume Prompt"):
        found = _re("confidence").findall(sections["Resume Prompt"])
        confidence = found[-1].lower() if found else None
    date, seq = _date_and_seq(kind, ext_id or stem, meta)
    rank = f"{date or '0000-00-00'} {seq:06d}"
    count = len(problems) if problems is not None else None
    return (
        (rel, size, mtime, ctime, verified, digest, int(problems is not None)),
        (rel, kind, ext_id, _text(person), _text(meta.get("status")), _text(meta.get("outcome")), confidence,
         date, seq, _text(meta.get("title")), _text(meta.get("summary")), _text(meta.get("workstream")),
         _text(meta.get("claimed_at")), content_hash, count, rank),
        (rel, json.dumps(meta, ensure_ascii=False, separators=(",", ":"), default=str),
         json.dumps(sections, ensure_ascii=False, separators=(",", ":")) if sections else None, error,
         json.dumps(problems) if problems is not None else None),
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _date_and_seq(kind: str, ident: str, meta: dict[str, Any]) -> tuple[str | None, int]:
    """A note's date (ISO) and its sequence within the day, from its id and frontmatter.

    `<INITIALS>-YYMMDD-NN` gives both; legacy ids give what they hold (`LOCAL-2026-05-11-1`:
    date and 1, `CONV-30`: 30); the frontmatter's `date` wins over the id's date; else
    the date part of `claimed_at`, `written_at`, `updated` or `created`.
    """
    seq = 0
    id_date: str | None = None
    parsed = sessionid.parse(ident)
    if parsed:
        yymmdd = parsed.yymmdd
        id_date, seq = f"20{yymmdd[:2]}-{yymmdd[2:4]}-{yymmdd[4:]}", parsed.number
    else:
        iso = _re("iso_date").search(ident)
        if iso:
            id_date = iso.group(0)
            rest = ident[iso.end():]
            trailing = _re("trailing_int").search(rest)
            seq = int(trailing.group(1)) if trailing else 0
        else:
            trailing = _re("trailing_int").search(ident)
            seq = int(trailing.group(1)) if trailing else 0
    seq = min(seq, 999_999)
    for key in ("date",) if kind == "session" else ("updated", "date", "created"):
        value = meta.get(key)
        if isinstance(value, str) and _re("iso_date").match(value):
            return value[:10], seq
    if id_date:
        return id_date, seq
    for key in ("claimed_at", "written_at", "ended_at", "updated", "created", "date"):
        value = meta.get(key)
        if isinstance(value, str) and _re("iso_date").match(value):
            return value[:10], seq
    return None, seq


def _sections(body: str, kind: str) -> dict[str, str]:
    wanted = SECTIONS.get(kind)
    if not wanted:
        return {}
    found = markdown.sections(body)
    out: dict[str, str] = {}
    for name in wanted:
        text = found.get(markdown.heading_key(name))
        if text:
            out[name] = text[:SECTION_LIMIT]
    return out


def _parse_chunk(root: str, items: list[tuple[str, str, int, int, int]], validate: bool) -> list[Row]:
    rows = []
    for item in items:
        row = parse_file(root, item, validate)
        if row is not None:
            rows.append(row)
    return rows


def _parse_parallel(root: str, items: list[tuple[str, str, int, int, int]], validate: bool,
                    jobs: int) -> list[Row]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lib.store import schema

    if validate:  # compiled before the fork, so the workers inherit them
        for kind in KINDS:
            schema.fast_check(kind)
    context: Any
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        context = multiprocessing.get_context()
    # Small chunks; the workers take them from the front while this process, instead of waiting,
    # takes the ones no worker has started from the back (a cancelled future is ours to run).
    size = max(25, min(400, len(items) // (jobs * 8)))
    chunks = [items[i: i + size] for i in range(0, len(items), size)]
    results: list[list[Row] | None] = [None] * len(chunks)
    with ProcessPoolExecutor(max_workers=max(1, jobs - 1), mp_context=context) as pool:
        futures = [pool.submit(_parse_chunk, root, chunk, validate) for chunk in chunks]
        for i in range(len(chunks) - 1, -1, -1):
            if futures[i].cancel():
                results[i] = _parse_chunk(root, chunks[i], validate)
        rows: list[Row] = []
        for done, future in zip(results, futures, strict=True):
            rows.extend(done if done is not None else future.result())
        return rows


def _select_list(with_metadata: bool) -> str:
    columns = ", ".join(f"notes.{c}" for c in _NOTE_COLUMNS)
    return columns + ", docs.metadata" if with_metadata else columns


def _from(with_metadata: bool) -> str:
    return "notes JOIN docs USING (path)" if with_metadata else "notes"


def _note(row: Sequence[Any], with_metadata: bool) -> Note:
    values = list(row[: len(_NOTE_COLUMNS)])
    values.append(json.loads(row[len(_NOTE_COLUMNS)]) if with_metadata else None)
    return Note(*values)


@contextlib.contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_readonly(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text
