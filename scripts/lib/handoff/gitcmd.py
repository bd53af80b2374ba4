"""Running git for the handoff: retries on a busy index, and push/fetch failures told apart.

The git command line (not GitPython) is used for everything that writes: it is what the
user's hooks and config expect, and `git commit --only` has no GitPython equivalent.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lib.core.errors import BatonError


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_line(self) -> str:
        lines = [ln.strip() for ln in (self.stderr or self.stdout).splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit {self.returncode}"


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    # A handoff may run unattended: a credential prompt must fail, not hang.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GCM_INTERACTIVE", "never")
    return env


def run(root: Path, *args: str, timeout: float | None = None, input: str | None = None) -> GitResult:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, env=git_env(), capture_output=True, text=True,
            timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise BatonError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        return GitResult(124, "", f"git {args[0]} timed out after {timeout:g} s")
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def is_index_busy(result: GitResult) -> bool:
    text = result.stderr
    return "index.lock" in text and ("File exists" in text or "Unable to create" in text)


def run_retrying(root: Path, *args: str, attempts: int, base_s: float) -> GitResult:
    """Run a git command that takes the index lock, retrying while another git process holds it."""
    result = run(root, *args)
    for attempt in range(1, attempts):
        if result.ok or not is_index_busy(result):
            return result
        time.sleep(base_s * min(2 ** (attempt - 1), 16))
        result = run(root, *args)
    return result


def check(root: Path, *args: str) -> str:
    """stdout of a git command that must succeed; a one-line BatonError otherwise."""
    result = run(root, *args)
    if not result.ok:
        raise BatonError(f"git {args[0]} failed: {result.last_line()}")
    return result.stdout


# ----------------------------------------------------------------- remote failures

NO_REMOTE = "no_remote"
NON_FAST_FORWARD = "non_fast_forward"
AUTHENTICATION = "authentication"
DETACHED_HEAD = "detached_head"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
OTHER = "other"

_AUTH_SIGNS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied (publickey",
    "access denied",
    "invalid username or password",
    "invalid credentials",
    "http basic: access denied",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "support for password authentication was removed",
)
# Two pushes reaching the remote at the same moment: the loser's ref update finds the branch moved.
_LOST_RACE_SIGNS = (
    "cannot lock ref",
    "failed to update ref",
    "but expected",
    "incorrect old value provided",
)
_UNREACHABLE_SIGNS = (
    "could not resolve host",
    "connection refused",
    "connection timed out",
    "network is unreachable",
    "does not appear to be a git repository",
    "repository not found",
    "could not read from remote repository",
)


def classify_remote_failure(result: GitResult) -> str:
    """Which of the push/fetch failure modes a failed git command is."""
    text = (result.stderr + "\n" + result.stdout).lower()
    if result.returncode == 124 and "timed out" in text:
        return TIMEOUT
    if "[rejected]" in text and ("non-fast-forward" in text or "fetch first" in text):
        return NON_FAST_FORWARD
    if "updates were rejected" in text:
        return NON_FAST_FORWARD
    if any(sign in text for sign in _LOST_RACE_SIGNS):
        return NON_FAST_FORWARD
    if any(sign in text for sign in _AUTH_SIGNS):
        return AUTHENTICATION
    if any(sign in text for sign in _UNREACHABLE_SIGNS):
        return UNREACHABLE
    return OTHER
