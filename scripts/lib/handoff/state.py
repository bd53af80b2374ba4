"""The telemetry state of a Claude Code session, as the handoff reads it; invariants; archiving.

The state file is written by the telemetry hook (`.claude/state/session-<id>.json`,
docs/conventions/telemetry-state.md). `_read_state`, `_normalise`, `_session_files`
and `_refresh_usage` are the touch points with `lib.hookstate`, the hook's own reader:
until it is present they read the documented shape themselves.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BatonError
from ..paths import STATE_DIR

ARCHIVE_DIR = "archive"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

# Keys of the telemetry state the handoff copies into the note, with their empty values.
COUNTERS = ("tool_calls_count", "tool_failures_count", "subagents_dispatched", "parallel_terminals_observed")
MAPPINGS = ("tool_calls_breakdown", "tool_calls_breakdown_methods", "failures_breakdown")


def is_valid_session_id(value: str) -> bool:
    return bool(_SESSION_ID.match(value))


def state_dir(root: Path) -> Path:
    return root / STATE_DIR


# ----------------------------------------------------------------- touch points (lib.hookstate)

def _session_paths(folder: Path, session_id: str) -> dict[str, Path]:
    base = folder / f"session-{session_id}"
    return {
        "state": base.with_name(base.name + ".json"),
        "lock": base.with_name(base.name + ".lock"),
        "usage": base.with_name(base.name + ".usage.json"),
        "usage_lock": base.with_name(base.name + ".usage.lock"),
    }


def _session_files(folder: Path, session_id: str) -> list[Path]:
    return [p for p in _session_paths(folder, session_id).values() if p.exists()]


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return max(int(value), 0)
    return 0


def _int_map(value: Any) -> dict[str, int]:
    return {str(k): _as_int(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _normalise(raw: Any, session_id: str) -> dict[str, Any]:
    src = dict(raw) if isinstance(raw, Mapping) else {}
    out: dict[str, Any] = dict(src)
    out["session_id"] = src.get("session_id") if isinstance(src.get("session_id"), str) else session_id
    for key in ("started_at", "last_event_at", "ended_at", "transcript_path", "cwd"):
        out[key] = src.get(key) if isinstance(src.get(key), str) else None
    for key in COUNTERS:
        out[key] = _as_int(src.get(key))
    out["tool_calls_breakdown"] = _int_map(src.get("tool_calls_breakdown"))
    out["failures_breakdown"] = _int_map(src.get("failures_breakdown"))
    methods = src.get("tool_calls_breakdown_methods")
    out["tool_calls_breakdown_methods"] = (
        {str(k): _int_map(v) for k, v in methods.items()} if isinstance(methods, Mapping) else {}
    )
    raw_tokens = src.get("tokens")
    tokens: Mapping[str, Any] = raw_tokens if isinstance(raw_tokens, Mapping) else {}
    out["tokens"] = {k: _as_int(tokens.get(k)) for k in ("input", "output", "cache_creation", "cache_read")}
    cost = src.get("cost_usd")
    out["cost_usd"] = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None
    unpriced = src.get("unpriced_models")
    out["unpriced_models"] = [str(m) for m in unpriced] if isinstance(unpriced, list) else []
    return out


def _read_state(folder: Path, session_id: str) -> dict[str, Any] | None:
    path = _session_paths(folder, session_id)["state"]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return _normalise(raw, session_id)


def _refresh_usage(folder: Path, session_id: str, overrides: Mapping[str, Any]) -> list[str]:
    """Bring tokens and cost up to date from the transcript (the hook's reader does this)."""
    return []


# ----------------------------------------------------------------- reading

@dataclass
class Telemetry:
    session_id: str | None
    found: bool
    state: dict[str, Any]
    invariants: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def started_at(self) -> str | None:
        value = self.state.get("started_at")
        return value if isinstance(value, str) else None

    @property
    def tool_calls_count(self) -> int:
        return int(self.state.get("tool_calls_count") or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "found": self.found,
            "state": self.state,
            "invariants": self.invariants,
            "invariant_violations": self.violations,
            "warnings": self.warnings,
        }


def counter_at(state: Mapping[str, Any], dotted: str) -> int:
    node: Any = state
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return 0
        node = node[part]
    return _as_int(node)


def _ensure_counter(state: dict[str, Any], dotted: str) -> None:
    """Make the counter at `dotted` exist (0) so the note shows it, without overwriting anything."""
    parts = dotted.split(".")
    node: Any = state
    for part in parts[:-1]:
        if not isinstance(node, dict):
            return
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    if isinstance(node, dict):
        node[parts[-1]] = _as_int(node.get(parts[-1]))


def empty_state(session_id: str | None) -> dict[str, Any]:
    return _normalise({}, session_id or "")


def read_telemetry(root: Path, session_id: str | None, invariant_paths: list[str],
                   pricing: Mapping[str, Any] | None = None, refresh: bool = False) -> Telemetry:
    """The session's state, normalised, with every invariant counter present as an integer."""
    warnings: list[str] = []
    state: dict[str, Any] | None = None
    if not session_id:
        warnings.append("no Claude Code session id ($CLAUDE_CODE_SESSION_ID unset): telemetry counted as zero")
    elif not is_valid_session_id(session_id):
        raise BatonError(f"--session-id {session_id!r}: letters, digits, '-' and '_' only")
    else:
        folder = state_dir(root)
        if refresh:
            warnings.extend(_refresh_usage(folder, session_id, pricing or {}))
        state = _read_state(folder, session_id)
        if state is None:
            warnings.append(
                f"no telemetry state for session {session_id} ({STATE_DIR}/session-{session_id}.json): "
                "counters written as zero; is the telemetry hook installed?"
            )
    found = state is not None
    state = copy.deepcopy(state) if state is not None else empty_state(session_id)
    invariants: dict[str, int] = {}
    violations: list[str] = []
    for dotted in invariant_paths:
        _ensure_counter(state, dotted)
        value = counter_at(state, dotted)
        invariants[dotted] = value
        if value:
            violations.append(f"{dotted} = {value} (must be 0)")
    return Telemetry(session_id, found, state, invariants, violations, warnings)


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ----------------------------------------------------------------- archiving

@dataclass
class ArchiveResult:
    session_id: str
    moved: list[str] = field(default_factory=list)
    already_archived: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "moved": self.moved, "already_archived": self.already_archived}


@contextlib.contextmanager
def _held(lock_path: Path) -> Iterator[None]:
    """The hook's own lock on the session (flock), so no event is applied to a state being moved."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _free_name(target: Path) -> Path:
    if not target.exists():
        return target
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return target.with_name(f"{target.name}.{stamp}")


def archive_state(root: Path, session_id: str) -> ArchiveResult:
    """Move the session's state files into `.claude/state/archive/`; a second run does nothing."""
    if not is_valid_session_id(session_id):
        raise BatonError(f"--session-id {session_id!r}: letters, digits, '-' and '_' only")
    folder = state_dir(root)
    archive = folder / ARCHIVE_DIR
    result = ArchiveResult(session_id)
    files = _session_files(folder, session_id)
    if not files:
        result.already_archived = any(archive.glob(f"session-{session_id}.*"))
        return result
    archive.mkdir(parents=True, exist_ok=True)
    lock = _session_paths(folder, session_id)["lock"]
    with _held(lock):
        # The lock file moves last: the hook may be waiting on it.
        for path in sorted(files, key=lambda p: p == lock):
            target = _free_name(archive / path.name)
            os.replace(path, target)
            result.moved.append(target.relative_to(root).as_posix())
    return result
