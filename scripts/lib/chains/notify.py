"""The end of a chain: push the project, tell a webhook. Neither can fail the chain.

A webhook URL often carries a token (Slack, Discord): it is never stored in the
registry, logged or put in an error message; results name only the status.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
            response = httpx.post(url, json=payload, timeout=timeout_s)
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
    """Push the current branch the way `/handoff` does: fetch, re-claim any unpushed note whose id another
    clone took, replay the handoff commits on the upstream when it moved, retry when another clone pushed
    first (lib.handoff.integrate). The upstream is the branch's, else `origin` with the same name."""
    from lib.core import config
    from lib.core.errors import BatonError
    from lib.handoff import commit as commits

    try:
        settings = commits.Settings.from_config(config.load(project_dir))
        settings.network_timeout_s = min(settings.network_timeout_s, timeout_s)
        result = commits.push_branch(project_dir, settings)
    except BatonError as exc:
        return PushResult(False, str(exc))
    except OSError as exc:
        return PushResult(False, f"cannot run git: {exc.strerror}")
    if result.push_error is not None:
        return PushResult(False, result.push_error.message)
    if result.remote and result.branch and not _has_upstream(project_dir):
        subprocess.run(["git", "branch", "-q", f"--set-upstream-to={result.remote}/{result.branch}"],
                       cwd=project_dir, capture_output=True)
    renamed = ", ".join(f"{old} -> {new}" for old, new in result.renamed.items())
    return PushResult(True, "pushed" + (f" (ids taken on the remote, renamed: {renamed})" if renamed else ""))


def _has_upstream(project_dir: Path) -> bool:
    return subprocess.run(["git", "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"],
                          cwd=project_dir, capture_output=True).returncode == 0
