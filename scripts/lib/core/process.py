"""Whether a process on this machine is alive, and what the kernel says of it (/proc on Linux).

One answer for every caller: a zombie (exited, not yet reaped) counts as gone, and a process
we may not signal (another user's) as alive.
"""

from __future__ import annotations

import os
from pathlib import Path


def proc_stat(pid: int) -> tuple[str, int, str] | None:
    """(state, pgid, starttime) from /proc/<pid>/stat, or None without /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    rest = raw[raw.rfind(")") + 2:].split()
    try:
        return rest[0], int(rest[2]), rest[19]
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = proc_stat(pid)
    return state is None or state[0] != "Z"


def proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), to tell it from a later process with the same pid."""
    state = proc_stat(pid)
    return state[2] if state else None
