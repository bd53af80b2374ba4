"""One `claude` process: its own process group, its stream read as it arrives, our own limits.

`--max-turns` is not a hard stop in Claude Code, so the runner keeps a
wall-clock limit per session and kills the whole process group when it is
reached (a session's tools may have started children of their own). Silence
longer than the stall limit is a stall; `api_retry` lines are output, so a CLI
retrying an API error is alive — unless the error it retries is fatal, which
ends the session early.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lib.chains.stream import StreamReader, StreamSummary
from lib.chains.verdicts import KilledBy, fatal_retry_reason
from lib.core.process import proc_stat

_POLL_S = 0.05


@dataclass
class Limits:
    stall_s: float
    wall_clock_s: float
    kill_grace_s: float


@dataclass
class ProcessOutcome:
    summary: StreamSummary
    returncode: int | None = None
    killed_by: KilledBy | None = None
    spawn_error: str | None = None
    # the binary is missing or not executable (vs. another failure to start, e.g. arguments too long)
    spawn_missing: bool = False
    fatal_retry: str | None = None
    stderr_tail: str = ""
    pid: int | None = None
    duration_s: float = 0.0
    events: int = field(default=0)


def run_claude(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    limits: Limits,
    stream_path: Path,
    stderr_path: Path,
    should_stop: Callable[[], bool],
    on_spawn: Callable[[int], None] | None = None,
    stdin_path: Path | None = None,
) -> ProcessOutcome:
    """Run one claude command to its end (or ours); never raises for the process's own failures.

    The prompt is read by `claude -p` from `stdin_path`: text on standard input is never parsed
    as an option, whatever it starts with, and is not bound by the kernel's cap on one argument.
    """
    reader = StreamReader()
    outcome = ProcessOutcome(summary=reader.summary)
    stream_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(stream_path, "ab") as stream_log, open(stderr_path, "ab") as stderr_log, \
            (open(stdin_path, "rb") if stdin_path is not None else open(os.devnull, "rb")) as stdin:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                stderr=stderr_log, start_new_session=True,
            )
        except OSError as exc:
            outcome.spawn_error = f"cannot run {argv[0]}: {exc.strerror or exc}"
            outcome.spawn_missing = isinstance(exc, (FileNotFoundError, PermissionError, NotADirectoryError))
            return outcome
        outcome.pid = proc.pid
        if on_spawn is not None:
            on_spawn(proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        last_output = started
        try:
            while True:
                now = time.monotonic()
                if should_stop():
                    outcome.killed_by = "stop"
                    break
                if now - started >= limits.wall_clock_s:
                    outcome.killed_by = "wall_clock"
                    break
                if now - last_output >= limits.stall_s:
                    outcome.killed_by = "stall"
                    break
                wait = min(_POLL_S, limits.wall_clock_s - (now - started), limits.stall_s - (now - last_output))
                if not selector.select(max(wait, 0.0)):
                    # Exited with nothing left to read, though a child may keep the pipe open.
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                last_output = time.monotonic()
                stream_log.write(data)
                stream_log.flush()
                for event in reader.feed(data):
                    outcome.events += 1
                    if event.get("type") == "system" and event.get("subtype") == "api_retry":
                        reason = fatal_retry_reason(event)
                        if reason is not None:
                            outcome.fatal_retry = reason
                            outcome.killed_by = "fatal_retry"
                            break
                if outcome.killed_by is not None:
                    break
            reader.close()
            if outcome.killed_by is None:
                # stdout closed: the process is ending; it still gets the rest of its wall-clock time.
                outcome.returncode = _wait(proc, limits.wall_clock_s - (time.monotonic() - started), should_stop)
                if outcome.returncode is None:
                    outcome.killed_by = "stop" if should_stop() else "wall_clock"
            if outcome.killed_by is not None:
                kill_group(proc.pid, limits.kill_grace_s, proc)
                outcome.returncode = proc.wait()
            else:
                # Whatever the session left running in its group goes with it.
                kill_group(proc.pid, limits.kill_grace_s, None)
        finally:
            selector.close()
            proc.stdout.close()
            if proc.poll() is None:
                kill_group(proc.pid, 0, proc)
                proc.wait()
    outcome.duration_s = time.monotonic() - started
    outcome.stderr_tail = _tail(stderr_path)
    return outcome


def _wait(proc: subprocess.Popen[bytes], timeout: float, should_stop: Callable[[], bool]) -> int | None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        code = proc.poll()
        if code is not None:
            return code
        if time.monotonic() >= deadline or should_stop():
            return None
        time.sleep(_POLL_S)


def kill_group(pgid: int, grace_s: float, proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group, give it `grace_s`, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        if not group_alive(pgid):
            return
        time.sleep(_POLL_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    members = _group_members(pgid)
    if members is None:
        return True  # no /proc: trust the signal probe
    return any(state != "Z" for state in members.values())


def _group_members(pgid: int) -> dict[int, str] | None:
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members: dict[int, str] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is not None and stat[1] == pgid:
            members[int(entry.name)] = stat[0]
    return members


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(size - limit, 0))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
