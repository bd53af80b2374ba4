"""One stat of every note: the store index's freshness check, and its signature.

`listing` names every note file, folder by folder, and `stat_folder` stats one folder's,
marshalled. `Scan` is one pass over every folder with its signature (a digest of every path
and stat: equal signatures mean no file was added, removed or touched), which lets a warm
refresh skip comparing 10,000 rows one by one; the files are decoded only when a refresh
needs them.

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
# One folder's note files: (folder kind, folder, names).
Folder = tuple[str, str, list[str]]

# marshal's format 4 is stable within a Python version; another Python gives another signature,
# which costs one full comparison and is then stable again.
_MARSHAL_VERSION = 4
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


def listing(root: str | os.PathLike[str]) -> list[Folder]:
    """Every file in the store folders that may be a note, folder by folder, in directory order."""
    found: list[Folder] = []
    base = os.fspath(root)
    for kind, folder in STORE_FOLDERS.items():
        try:
            names = os.listdir(os.path.join(base, folder))
        except OSError:
            continue
        found.append((kind, folder, [n for n in names if n[-3:] == ".md" and n not in SKIPPED_NAMES]))
    return found


def stat_folder(root: str | os.PathLike[str], listed: Folder) -> tuple[int, bytes]:
    """(how many of a folder's listed files are regular files, the folder marshalled as
    (kind, folder, {name: (size, mtime_ns, ctime_ns)}))."""
    kind, folder, names = listed
    found: dict[str, tuple[int, int, int]] = {}
    try:
        # Stat by name in the folder: no path to build and walk per file.
        fd = os.open(os.path.join(os.fspath(root), folder), _DIRECTORY)
    except OSError:
        return 0, marshal.dumps((kind, folder, found), _MARSHAL_VERSION)
    stat = os.stat
    try:
        for name in names:
            try:
                st = stat(name, dir_fd=fd)
            except OSError:
                continue
            # The type comes from the stat, which follows a symlink as DirEntry.is_file() would (the
            # index then refuses to read through it). S_ISREG, without importing stat:
            if st.st_mode & 0o170000 == 0o100000:
                found[name] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    finally:
        os.close(fd)
    return len(found), marshal.dumps((kind, folder, found), _MARSHAL_VERSION)


def sign(encoded: bytes) -> str:
    """The signature of a scan from its folders' marshalled files, in folder order."""
    try:
        from _blake2 import blake2b  # hashlib without OpenSSL's start-up cost
    except ImportError:  # pragma: no cover - other Pythons
        from hashlib import blake2b
    return blake2b(encoded, digest_size=16).hexdigest()


class Scan:
    """One pass over every folder: when it started, its signature, how many notes, and the files.

    The files are kept marshalled, folder by folder, and decoded on first use: a warm refresh
    whose signature matches, with no racily-clean file to re-check, never decodes them. `signature` is given
    when whoever took the scan signed it already (lib.store.prescan's child).
    """

    __slots__ = ("_files", "count", "parts", "signature", "started_ns")

    def __init__(self, started_ns: int, parts: list[tuple[int, bytes]], *, signature: str | None = None) -> None:
        self.started_ns = started_ns
        self.parts = parts
        self.count = sum(n for n, _ in parts)
        self.signature = signature or sign(b"".join(p for _, p in parts))
        self._files: Files | None = None

    @property
    def files(self) -> Files:
        if self._files is None:
            files: Files = {}
            for _, encoded in self.parts:
                kind, folder, found = marshal.loads(encoded)
                prefix = folder + "/"
                for name, (size, mtime, ctime) in found.items():
                    files[prefix + name] = (kind, size, mtime, ctime)
            self._files = files
        return self._files


def take(root: str | os.PathLike[str]) -> Scan:
    """Scan `root` now, in this process."""
    started = time.time_ns()
    return Scan(started, [stat_folder(root, listed) for listed in listing(root)])
