"""The end of a chain: push the project, tell a webhook. Neither can fail the chain.

A webhook URL often carries a token (Slack, Discord): it is never stored in the
registry, logged or put in an error message; results name only the status.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Push the current branch: to its upstream, else to `origin` (setting the upstream)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith(("GIT_AUTHOR", "GIT_COMMITTER", "GIT_SSH"))}
    env["GIT_TERMINAL_PROMPT"] = "0"  # an unattended push must fail, not wait for a password

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=project_dir, env=env, capture_output=True, text=True,
                              timeout=timeout_s)

    try:
        branch = git("symbolic-ref", "--quiet", "--short", "HEAD")
        if branch.returncode != 0:
            return PushResult(False, "detached HEAD: nothing to push")
        upstream = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
        if upstream.returncode == 0:
            proc = git("push", "--quiet")
        else:
            remotes = git("remote").stdout.split()
            if not remotes:
                return PushResult(False, "no remote to push to")
            remote = "origin" if "origin" in remotes else remotes[0]
            proc = git("push", "--quiet", "--set-upstream", remote, branch.stdout.strip())
    except subprocess.TimeoutExpired:
        return PushResult(False, f"git push timed out after {timeout_s:g} s")
    except OSError as exc:
        return PushResult(False, f"cannot run git: {exc.strerror}")
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        return PushResult(False, lines[-1].strip() if lines else f"git push failed (exit {proc.returncode})")
    return PushResult(True, "pushed")
