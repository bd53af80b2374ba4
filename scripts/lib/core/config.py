"""Settings: `.claude/baton.yaml` (optional), validated against a schema, with defaults.

Every piece reads its settings through `load(root)`; the defaults below are the
documented ones (docs/conventions/settings.md). A section a piece owns is a key
of DEFAULTS and of scripts/schemas/baton-config.schema.json.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from lib.core import settings

CONFIG_PATH = ".claude/baton.yaml"
STRICT_GRACE_DAYS = 14

DEFAULTS: dict[str, Any] = {
    # warn: report problems and let the commit through; strict: block it. Unset, it is warn until
    # `strict_from` (an ISO date the installer records: install day + STRICT_GRACE_DAYS), strict after.
    "pre_commit": "warn",
    "strict_from": None,
    # Counters that must stay zero in a session (dotted paths into the telemetry state).
    "invariants": ["tool_calls_breakdown.mcp__notion_offplan"],
    # Per-model prices in USD per million tokens, merged over scripts/lib/telemetry/pricing.json.
    "pricing": {},
    # The SessionStart resume context: on/off, size bound (~4 characters a token), time budget.
    "session_start": {"enabled": True, "max_tokens": 1500, "time_budget_s": 2.0},
    "archive": {"transcripts_dir": ".claude/archive/transcripts"},
    # /handoff: how long a handoff waits for another one's commit, retries on a busy git index, fetch/push time.
    "handoff": {"lock_timeout_s": 300, "git_retry_attempts": 10, "git_retry_base_s": 0.1, "network_timeout_s": 120},
    "chains": {
        "budget_usd": 5.0,
        "session_cost_usd": None,
        "min_budget_usd": 0.05,
        "backoff_base_s": 1.0,
        "max_retries": 3,
        "stall_s": 600,
        "session_wall_clock_s": 3600,
        "breaker_threshold": 3,
        "breaker_cooldown_s": 900,
        "usage_limit_max_wait_s": 18000,
        "completion_signal": None,
        "completion_repeats": 2,
        "max_sessions": 10,
        "max_turns": None,
        "model": None,
        "allowed_tools": ["Bash", "Read", "Edit", "Write", "MultiEdit", "Glob", "Grep", "TodoWrite"],
        "permission_mode": None,
        "auto_push": False,
        "kill_grace_s": 5,
        "usage_limit_default_wait_s": 900,
        "usage_limit_max_waits": 3,
        "webhook_retry_delay_s": 2,
        "resume_wait_s": 30,
        "env_drop": [],
        "routing": {
            "enabled": True,
            "refine": True,
            "ladder": [],
            "escalate_after": 2,
            "stop_early": True,
            "block_after": 2,
            "team_history": True,
        },
        "supervisor_max_restarts": 3,
        "supervisor_backoff_s": 2.0,
    },
}


SCHEMA = "baton-config.schema.json"


def schema_path() -> Path:
    return settings.schema_path(SCHEMA)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse(text: str, source: str = CONFIG_PATH, today: dt.date | None = None) -> dict[str, Any]:
    """Validate a baton.yaml text and return it merged over the defaults (`pre_commit` resolved for `today`)."""
    data = settings.parse_document(text, source, SCHEMA, shape="a mapping of settings", empty={},
                                   message=lambda err: str(err.message))
    start = _strict_from(data.get("strict_from"), text, source)
    data["strict_from"] = start.isoformat() if start else None
    merged = _merge(DEFAULTS, data)
    if start is not None and "pre_commit" not in data and (today or dt.date.today()) >= start:
        merged["pre_commit"] = "strict"
    return merged


def _strict_from(value: Any, text: str, source: str) -> dt.date | None:
    """`strict_from` as a date: YAML reads `2026-05-25` as one; quoted, it is a string."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise settings.fail_at(text, source, ["strict_from"], f"{value!r} is not a date (YYYY-MM-DD)")


def grace_text(today: dt.date) -> str:
    """The baton.yaml the installer writes: the pre-commit hook warns for STRICT_GRACE_DAYS, then blocks."""
    start = today + dt.timedelta(days=STRICT_GRACE_DAYS)
    return (
        "# baton settings (README: Settings). Written by baton's installer; yours to edit.\n"
        "# The pre-commit hook warns about notes whose frontmatter breaks the contract until strict_from,\n"
        "# then blocks such commits. Move the date, or set `pre_commit: warn` (or strict) to decide now.\n"
        f"strict_from: {start.isoformat()}\n"
    )


def load(root: Path, today: dt.date | None = None) -> dict[str, Any]:
    """The settings of the repository at `root` (defaults when the file is absent)."""
    path = root / CONFIG_PATH
    text = settings.read_text(path)
    if text is None:
        return copy.deepcopy(DEFAULTS)
    return parse(text, str(path), today)
