"""The runner's decisions: in the chain's record, and in the project's decision log.

Every decision gets an id. A refinement or an escalation stays *open* until a later
session of the chain ends without the failure class it was about (it is then
`resolved_by` that session) or the chain ends. Each session run under an open
decision adds a follow-up record to the log (`follow_up_of`, `resolved_by`,
`cost_usd`), so `insights.py` can tell, per decision type and failure class, how
often it resolved the failure and what each resolution cost.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from lib.chains.registry import ChainRecord, now_iso
from lib.failures import decisions

# Decisions that wait for a later session to resolve their failure class.
RESOLVABLE = ("refinement_cycle", "escalation")


def append_decision(chain: ChainRecord, kind: str, *, session: str | None = None, **detail: Any) -> dict[str, Any]:
    """Record a decision of the runner; the entry (with its id) as kept in the chain's record."""
    if kind not in decisions.DECISION_KINDS:
        raise ValueError(f"unknown decision type {kind!r}")
    entry: dict[str, Any] = {"id": secrets.token_hex(4), "at": now_iso(), "type": kind, "session": session}
    entry.update(detail)
    chain.decisions.append(entry)
    what = detail.get("what") or detail.get("model") or kind
    reason = detail.get("reason")
    context = {k: v for k, v in detail.items() if k not in ("what", "reason", "failure_class")}
    decisions.log_decision(
        kind, decision=str(what), reason=None if reason is None else str(reason), context=context or None,
        root=_log_root(chain), chain=chain.id, session_id=session, failure_class=detail.get("failure_class"),
        operator=chain.operator, decision_id=entry["id"],
    )
    return entry


def open_decisions(chain: ChainRecord) -> list[dict[str, Any]]:
    return [d for d in chain.decisions if d.get("type") in RESOLVABLE and d.get("failure_class")
            and not d.get("resolved_by") and not d.get("closed")]


def follow_up(chain: ChainRecord, *, session: str, failure_class: str | None, ok: bool, cost_usd: float) -> list[str]:
    """After a session: each open decision it ran under gets a follow-up; those it resolved, `resolved_by`.

    A session resolves a decision when it left a valid note of its own and did not fail with the
    decision's class. Returns the ids resolved.
    """
    resolved: list[str] = []
    for entry in open_decisions(chain):
        if _before(chain, entry, session):
            continue
        fixed = ok and failure_class != entry["failure_class"]
        entry["cost_usd"] = round(float(entry.get("cost_usd") or 0.0) + cost_usd, 6)
        entry["sessions_after"] = int(entry.get("sessions_after") or 0) + 1
        if fixed:
            entry["resolved_by"] = session
            resolved.append(entry["id"])
        decisions.log_decision(
            entry["type"], decision="resolved" if fixed else "not resolved", root=_log_root(chain), chain=chain.id,
            session_id=session, failure_class=entry["failure_class"], operator=chain.operator,
            follow_up_of=entry["id"], resolved_by=session if fixed else None, cost_usd=round(cost_usd, 6),
        )
    return resolved


def close_open(chain: ChainRecord) -> None:
    """The chain ended: decisions still open stay unresolved."""
    for entry in open_decisions(chain):
        entry["closed"] = True


def _before(chain: ChainRecord, entry: dict[str, Any], session: str) -> bool:
    """Whether `session` ran before the session the decision routed (it cannot be its follow-up)."""
    ids = [s.id for s in chain.sessions]
    target = entry.get("session")
    if target in ids and session in ids:
        return ids.index(session) < ids.index(target)
    return False


def _log_root(chain: ChainRecord) -> Path:
    return Path(chain.project_dir)
