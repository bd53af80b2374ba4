"""This machine's sessions in progress, from the telemetry hook's state files (`lib.telemetry.state`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.console.chainview import epoch
from lib.telemetry import state as hookstate


def live_states(state_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(session id, normalised state) of every telemetry state file in a state folder."""
    out = []
    try:
        entries = list(os.scandir(state_dir))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith("session-") and name.endswith(".json")) or name.endswith(".usage.json"):
            continue
        session_id = name[len("session-"):-len(".json")]
        if not hookstate.is_valid_session_id(session_id):
            continue
        state = hookstate.read_state(str(state_dir), session_id)
        if state is not None:
            out.append((session_id, state))
    return out


def telemetry_row(project: str, session_id: str, state: Mapping[str, Any], now: float,
                  stale_after_s: float) -> dict[str, Any]:
    last = epoch(state.get("last_event_at"))
    started = epoch(state.get("started_at"))
    ended = state.get("ended_at")
    in_progress = not ended and last is not None and now - last <= stale_after_s
    operator = state.get("operator")
    return {
        "project": project,
        "session_id": session_id,
        "operator": operator if isinstance(operator, str) and operator else None,
        "started_at": state.get("started_at"),
        "last_event_at": state.get("last_event_at"),
        "ended_at": ended,
        "end_reason": state.get("end_reason"),
        "in_progress": in_progress,
        "idle_s": round(now - last, 1) if last is not None else None,
        "elapsed_s": round((last if ended and last else now) - started, 1) if started is not None else None,
        "tool_calls_count": state.get("tool_calls_count", 0),
        "tool_failures_count": state.get("tool_failures_count", 0),
        "failures_breakdown": dict(state.get("failures_breakdown") or {}),
        "tool_calls_breakdown": dict(state.get("tool_calls_breakdown") or {}),
        "subagents_dispatched": state.get("subagents_dispatched", 0),
        "tokens": dict(state.get("tokens") or {}),
        "cost_usd": state.get("cost_usd", 0.0),
        "unpriced_models": list(state.get("unpriced_models") or []),
    }
