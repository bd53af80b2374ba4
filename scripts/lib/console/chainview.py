"""Chains as the console shows them: summaries and details from the chain registry (`lib.chains.registry`),
who stopped a chain and when, and the registry files the watcher stats."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.console.queries import number_or_none, text_or_none
from lib.console.storeview import NoteView
from lib.core import atomic

STOPPED_BY_FILE = "stopped-by.json"


def chains_available() -> bool:
    try:
        importlib.import_module("lib.chains.registry")
    except ImportError:
        return False
    return True


def open_registry(home: Path | None) -> Any:
    """The chain registry `chains.py` uses (home None: $BATON_STATE_HOME)."""
    from lib.chains.registry import Registry

    return Registry(home)


def alive(registry: Any, chain: Any) -> bool | None:
    if chain.status != "running":
        return None
    from lib.chains import lifecycle as chain_runner

    return bool(chain_runner.runner_alive(registry, chain))


def registry_paths(home: Path | None) -> list[Path]:
    """The registry files a watcher stats (the same files `Registry` reads)."""
    if not chains_available():
        return []
    registry = open_registry(home)
    return [registry.path, registry.archive_path]


def registry_stamp(home: Path | None) -> tuple[int, ...]:
    stamp: list[int] = []
    for path in registry_paths(home):
        try:
            st = os.stat(path)
            stamp += [st.st_mtime_ns, st.st_size, st.st_ino]
        except OSError:
            stamp += [-1, -1, -1]
    return tuple(stamp)


def epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _chain_dir(home: Path | None, chain_id: str) -> Path:
    registry = open_registry(home)
    return Path(registry.home) / "chains" / chain_id


def record_stop(home: Path | None, chain_id: str, operator: str | None, via: str = "console") -> dict[str, Any]:
    """Who asked a chain to stop and when, kept beside the chain's other files (the runner rewrites its
    registry record, so the record itself would lose it)."""
    entry = {"by": operator, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "via": via}
    atomic.write_text(_chain_dir(home, chain_id) / STOPPED_BY_FILE, json.dumps(entry) + "\n")
    return entry


def read_stop(home: Path | None, chain_id: str) -> dict[str, Any] | None:
    try:
        raw = json.loads((_chain_dir(home, chain_id) / STOPPED_BY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    return {"by": text_or_none(raw.get("by")), "at": text_or_none(raw.get("at")), "via": text_or_none(raw.get("via"))}


def chain_summary(project: str, data: Mapping[str, Any], *, alive: bool | None = None,
                  stopped: dict[str, Any] | None = None) -> dict[str, Any]:
    sessions = [s for s in data.get("sessions") or [] if isinstance(s, Mapping)]
    settings = data.get("settings") or {}
    breaker = data.get("breaker") or {}
    running = [s for s in sessions if s.get("status") == "running"]
    cost = round(sum(number_or_none(s.get("cost_usd")) or 0.0 for s in sessions), 6)
    budget = number_or_none(settings.get("budget_usd"))
    max_sessions = settings.get("max_sessions")
    mission = str(data.get("mission") or "")
    created = epoch(data.get("created_at"))
    ended = epoch(data.get("ended_at"))
    end = ended if ended is not None else dt.datetime.now(dt.UTC).timestamp()
    return {
        "id": data.get("id"),
        "project": project,
        "project_dir": data.get("project_dir"),
        "status": data.get("status"),
        "mission": (mission.strip().splitlines() or [""])[0][:200],
        "operator": data.get("operator"),
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
        "ended_at": data.get("ended_at"),
        "end_reason": data.get("end_reason"),
        "duration_s": round(end - created, 1) if created is not None else None,
        "sessions_count": len(sessions),
        "sessions_ok": sum(1 for s in sessions if s.get("status") == "ok"),
        "sessions_failed": sum(1 for s in sessions if s.get("status") == "failed"),
        "max_sessions": max_sessions if isinstance(max_sessions, int) else None,
        "cost_usd": cost,
        "budget_usd": budget,
        "model": text_or_none(settings.get("model")),
        "current_session": running[-1].get("id") if running else None,
        # the git branch of a chain that runs in a worktree of its own (`run --worktree`)
        "branch": (data.get("worktree") or {}).get("branch") if isinstance(data.get("worktree"), Mapping) else None,
        "breaker": {
            "state": breaker.get("state") or "closed",
            "consecutive_failures": breaker.get("consecutive_failures") or 0,
            "opened_at": breaker.get("opened_at"),
        },
        "runner_alive": alive,
        "breaker_cooldown_s": number_or_none(settings.get("breaker_cooldown_s")),
        "stopped_by": stopped.get("by") if stopped else None,
        "stopped_at": stopped.get("at") if stopped else None,
        "resume_command": f"python scripts/chains.py run --resume {data.get('id')}",
    }


def note_brief(note: NoteView | None) -> dict[str, Any] | None:
    if note is None:
        return None
    return {"id": note.external_id, "path": note.relpath, "title": text_or_none(note.meta.get("title")),
            "summary": text_or_none(note.meta.get("summary")), "outcome": text_or_none(note.meta.get("outcome")),
            "status": text_or_none(note.meta.get("status")), "synthetic": note.meta.get("synthetic") is True}


def decision(entry: Mapping[str, Any], source: str) -> dict[str, Any]:
    kind = entry.get("type") if source == "registry" else entry.get("kind")
    at = entry.get("at") if source == "registry" else entry.get("ts")
    skip = {"type", "kind", "at", "ts", "session", "session_id", "pid"}
    return {
        "at": at if isinstance(at, str) else None,
        "type": kind if isinstance(kind, str) else "unknown",
        "session": entry.get("session") or entry.get("session_id"),
        "source": source,
        "detail": {str(k): v for k, v in entry.items() if k not in skip},
    }


def chain_sessions(data: Mapping[str, Any], get_note: Any) -> list[dict[str, Any]]:
    """A chain's sessions as the chain page lists them (each with its note, when there is one)."""
    out = []
    for s in data.get("sessions") or []:
        note = get_note(s.get("id") or "")
        handoff = s.get("handoff") or {}
        started, ended = epoch(s.get("started_at")), epoch(s.get("ended_at"))
        out.append({
            "id": s.get("id"),
            "index": s.get("index"),
            "status": s.get("status"),
            "started_at": s.get("started_at"),
            "ended_at": s.get("ended_at"),
            "duration_s": round(ended - started, 1) if started is not None and ended is not None else None,
            "cost_usd": number_or_none(s.get("cost_usd")) or 0.0,
            "turns": s.get("turns") or 0,
            "model": s.get("model"),
            "result_subtype": s.get("result_subtype"),
            "reason": s.get("reason"),
            "error_kind": s.get("error_kind"),
            "failure_class": s.get("failure_class"),
            "error": s.get("error"),
            "attempts": len(s.get("attempts") or []),
            "handoff": {
                "status": handoff.get("status"),
                "path": handoff.get("path"),
                "outcome": handoff.get("outcome"),
                "problems": list(handoff.get("problems") or []),
            },
            "note": note_brief(note),
        })
    return out


def merged_decisions(data: Mapping[str, Any], log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A chain's decisions from its record and from the decision log, oldest first. The runner writes each
    to both: a log line that mirrors a recorded decision (same type and session, within two seconds) is
    not shown twice."""
    chain_id = data.get("id")
    recorded = [decision(d, "registry") for d in data.get("decisions") or [] if isinstance(d, Mapping)]
    seen = [(d["type"], d["session"], epoch(d["at"]) or 0.0) for d in recorded]
    logged = []
    recorded_ids = {d.get("id") for d in data.get("decisions") or [] if isinstance(d, Mapping) and d.get("id")}
    for entry in log:
        # A follow-up says whether a recorded decision resolved its failure: the record has it already.
        if entry.get("chain") != chain_id or entry.get("follow_up_of") or entry.get("decision_id") in recorded_ids:
            continue
        item = decision(entry, "log")
        at = epoch(item["at"]) or 0.0
        if not any(t == item["type"] and s == item["session"] and abs(a - at) <= 2.0 for t, s, a in seen):
            logged.append(item)
    return sorted(recorded + logged, key=lambda d: epoch(d["at"]) or 0.0)
