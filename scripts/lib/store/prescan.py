"""The store scan of a one-shot CLI, shared with a forked child while the CLI starts up.

A warm search is two pieces of work of about the same size that do not depend on each
other: Python importing what the command needs (argparse, sqlite3, the index), and one
stat of every note (the index's freshness check, lib.store.scan). Threads cannot overlap
them (the stat loop holds the GIL between system calls), so a CLI on that hot path calls
`start(argv)` before its imports. It lists the store and forks; the child stats chunks of
the listing while the parent imports and parses its arguments; then `Prescan.result` has
the parent stat whatever chunks are left, collect the child's, and return one Scan, signed
exactly as a scan in one process would be. Chunks are handed out through a pipe holding one
byte per chunk: a read takes a chunk, so neither process ever waits for the other's work.

The root is guessed the way the CLI will find it (`--root`, $CLAUDE_PROJECT_DIR, else the
nearest folder holding `.git`); the parent uses the scan only if the guess is the root it
settled on. Where there is no fork, or the child fails, the parent stats what is missing
itself. Nothing beyond built-in modules is imported before the fork.
"""

from __future__ import annotations

import marshal
import os

from lib.store import scan

TYPE_CHECKING = False  # importing typing costs a start-up more than the child can spare
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


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
    """A scan shared with a child process; `result` finishes it."""

    def __init__(self, root: str, started_ns: int, chunks: list[list[scan.Entry]], tokens: int,
                 results: int | None, pid: int | None) -> None:
        self.root = root
        self.started_ns = started_ns
        self.chunks = chunks
        self._tokens: int | None = tokens
        self._results = results
        self.pid = pid

    def result(self, root: str | os.PathLike[str]) -> scan.Scan | None:
        """The scan of `root`, finished here; None when the child scanned another root (scan yourself)."""
        if os.path.realpath(root) != self.root:
            self.close()
            return None
        parts = _work(self.root, self.chunks, self._tokens) if self._tokens is not None else {}
        self._close_tokens()
        parts.update(self._collect())
        for i, chunk in enumerate(self.chunks):
            if i not in parts:  # the child stopped early: its chunks are done here
                parts[i] = scan.stat_chunk(self.root, chunk)
        return scan.Scan(self.started_ns, [parts[i] for i in range(len(self.chunks))])

    def close(self) -> None:
        """Give up on the child's work (it ends on its own once it finds nobody reading)."""
        self._close_tokens()
        if self._results is not None:
            os.close(self._results)
            self._results = None
        self._reap()

    def _close_tokens(self) -> None:
        if self._tokens is not None:
            os.close(self._tokens)
            self._tokens = None

    def _collect(self) -> dict[int, tuple[int, bytes]]:
        if self._results is None:
            return {}
        data = []
        try:
            while True:
                chunk = os.read(self._results, 1 << 20)
                if not chunk:
                    break
                data.append(chunk)
        except OSError:
            data = []
        finally:
            os.close(self._results)
            self._results = None
        ok = self._reap() == 0
        try:
            parts = marshal.loads(b"".join(data)) if ok and data else {}
        except (EOFError, ValueError, TypeError):
            return {}
        return parts if isinstance(parts, dict) else {}

    def _reap(self) -> int:
        if self.pid is None:
            return -1
        pid, self.pid = self.pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return -1
        return os.waitstatus_to_exitcode(status)


def _work(root: str, chunks: list[list[scan.Entry]], tokens: int) -> dict[int, tuple[int, bytes]]:
    """Stat the chunks whose byte this process reads from the token pipe, until it is empty."""
    done: dict[int, tuple[int, bytes]] = {}
    while True:
        token = os.read(tokens, 1)
        if not token:
            return done
        done[token[0]] = scan.stat_chunk(root, chunks[token[0]])


def start(argv: Sequence[str]) -> Prescan | None:
    """List the store this CLI will most likely read and fork a child that stats it; None when there is
    nothing to guess or list."""
    root = root_guess(argv)
    if root is None or "-h" in argv or "--help" in argv:
        return None
    import time

    started = time.time_ns()
    chunks = scan.chunks(scan.listing(root))
    tokens_read, tokens_write = os.pipe()
    os.write(tokens_write, bytes(range(len(chunks))))  # at most 255 bytes: a pipe holds them all
    os.close(tokens_write)
    fork = getattr(os, "fork", None)
    if fork is None or len(chunks) < 2:
        return Prescan(root, started, chunks, tokens_read, None, None)
    results_read, results_write = os.pipe()
    try:
        pid = fork()
    except OSError:
        os.close(results_read)
        os.close(results_write)
        return Prescan(root, started, chunks, tokens_read, None, None)
    if pid == 0:  # the child: stat chunks, hand them over, leave without the parent's exit handlers
        code = 1
        try:
            os.close(results_read)
            data = marshal.dumps(_work(root, chunks, tokens_read))
            with os.fdopen(results_write, "wb") as out:
                out.write(data)
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(results_write)
    return Prescan(root, started, chunks, tokens_read, results_read, pid)
