"""One stat of every note: the store index's freshness check, and its signature.

`listing` names every note file; the list is cut into chunks and `stat_chunk` stats one
chunk, marshalled. `Scan` is one pass over all chunks with its signature (a digest of every
path and stat, chunk by chunk: equal signatures mean no file was added, removed or touched),
which lets a warm refresh skip comparing 10,000 rows one by one. Chunks let two processes
share the stats (lib.store.prescan) and still sign exactly what one process would.

This is the warm path of every search and dashboard, so it imports only built-in modules
and lib.core.layout.
"""

from __future__ import annotations

import marshal
import os
import time

from lib.core.layout import SKIPPED_NAMES, STORE_FOLDERS

# A scanned file: relative path -> (folder kind, size, mtime_ns, ctime_ns).
Files = dict[str, tuple[str, int, int, int]]
# A listed note file: (relative path, folder kind).
Entry = tuple[str, str]

# marshal's format 4 is stable within a Python version; another Python gives another signature,
# which costs one full comparison and is then stable again.
_MARSHAL_VERSION = 4
# Chunks are handed out one byte each (lib.store.prescan), so there are at most 255 of them.
MAX_CHUNKS = 255
MIN_CHUNK = 128


def listing(root: str | os.PathLike[str]) -> list[Entry]:
    """Every file in the store folders that may be a note, in directory order."""
    found: list[Entry] = []
    base = os.fspath(root)
    for kind, folder in STORE_FOLDERS.items():
        try:
            names = os.listdir(os.path.join(base, folder))
        except OSError:
            continue
        prefix = folder + "/"
        found.extend((prefix + name, kind) for name in names if name[-3:] == ".md" and name not in SKIPPED_NAMES)
    return found


def chunks(entries: list[Entry]) -> list[list[Entry]]:
    """`entries` cut into at most MAX_CHUNKS runs: the same cut for the same listing, in every process."""
    size = max(MIN_CHUNK, -(-len(entries) // MAX_CHUNKS))
    return [entries[i:i + size] for i in range(0, len(entries), size)]


def stat_chunk(root: str | os.PathLike[str], entries: list[Entry]) -> tuple[int, bytes]:
    """(how many are regular files, those files marshalled as Files)."""
    # As little Python around each stat as can be: the type comes from the stat itself, which
    # follows a symlink as DirEntry.is_file() would (the index then refuses to read through it).
    found: Files = {}
    base = os.path.join(os.fspath(root), "")
    stat = os.stat
    for rel, kind in entries:
        try:
            st = stat(base + rel)
        except OSError:
            continue
        if st.st_mode & 0o170000 == 0o100000:  # S_ISREG, without importing stat
            found[rel] = (kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return len(found), marshal.dumps(found, _MARSHAL_VERSION)


def sign(encoded: bytes) -> str:
    """The signature of a scan from its chunks' marshalled files, in chunk order."""
    try:
        from _blake2 import blake2b  # hashlib without OpenSSL's start-up cost
    except ImportError:  # pragma: no cover - other Pythons
        from hashlib import blake2b
    return blake2b(encoded, digest_size=16).hexdigest()


class Scan:
    """One pass over every chunk: when it started, its signature, how many notes, and the files.

    The files are kept marshalled, chunk by chunk, and decoded on first use: a warm refresh
    whose signature matches reads only its few racily-clean files, if any.
    """

    __slots__ = ("_files", "_parts", "count", "signature", "started_ns")

    def __init__(self, started_ns: int, parts: list[tuple[int, bytes]]) -> None:
        self.started_ns = started_ns
        self.count = sum(n for n, _ in parts)
        self.signature = sign(b"".join(p for _, p in parts))
        self._parts = parts
        self._files: Files | None = None

    @property
    def files(self) -> Files:
        if self._files is None:
            files: Files = {}
            for _, encoded in self._parts:
                files.update(marshal.loads(encoded))
            self._files = files
        return self._files


def take(root: str | os.PathLike[str]) -> Scan:
    """Scan `root` now, in this process."""
    started = time.time_ns()
    return Scan(started, [stat_chunk(root, chunk) for chunk in chunks(listing(root))])
