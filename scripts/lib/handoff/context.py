"""What a handoff knows about the session it ends: telemetry, git, settings."""

from __future__ import annotations

import datetime as dt
import os
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
