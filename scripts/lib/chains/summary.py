"""What a finished chain reports: the last note's Summary, and the webhook's small payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lib.chains import handoff_check
from lib.chains.registry import ChainRecord


def workdir_of(chain: ChainRecord) -> Path:
    """Where the chain's sessions work: its worktree, else the project."""
    if chain.worktree and Path(chain.worktree.get("path") or "").is_dir():
        return Path(chain.worktree["path"])
    return Path(chain.project_dir)


def last_summary(chain: ChainRecord) -> str | None:
    """The Summary of the newest valid note of the chain."""
    root = workdir_of(chain)
    for session in reversed(chain.sessions):
        if session.handoff.status in ("valid", "valid_after_retry", "synthetic") and session.handoff.path:
            check = handoff_check.validate_handoff(root / session.handoff.path, session.id)
            if check.ok:
                return check.summary[:1000]
    return None


def summary_payload(chain: ChainRecord) -> dict[str, Any]:
    """What the webhook receives: small, no secrets, no mission text beyond a headline."""
    chain.refresh_totals()
    headline = chain.mission.strip().splitlines()[0][:200] if chain.mission.strip() else ""
    return {
        "id": chain.id,
        "status": chain.status,
        "end_reason": chain.end_reason,
        "project_dir": chain.project_dir,
        "branch": (chain.worktree or {}).get("branch"),
        "mission": headline,
        "sessions": len(chain.sessions),
        "session_ids": [s.id for s in chain.sessions],
        "cost_usd": chain.cost_usd,
        "duration_s": chain.totals.get("duration_s"),
        "last_summary": last_summary(chain),
    }
