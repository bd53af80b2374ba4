"""The one way baton runs git: a result type, explicit environments, one rule for where to push.

The git command line (not GitPython) is used for everything that writes: it is what the
user's hooks and config expect, and `git commit --only` has no GitPython equivalent.
GitPython stays only in lib.handoff.gitstats, where walking commits and diffs as objects is
clearer than parsing `git log` output (and it is imported there lazily: it costs ~100 ms).

Environments (`env=`):
- UNATTENDED (default): the caller's environment with every prompt off, so a handoff or a chain
  running with nobody at the keyboard fails instead of waiting for a password.
- HOOK: exactly what git gave us. Inside a git hook git sets GIT_INDEX_FILE (a temporary index
  during `git commit --only`) and GIT_DIR; only the CLI honours them, so they must be kept.
- ELSEWHERE: GIT_* variables removed (pre-commit's `no_git_env`): for running git on another
  repository from inside a hook, where an inherited GIT_DIR would point at the wrong one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.core.errors import BatonError

UNATTENDED = "unattended"
HOOK = "hook"
ELSEWHERE = "elsewhere"
_KEEP_IN_ELSEWHERE = ("GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_SSH", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT")


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


@dataclass(frozen=True)
class GitBytes:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def git_env(mode: str = UNATTENDED, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs in; `extra` (e.g. GIT_INDEX_FILE for a private index) goes on top."""
    env = dict(os.environ)
    if mode == HOOK:
        return {**env, **(extra or {})}
    if mode == ELSEWHERE:
        env = {k: v for k, v in env.items() if not k.startswith("GIT_") or k.startswith(_KEEP_IN_ELSEWHERE)}
    # A handoff may run unattended: a credential prompt must fail, not hang.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GCM_INTERACTIVE", "never")
    return {**env, **(extra or {})}


def run(root: Path | None, *args: str, timeout: float | None = None, input: str | None = None,
        env: str = UNATTENDED, extra_env: Mapping[str, str] | None = None) -> GitResult:
    """git with text output. `root` None runs outside any repository (e.g. `git merge-file`)."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, env=git_env(env, extra_env), capture_output=True, text=True,
            timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise BatonError("git is not installed or not on PATH") from None
    except NotADirectoryError:
        raise BatonError(f"{root}: not a folder") from None
    except subprocess.TimeoutExpired:
        return GitResult(124, "", f"git {args[0]} timed out after {timeout:g} s")
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def run_bytes(root: Path | None, *args: str, input: bytes | None = None, env: str = UNATTENDED,
              timeout: float | None = None, extra_env: Mapping[str, str] | None = None) -> GitBytes:
    """Like `run`, for output that is not text (blobs from `cat-file --batch`)."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, env=git_env(env, extra_env), input=input, capture_output=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise BatonError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        return GitBytes(124, b"", f"git {args[0]} timed out after {timeout:g} s".encode())
    return GitBytes(proc.returncode, proc.stdout, proc.stderr)


def config(root: Path, key: str, env: str = UNATTENDED) -> str | None:
    """A git config value; None when unset, empty, or not in a repository."""
    try:
        result = run(root, "config", "--get", key, env=env)
    except BatonError:
        return None
    value = result.stdout.strip()
    return value if result.ok and value else None


def toplevel(start: Path) -> Path | None:
    try:
        result = run(start, "rev-parse", "--show-toplevel", env=HOOK)
    except BatonError:
        return None
    out = result.stdout.strip()
    return Path(out) if result.ok and out else None


def current_branch(root: Path) -> str | None:
    result = run(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return result.stdout.strip() if result.ok and result.stdout.strip() else None


def push_target(root: Path, branch: str) -> tuple[str, str] | None:
    """Where `branch` is pushed: the one rule every push of baton follows.

    The branch's upstream (remote and its branch name); else `remote.pushDefault`; else
    `origin`; else the only remote; each of the last three with the same branch name.
    None when that leaves no answer (no remote, or several and none chosen): the caller
    says which command sets one.
    """
    remote = config(root, f"branch.{branch}.remote")
    merge = config(root, f"branch.{branch}.merge")
    if remote and remote != ".":
        return remote, (merge or branch).removeprefix("refs/heads/")
    remotes = run(root, "remote").stdout.split()
    chosen = config(root, "remote.pushDefault")
    if chosen and chosen in remotes:
        return chosen, branch
    if "origin" in remotes:
        return "origin", branch
    if len(remotes) == 1:
        return remotes[0], branch
    return None


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
