"""Who is who in the console: the roster, who ran a Claude Code session, each workstream's last activity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.console.model import Project
from lib.console.storeview import NoteView
from lib.core.errors import BatonError


def session_owners(proj: Project, chains: list[dict[str, Any]]) -> dict[str, str]:
    """Claude Code session id -> operator: from the notes that name it, else from the chain that ran it."""
    out: dict[str, str] = {}
    for chain in chains:
        if chain.get("_project") != proj.name or not isinstance(chain.get("operator"), str):
            continue
        for s in chain.get("sessions") or []:
            if isinstance(s, Mapping) and isinstance(s.get("claude_session_id"), str):
                out[s["claude_session_id"]] = chain["operator"]
    for note in proj.view.notes("session")[:200]:
        claude_id, who = note.meta.get("claude_session_id"), note.meta.get("operator")
        if isinstance(claude_id, str) and isinstance(who, str) and who:
            out[claude_id] = who
    return out


def operator_entry(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": None, "initials": None, "in_roster": False, "projects": [], "sessions": 0,
            "cost_usd": 0.0, "last_session": None, "last_session_date": None}


def roster_of(root: Path) -> list[dict[str, Any]]:
    """operators.yaml through `lib.store.operators`; a missing or invalid roster reads as empty (the sessions
    still name their operators)."""
    from lib.store import operators

    try:
        roster = operators.load(root)
    except BatonError:
        return []
    return [{"slug": op.slug, "name": op.name, "initials": op.initials} for op in roster.operators]


def last_activity(sessions: list[NoteView]) -> dict[str, tuple[str, str, int]]:
    """workstream -> (date of its newest session, that session's id, number of sessions)."""
    out: dict[str, tuple[str, str, int]] = {}
    for note in sessions:  # newest first
        ws = note.meta.get("workstream")
        if not isinstance(ws, str) or note.meta.get("status") == "claimed":
            continue
        if ws in out:
            day, sid, n = out[ws]
            out[ws] = (day, sid, n + 1)
        else:
            out[ws] = (note.date, note.external_id, 1)
    return out
