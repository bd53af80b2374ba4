"""The store index's SQLite file: where it lives, its tables, and opening it whatever state it is in.

The file is `.claude/state/index.sqlite` (machine-local, gitignored, always safe to
delete). Opening it checks the table format and a fingerprint of the code that wrote
its rows (a change to the parsing or validation code or to the schemas rebuilds it); a
corrupt or foreign file is deleted and made again without a word; when the state folder
cannot hold it, an in-memory database is used (correct, just cold every time).
`lib.store.index.Index` keeps the rows fresh; this module only holds the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from lib.core.paths import STATE_DIR
from lib.store.rows import TEXT_COLUMNS

INDEX_FILE = "index.sqlite"
# Bump when the table layout or what a row means changes.
FORMAT = 5
BUSY_TIMEOUT_S = 30.0

# The code and data whose change makes cached rows stale.
_CODE_FILES = (
    "store/index.py",
    "store/cachefile.py",
    "store/rows.py",
    "store/frontmatter.py",
    "store/yamlio.py",
    "store/validate.py",
    "store/schema.py",
    "core/paths.py",
)

# Four tables, so a refresh reads only the small `files` rows and queries only `notes`: files (the
# freshness key), notes (queryable fields), docs (metadata JSON, body sections, problems) and fts (the
# full text, an FTS5 table whose rowid is the docs row's, so a changed note's old text is found by key).
NOTE_TABLES = ("files", "notes", "docs")
_TABLES = (*NOTE_TABLES, "derived", "fts")
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
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5({", ".join(TEXT_COLUMNS)}, tokenize='unicode61 remove_diacritics 2');
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


class IndexUnavailable(Exception):
    """Base of the index's own signals (not user errors)."""


class IndexCold(IndexUnavailable):
    """The cache does not exist yet (or was never completed) and the caller asked not to build it."""


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


MMAP_BYTES = 256 * 1024 * 1024


class CacheFile:
    """The open SQLite file of the index under `root` (see lib.store.index.Index).

    `create=False` refuses to start a cache that does not exist (raises IndexCold).
    """

    def __init__(self, root: Path, *, create: bool = True, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.root = Path(root).resolve()
        self.path = index_path(self.root)
        self.busy_timeout = busy_timeout
        self.in_memory = False
        self.rebuilt = False
        if not create and not self.path.is_file():
            raise IndexCold(f"no index at {self.path}")
        self._conn = self._open()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def _connect(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None)
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-32000")  # 32 MB: a cold build inserts ~10 MB per 10,000 notes
            # Reads map the file instead of copying each page in: a one-shot search's first queries
            # touch hundreds of pages, which the page cache already holds.
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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
                if is_busy(exc) or is_readonly(exc):
                    if conn is not None:
                        conn.close()
                    if is_busy(exc):
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
                f"INSERT OR IGNORE INTO meta VALUES ('code', '{sql_text(fingerprint)}');\nCOMMIT;"
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


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def bump_generation(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")


def sql_text(value: str) -> str:
    return value.replace("'", "''")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def is_readonly(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def is_query_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return text.startswith("fts5:") or "syntax error" in text or "unterminated string" in text \
        or "no such column" in text or "unknown special query" in text
