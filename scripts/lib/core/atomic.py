"""Atomic file writes: temp file in the same folder, fsync, os.replace.

A reader never sees a half-written file, and a crash leaves either the old or the
new content. Writers that can race also take a lock (see `locked`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def write_bytes(path: Path, data: bytes, *, mode: int | None = None, tag: str = "") -> None:
    """Replace `path` with `data` atomically (temp + fsync + os.replace).

    The temp file is `.<name>.<tag><random>.tmp` beside `path`: a writer that can be killed
    tags its temp files so that it can later sweep its own, and no one else's.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    import tempfile  # here, not at import: the id claim uses fsync_dir and counts every millisecond

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{tag}", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def write_text(path: Path, text: str, *, mode: int | None = None, tag: str = "") -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode, tag=tag)


def fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed.
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def locked(lock_path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive inter-process lock on `lock_path` (created if missing)."""
    # Imported here: filelock costs more to import than a whole atomic write, and
    # most callers (e.g. `session.py claim`) never lock.
    from filelock import FileLock

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path), timeout=timeout):
        yield
