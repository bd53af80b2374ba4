"""The store scan of a one-shot CLI, taken by a forked child while the CLI starts up.

A warm search is two pieces of work of about the same size that do not depend on each
other: Python importing what the command needs (argparse, sqlite3, the index), and one
stat of every note (the index's freshness check, lib.store.scan). Threads cannot overlap
them (the stat loop holds the GIL between system calls), so a CLI on that hot path calls
`start(argv)` before its imports: a child forks, scans exactly as `scan.take` does and hands
the result back through a pipe, while the parent imports and parses its arguments; then
`Prescan.result` waits for it.

The root is guessed the way the CLI will find it (`--root`, $CLAUDE_PROJECT_DIR, else the
nearest folder holding `.git`); the parent uses the scan only if the guess is the root it
settled on, and scans itself otherwise, or when there is no fork, or when the child failed.
Nothing beyond built-in modules is imported before the fork.
"""

from __future__ import annotations

import marshal
import os

_SIGKILL = 9  # signal.SIGKILL on every POSIX system; the signal module imports enum (a start-up's worth)
TYPE_CHECKING = False  # importing typing costs a start-up more than the child can spare
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from lib.store.scan import Scan


def root_guess(argv: Sequence[str], environ: Mapping[str, str] = os.environ, cwd: str | None = None) -> str | None:
    """The repository root a CLI given `argv` will most likely settle on, or None."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--root" and i + 1 < len(argv):
            return os.path.realpath(argv[i + 1])
        if arg.startswith("--root="):
            return os.path.realpath(arg[len("--root="):])
    told = environ.get("CLAUDE_PROJECT_DIR")
    if told:
        return os.path.realpath(told)
    here = os.path.realpath(cwd or os.getcwd())
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


class Prescan:
    """A scan running in a child process; `result` waits for it."""

    def __init__(self, root: str, pid: int, fd: int) -> None:
        self.root = root
        self.pid: int | None = pid
        self._fd: int | None = fd

    def result(self, root: str | os.PathLike[str]) -> Scan | None:
        """The child's scan when it scanned `root` and finished; None means: scan yourself."""
        from lib.store.scan import Scan

        if os.path.realpath(root) != self.root:
            self.close()
            return None
        data = self._collect()
        if not data:
            return None
        try:
            started, signature, parts = marshal.loads(data)
            return Scan(started, parts, signature=signature)
        except (EOFError, ValueError, TypeError):
            return None

    def close(self) -> None:
        """End the child now: its scan is of no use."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.pid is not None:
            try:
                os.kill(self.pid, _SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def _collect(self) -> bytes:
        if self._fd is None:
            return b""
        chunks = []
        try:
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            os.close(self._fd)
            self._fd = None
        return b"".join(chunks) if self._reap() == 0 else b""

    def _reap(self) -> int:
        if self.pid is None:
            return -1
        pid, self.pid = self.pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return -1
        return os.waitstatus_to_exitcode(status)


def start(argv: Sequence[str]) -> Prescan | None:
    """Fork a child that scans the store this CLI will most likely read; None when it cannot."""
    fork = getattr(os, "fork", None)
    root = root_guess(argv)
    if fork is None or root is None or "-h" in argv or "--help" in argv:
        return None
    read_end, write_end = os.pipe()
    try:
        pid = fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: scan, write, leave without running any of the parent's exit handlers
        code = 1
        try:
            import gc

            # No collection in a child that lives 20 ms and makes no cycles: a collection here walks
            # every object inherited from the parent, copying its pages (~10% of the scan).
            gc.disable()
            os.close(read_end)
            from lib.store.scan import take

            done = take(root)
            data = marshal.dumps((done.started_ns, done.signature, done.parts))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            code = 0
        except BaseException:  # a failed prescan only means the parent scans itself
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return Prescan(root, pid, read_end)
