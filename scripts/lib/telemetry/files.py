"""The telemetry state folder's files, opened so that nothing is read or written outside it.

A repository can carry a symlink anywhere, `.claude/state/` included: one committed by a
teammate (or planted by a hostile clone) would otherwise make the hook append tool output to,
or truncate, any file its user can write. So:

- the folder (and `.claude` above it) must be a real folder, checked with lstat before anything
  is created or written in it (`check_state_dir`);
- every open passes O_NOFOLLOW, so a symlinked file in the folder is refused, never followed
  (`SymlinkRefused`); temp files are created with O_EXCL as well;
- renames and unlinks act on the directory entry itself, so they need no check.

Standard library only and valid Python 3.8, like the rest of lib.telemetry: it runs on every
tool call.
"""

from __future__ import annotations

import time

try:
    import posix as _os  # see lib.telemetry.state: `import os` costs start-up time
except ImportError:  # not a POSIX system
    import os as _os  # type: ignore[no-redef,unused-ignore]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

STATE_DIR = ".claude/state"
ERROR_LOG = "hook-errors.log"
ERROR_LOG_MAX_BYTES = 256 * 1024
_NOFOLLOW = getattr(_os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(_os, "O_CLOEXEC", 0)
_S_IFMT = 0o170000
_S_IFLNK = 0o120000


class SymlinkRefused(OSError):
    """A symlink where the state folder or one of its files should be."""


def join(folder: str, name: str) -> str:
    """os.path.join for a folder and a relative name, without importing os."""
    return folder.rstrip("/") + "/" + name if folder else name


def exists(path: str) -> bool:
    try:
        _os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def makedirs(path: str) -> None:
    """os.makedirs(path, exist_ok=True) without importing os. A file in the way is left for
    the caller's next open to report."""
    try:
        _os.mkdir(path, 0o777)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = path.rstrip("/").rpartition("/")[0]
        if not parent:
            raise
        makedirs(parent)
        try:
            _os.mkdir(path, 0o777)
        except FileExistsError:
            pass


def unsafe_state_dir(state_dir: str) -> Optional[str]:
    """Why the state folder must not be used, or None.

    The folder itself and, for the usual `<root>/.claude/state`, the `.claude` folder above it
    must not be symlinks (a missing one is created as a real folder; a file in the way is left
    for the open to report). The root above is the user's own choice of project folder and may
    be reached through symlinks.
    """
    folder = state_dir.rstrip("/") or "/"
    checks = [folder]
    if folder == STATE_DIR or folder.endswith("/" + STATE_DIR):
        checks.insert(0, folder[: -len("/state")])
    for path in checks:
        try:
            mode = _os.lstat(path).st_mode & _S_IFMT
        except (OSError, ValueError):
            continue  # missing (created later as a real folder) or unreadable (the open reports it)
        if mode == _S_IFLNK:
            return path + " is a symlink; baton does not follow symlinks in its state folder"
    return None


def check_state_dir(state_dir: str) -> None:
    problem = unsafe_state_dir(state_dir)
    if problem is not None:
        raise SymlinkRefused(problem)


def open_nofollow(path: str, flags: int, mode: int = 0o644) -> int:
    """os.open with O_NOFOLLOW: a symlink at `path` raises SymlinkRefused, naming the file."""
    try:
        return _os.open(path, flags | _NOFOLLOW | _CLOEXEC, mode)
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(path + " is a symlink; baton does not follow symlinks in its state folder") from None
        raise


def read_bytes(path: str, offset: int = 0) -> bytes:
    """The file's bytes from `offset` on, never through a symlink."""
    fd = open_nofollow(path, _os.O_RDONLY)
    try:
        if offset:
            _os.lseek(fd, offset, 0)
        chunks = []
        while True:
            chunk = _os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        _os.close(fd)


def append_bytes(path: str, data: bytes) -> None:
    # One write with O_APPEND: cheaper than a read-modify-write, and callers hold the state's lock.
    fd = open_nofollow(path, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT)
    try:
        _os.write(fd, data)
    finally:
        _os.close(fd)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Unique temp name (`<path>.<pid>.<ns>.tmp`), fsync, os.replace; temp removed on failure."""
    tmp = path + "." + str(_os.getpid()) + "." + str(time.time_ns()) + ".tmp"
    fd = open_nofollow(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[_os.write(fd, view):]
            _os.fsync(fd)
        finally:
            _os.close(fd)
        _os.replace(tmp, path)  # replaces a symlink at `path` itself, never its target
    except BaseException:
        try:
            _os.unlink(tmp)
        except OSError:
            pass
        raise


def log_error(state_dir: str, message: str, stderr: Any = None, echo: bool = False) -> None:
    """Append one line to hook-errors.log (rotated at ERROR_LOG_MAX_BYTES); never raises.

    When the log cannot be written (or `echo` asks for it) the line goes to stderr, which
    Claude Code keeps in its debug output.
    """
    line = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " pid=" + str(_os.getpid()) + " "
            + message.replace("\n", " ") + "\n")
    path = join(state_dir, ERROR_LOG)
    written = False
    why = ""
    try:
        check_state_dir(state_dir)
        try:
            if _os.lstat(path).st_size > ERROR_LOG_MAX_BYTES:
                _os.replace(path, path + ".1")
        except FileNotFoundError:
            pass
        flags = _os.O_WRONLY | _os.O_CREAT | _os.O_APPEND
        try:
            fd = open_nofollow(path, flags)
        except FileNotFoundError:
            makedirs(state_dir)
            fd = open_nofollow(path, flags)
        try:
            _os.write(fd, line.encode("utf-8", "replace"))
        finally:
            _os.close(fd)
        written = True
    except SymlinkRefused as exc:
        why = str(exc) + "; "
    except Exception:
        pass
    if written and not echo:
        return
    try:
        if stderr is None:
            import sys

            stderr = sys.stderr
        stderr.write("baton telemetry hook: " + why + line)
    except Exception:
        pass


class FileLock:
    """flock(LOCK_EX) on a separate lock file, released when the descriptor closes.

    Taking the lock checks the folder first: every write to the state folder happens under a
    lock, so a symlinked folder is refused before anything is created in it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> FileLock:
        import fcntl

        folder = self.path.rpartition("/")[0]
        check_state_dir(folder)
        flags = _os.O_RDWR | _os.O_CREAT
        try:
            self.fd = open_nofollow(self.path, flags)
        except FileNotFoundError:
            makedirs(folder)
            self.fd = open_nofollow(self.path, flags)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            _os.close(self.fd)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _os.close(self.fd)  # closing drops the flock
