"""The end of a chain: push the project, tell a webhook. Neither can fail the chain.

A webhook URL often carries a token (Slack, Discord): it is never stored in the
registry, logged or put in an error message; results name only the status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core import git
from lib.core.errors import BatonError
from lib.security import redact

# Chains that finished as planned: the only ones whose work is pushed.
PUSH_STATUSES = ("done", "max_sessions")


@dataclass
class NotifyResult:
    ok: bool
    attempts: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "attempts": self.attempts, "error": self.error}


def post_webhook(url: str, payload: dict[str, Any], *, retry_delay_s: float = 2.0, timeout_s: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> NotifyResult:
    """POST the JSON payload; on failure, one retry after `retry_delay_s`."""
    import httpx

    error: str | None = None
    for attempt in (1, 2):
        if attempt == 2:
            sleep(retry_delay_s)
        try:
            response = httpx.post(url, json=redact.redact_data(payload), timeout=timeout_s)
        except httpx.HTTPError as exc:
            error = type(exc).__name__  # never str(exc): it may quote the URL
            continue
        if 200 <= response.status_code < 300:
            return NotifyResult(True, attempt)
        error = f"HTTP {response.status_code}"
    return NotifyResult(False, 2, error)


@dataclass
class PushResult:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


def git_push(project_dir: Path, timeout_s: float = 300) -> PushResult:
    """Push the current branch where every push of baton goes (lib.core.git.push_target)."""
    try:
        branch = git.current_branch(project_dir)
        if branch is None:
            return PushResult(False, "detached HEAD: nothing to push")
        target = git.push_target(project_dir, branch)
        if target is None:
            return PushResult(False, "no remote to push to: set the branch's upstream (`git push -u REMOTE "
                                     f"{branch}`) or `git config remote.pushDefault REMOTE`")
        remote, remote_branch = target
        upstream = git.config(project_dir, f"branch.{branch}.remote")
        args = ["push", "--quiet"] + ([] if upstream else ["--set-upstream"])
        proc = git.run(project_dir, *args, remote, f"{branch}:{remote_branch}", timeout=timeout_s, env=git.ELSEWHERE)
    except BatonError as exc:
        return PushResult(False, str(exc))
    if proc.returncode == 124:
        return PushResult(False, f"git push timed out after {timeout_s:g} s")
    if not proc.ok:
        return PushResult(False, proc.last_line() if (proc.stderr or proc.stdout).strip()
                          else f"git push failed (exit {proc.returncode})")
    return PushResult(True, "pushed")
