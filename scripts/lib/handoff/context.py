"""What a handoff knows about the session it ends: telemetry, git, settings."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import config
from lib.handoff import manifest as manifests
from lib.handoff.gitstats import GitStats, git_stats, resolve_since
from lib.handoff.state import Telemetry, read_telemetry


@dataclass
class SessionContext:
    telemetry: Telemetry
    stats: GitStats
    settings: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def claude_session_id(explicit: str | None, session_id: str | None = None, root: Path | None = None) -> str | None:
    """--session-id, else the one recorded when the handoff started, else $CLAUDE_CODE_SESSION_ID."""
    if explicit:
        return explicit
    if session_id and root is not None:
        recorded = manifests.load(root, session_id).claude_session_id
        if recorded:
            return recorded
    return os.environ.get("CLAUDE_CODE_SESSION_ID") or None


_STATE_NAME = re.compile(r"^session-([A-Za-z0-9_-]{1,128})\.json$")


def newest_live_state(root: Path) -> str | None:
    """The Claude Code session whose telemetry state in this repository changed last and has not ended."""
    folder = root / ".claude" / "state"
    best: tuple[float, str] | None = None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        match = _STATE_NAME.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            with open(entry.path, encoding="utf-8") as fh:
                data = json.load(fh)
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and not data.get("ended_at") and (best is None or mtime > best[0]):
            best = (mtime, match.group(1))
    return best[1] if best else None


def locate_session(explicit: str | None, session_id: str | None, root: Path) -> tuple[str | None, str]:
    """The Claude Code session id and where it came from: --session-id, what `start` recorded for the
    note, $CLAUDE_CODE_SESSION_ID, else the newest live telemetry state of this repository."""
    if explicit:
        return explicit, "--session-id"
    if session_id:
        recorded = manifests.load(root, session_id).claude_session_id
        if recorded:
            return recorded, f"recorded by start for {session_id}"
    env = os.environ.get("CLAUDE_CODE_SESSION_ID")
    if env:
        return env, "$CLAUDE_CODE_SESSION_ID"
    newest = newest_live_state(root)
    if newest:
        return newest, "the newest live telemetry state in .claude/state"
    return None, "none found"


def invariant_paths(settings: dict[str, Any]) -> list[str]:
    return [str(p) for p in settings.get("invariants") or []]


def read(root: Path, settings: dict[str, Any], claude_id: str | None, *, refresh: bool = False) -> Telemetry:
    return read_telemetry(root, claude_id, invariant_paths(settings), pricing=settings.get("pricing") or {},
                          refresh=refresh)


def gather(root: Path, claude_id: str | None, since: str | None, now: dt.datetime, *, refresh: bool = False,
           recorded: tuple[str | None, str | None] = (None, None)) -> SessionContext:
    """Telemetry and git stats; the session's start is --since, else what start recorded, else telemetry's."""
    settings = config.load(root)
    telemetry = read(root, settings, claude_id, refresh=refresh)
    start, source, warnings = resolve_since(root, since, telemetry.started_at, now, recorded=recorded)
    stats = git_stats(root, start, source)
    stats.warnings.extend(warnings)
    return SessionContext(telemetry, stats, settings, [*telemetry.warnings, *stats.warnings])
