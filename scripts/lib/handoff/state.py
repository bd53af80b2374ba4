"""The telemetry state of a Claude Code session, as the handoff reads it; invariants; archiving.

The state file is written by the telemetry hook (`.claude/state/session-<id>.json`,
docs/conventions/telemetry-state.md) and read here through the hook's own reader,
`lib.telemetry` (state: normalisation, counters; ids: the session's files; usage: transcript usage).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR
from lib.telemetry import ids as hookids
from lib.telemetry import state as hookstate
from lib.telemetry import usage as hookusage

ARCHIVE_DIR = "archive"

# Counters of the telemetry state the handoff reports.
COUNTERS = ("tool_calls_count", "tool_failures_count", "subagents_dispatched", "parallel_terminals_observed")


def is_valid_session_id(value: str) -> bool:
    return hookids.is_valid_session_id(value)


def state_dir(root: Path) -> Path:
    return root / STATE_DIR


def _session_paths(folder: Path, session_id: str) -> dict[str, Path]:
    return {k: Path(v) for k, v in hookids.session_paths(str(folder), session_id).items()}


def _refresh_usage(folder: Path, session_id: str, overrides: Mapping[str, Any]) -> list[str]:
    """Bring tokens and cost up to date from the transcript; problems become warnings."""
    problems: list[str] = []
    try:
        hookusage.refresh_usage(str(folder), session_id, overrides=overrides, log=problems.append)
    except (OSError, ValueError) as exc:
        problems.append(f"tokens and cost not refreshed: {exc}")
    return problems


# ----------------------------------------------------------------- reading

@dataclass
class Telemetry:
    session_id: str | None
    found: bool
    state: dict[str, Any]
    invariants: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure_summary: dict[str, Any] | None = None

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
    return max(hookstate.counter_at(state, dotted), 0)


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
        node[parts[-1]] = counter_at(node, parts[-1])


def empty_state(session_id: str | None) -> dict[str, Any]:
    return hookstate.normalise_state({}, session_id or "")


def read_telemetry(root: Path, session_id: str | None, invariant_paths: list[str],
                   pricing: Mapping[str, Any] | None = None, refresh: bool = False) -> Telemetry:
    """The session's state, normalised, with every invariant counter present as an integer."""
    warnings: list[str] = []
    state: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    if not session_id:
        warnings.append("no Claude Code session id ($CLAUDE_CODE_SESSION_ID unset): telemetry counted as zero")
    elif not is_valid_session_id(session_id):
        raise BatonError(f"--session-id {session_id!r}: letters, digits, '-' and '_' only")
    else:
        folder = state_dir(root)
        if refresh:
            warnings.extend(_refresh_usage(folder, session_id, pricing or {}))
        # failed calls only recorded their output: fold any not yet classified into failures_breakdown
        hookstate.classify_pending(str(folder), session_id, warnings.append)
        state = hookstate.read_state(str(folder), session_id)
        records = _failure_records(Path(hookids.session_paths(str(folder), session_id)["failures"]))
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
    summary = failure_summary(state, records) if found else None
    return Telemetry(session_id, found, state, invariants, violations, warnings, summary)


# How many recorded failures the summary reads (the newest), and how many contexts it keeps.
SUMMARY_RECORDS = 200
SUMMARY_CONTEXTS = 5


def _failure_records(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    records = []
    for line in lines[-SUMMARY_RECORDS:]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def failure_summary(state: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The note's `failure_summary`: totals by class and the most frequent error contexts.

    None for a session without failures, so the key stays empty on clean sessions.
    """
    from lib.failures import classify as failures
    from lib.security import redact

    total = int(state.get("tool_failures_count") or 0)
    if total == 0:
        return None
    by_class = {str(k): int(v) for k, v in (state.get("failures_breakdown") or {}).items()}
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        tool = record.get("tool") if isinstance(record.get("tool"), str) else None
        code = record.get("exit_code") if isinstance(record.get("exit_code"), int) else None
        found = failures.classify(str(record.get("text") or ""), tool=tool, exit_code=code)
        context = found.error_context
        first = str(context.get("first_error_line") or "")[:200]
        key = (found.failure_class, first)
        entry = grouped.setdefault(key, {
            "failure_class": found.failure_class, "tool": tool, "first_error_line": first or None,
            "files": [f"{f.get('path')}:{f.get('line')}" for f in (context.get("files") or [])[:3]
                      if isinstance(f, dict) and f.get("path")],
            "tests": list(context.get("tests") or [])[:3],
            "missing": context.get("missing") or None,
            "count": 0,
        })
        entry["count"] += 1
    contexts = sorted(grouped.values(), key=lambda e: (-e["count"], e["failure_class"], e["first_error_line"] or ""))
    dominant = max(sorted(by_class), key=lambda k: by_class[k]) if by_class else None
    # Records written before the hook redacted (or by an older hook) are redacted here too.
    return {"total": total, "by_class": by_class, "dominant_class": dominant,
            "contexts": redact.redact_data(contexts[:SUMMARY_CONTEXTS])}


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
    files = [Path(p) for p in hookids.session_files(str(folder), session_id)]
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
