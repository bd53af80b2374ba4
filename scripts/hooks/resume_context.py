"""SessionStart hook: tell a new Claude Code session where its operator left off.

Registered for `startup|resume|clear`; what it prints to stdout Claude Code adds to
the session's context. It prints a compact resume context: the last session's id,
summary and Resume Prompt (the operator's, or the team's latest when no operator is
known), the operator's live workstreams and a pointer to `/resume`, within
`session_start.max_tokens` (~4 characters a token) of `.claude/baton.yaml`.

Rules it keeps (like the telemetry hook): it always exits 0 and never blocks;
problems go to `.claude/state/hook-errors.log`. It has a time budget
(`session_start.time_budget_s`) and never builds a cold store index: without a
complete index, or when too much changed since the last `/resume`, it prints one
line pointing to `/resume` instead. It imports the standard library, lib.store.index and
lib.resume.dashboard (PyYAML only when baton.yaml exists or changed notes must be read);
never ruamel, jsonschema or rich.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULTS: dict[str, Any] = {"enabled": True, "max_tokens": 1500, "time_budget_s": 2.0}
CHARS_PER_TOKEN = 4
# More changed notes than this since the last refresh: leave them to /resume.
MAX_CHANGES = 200
POINTER_COLD = ("baton: no resume context yet (the store index is not built); "
                "type /resume to see where you left off.")
POINTER_STALE = ("baton: the store changed a lot since the last /resume; "
                 "type /resume to see where you left off.")


def main() -> int:
    started = time.monotonic()
    root: Path | None = None
    try:
        payload = _payload()
        root = _root(payload)
        settings = _settings(root)
        if not settings["enabled"]:
            return 0
        text = context(root, settings, deadline=started + float(settings["time_budget_s"]))
        if text:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    except Exception as exc:  # the hook must never fail a session start
        _log(root, f"{type(exc).__name__}: {exc}")
    return 0


def _payload() -> dict[str, Any]:
    if sys.stdin is None or sys.stdin.isatty():
        return {}
    data = sys.stdin.read(1_000_000)
    if not data.strip():
        return {}
    import json

    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _root(payload: dict[str, Any]) -> Path:
    env = os.environ.get("CLAUDE_PROJECT_DIR")
    if env:
        return Path(env)
    from lib.core.paths import find_root

    cwd = payload.get("cwd")
    return find_root(Path(cwd) if isinstance(cwd, str) and cwd else None)


def _settings(root: Path) -> dict[str, Any]:
    """`session_start` of .claude/baton.yaml over the defaults; a bad value is logged and ignored.

    Not lib.core.config: that validates with jsonschema, too slow to import here.
    """
    settings = dict(DEFAULTS)
    try:
        text = (root / ".claude" / "baton.yaml").read_text(encoding="utf-8")
    except OSError:
        return settings
    from lib.store import yamlio

    try:
        data = yamlio.load(text)
    except yamlio.YAMLLoadError as exc:
        _log(root, f".claude/baton.yaml: invalid YAML ({exc}); using the session_start defaults")
        return settings
    section = data.get("session_start") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return settings
    checks: dict[str, Callable[[Any], bool]] = {
        "enabled": lambda v: isinstance(v, bool),
        "max_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 100,
        "time_budget_s": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    }
    for key, ok in checks.items():
        if key in section:
            if ok(section[key]):
                settings[key] = section[key]
            else:
                _log(root, f".claude/baton.yaml: session_start.{key}: {section[key]!r} is not valid; "
                           f"using {DEFAULTS[key]!r}")
    return settings


def context(root: Path, settings: dict[str, Any], deadline: float) -> str:
    """The text to print: a resume context, or a one-line pointer to /resume."""
    import sqlite3

    from lib.core.errors import BatonError, ConfigError
    from lib.resume import dashboard as resume
    from lib.store.index import Index, IndexCold, IndexStale

    budget = max(0.05, deadline - time.monotonic())
    try:
        index = Index(root, create=False, busy_timeout=min(0.5, budget))
    except IndexCold:
        return POINTER_COLD
    with index:
        if not index.is_complete:
            return POINTER_COLD
        try:
            index.refresh(validate=False, max_changes=MAX_CHANGES, deadline=deadline)
        except IndexStale:
            return POINTER_STALE
        except sqlite3.OperationalError:  # another process holds the index longer than we may wait
            return POINTER_STALE
        try:
            operator = resume.resolve_operator(root)
        except ConfigError as exc:  # a broken operators.yaml is worth a line in the log
            _log(root, f"operator: {exc}")
            operator = None
        except BatonError:  # nobody named, or an unknown email: the team view, as /resume shows it
            operator = None
        return compose(index, operator, int(settings["max_tokens"]) * CHARS_PER_TOKEN)


def compose(index: Any, operator: Any, max_chars: int) -> str:
    from lib.resume import dashboard as resume

    slug = operator.slug if operator else None
    last = resume.last_session(index, slug)
    if operator is None:
        who = "the team (no operator set)"
    else:
        who = operator.slug + (f" ({operator.name})" if operator.name else "")
    head = [f"baton resume context for {who}; type /resume for the full dashboard."]
    tail: list[str] = []
    if operator:
        mine = resume.partition_workstreams(index, slug)["mine"]
        if mine:
            items = [f"{w['slug']} ({w['status']}, last {w['last_activity'] or 'never'})" for w in mine[:5]]
            more = f" and {len(mine) - 5} more" if len(mine) > 5 else ""
            tail.append("Your live workstreams: " + ", ".join(items) + more + ".")
    if last is None:
        head.append(resume.no_sessions_message(slug).capitalize() + ".")
        return _fit(head, [], tail, max_chars)
    bits = [last.get("date") or "undated"]
    for key, label in (("outcome", ""), ("confidence", "confidence ")):
        if last.get(key):
            bits.append(f"{label}{last[key]}")
    by = "" if operator else f" by {last.get('operator') or 'unknown'}"
    head.append(f"Last session{by}: {last['id']} ({', '.join(bits)}): {last.get('title') or ''}".rstrip(": "))
    body: list[str] = []
    summary = last.get("summary") or last.get("summary_section")
    if summary:
        body.append(f"Summary: {summary}")
    if last.get("resume_prompt"):
        body.append("Resume Prompt:\n" + last["resume_prompt"])
    if last.get("open_questions"):
        body.append("Open questions:\n" + last["open_questions"])
    return _fit(head, body, tail, max_chars)


def _fit(head: list[str], body: list[str], tail: list[str], max_chars: int) -> str:
    """Head and tail always; body parts in order while they fit, the first one that does not cut short."""
    fixed = "\n".join(head + tail)
    room = max_chars - len(fixed) - 1
    kept: list[str] = []
    for part in body:
        need = len(part) + 1
        if need <= room:
            kept.append(part)
            room -= need
            continue
        if room > 80:
            kept.append(part[: room - 2].rstrip() + " …")
        break
    text = "\n".join(head + kept + tail)
    return text[:max_chars]


def _log(root: Path | None, message: str) -> None:
    try:
        from lib.telemetry.files import log_error

        state_dir = str((root or Path.cwd()) / ".claude" / "state")
        log_error(state_dir, "resume_context: " + message)
    except Exception:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
