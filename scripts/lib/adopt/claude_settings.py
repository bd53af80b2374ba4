"""Claude Code's `.claude/settings.json`: load, merge our hook entries, save.

One merge for every installer (scripts/install_hooks.py here, the adopt installer for other
repositories): it never clobbers. Foreign hooks and keys are kept as they are, a second run
changes nothing, an older version of one of our handlers is updated in place, and a malformed
file is reported and left untouched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core import atomic
from lib.core.errors import BatonError

SETTINGS_PATH = ".claude/settings.json"

# Claude Code sets $CLAUDE_PROJECT_DIR for hooks; quoting it keeps paths with spaces working.
PROJECT = '"$CLAUDE_PROJECT_DIR"'


@dataclass(frozen=True)
class HookEntry:
    """One handler to register: under `event`, in the group with `matcher` (None: no matcher key).

    `marker` identifies this handler across versions (a substring of its command, e.g. the
    script path), so a changed command or timeout replaces ours instead of adding a second.
    """

    event: str
    command: str
    marker: str
    matcher: str | None = None
    timeout: int | None = None

    def handler(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "command", "command": self.command}
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


@dataclass(frozen=True)
class HookLocation:
    """Where a hook command finds baton's scripts.

    `base` is a shell word for the root the paths start from, `scripts` baton's scripts
    folder under it, and `launcher` whether to try `<scripts>/py` (the venv beside that folder)
    before python3, or else `interpreter`, a shell word for a Python to try first. In this
    repository: `"$CLAUDE_PROJECT_DIR"` and `scripts`; installed into another repository:
    `.baton/scripts`; in the plugin: `"${CLAUDE_PLUGIN_ROOT}"` with no launcher (a plugin has no
    venv beside its scripts) but the venv its SessionStart hook makes: `python3` on PATH is often
    a version manager's shim that costs a few hundred milliseconds per call.
    """

    base: str = PROJECT
    scripts: str = "scripts"
    launcher: bool = True
    interpreter: str | None = None

    def path(self, script: str) -> str:
        """`script`, a path as in this repository (`scripts/...`), in this location."""
        if script.startswith("scripts/"):
            return f"{self.scripts}/{script[len('scripts/'):]}"
        return script


REPOSITORY = HookLocation()
PLUGIN = HookLocation(base='"${CLAUDE_PLUGIN_ROOT}"', launcher=False,
                      interpreter='"${BATON_PYTHON:-$CLAUDE_PLUGIN_DATA/venv/bin/python}"')


def stdlib_hook_command(script: str, location: HookLocation = REPOSITORY) -> str:
    """The command for a standard-library-only hook script (`scripts/...`, as in this repository).

    It runs through the launcher (scripts/py, the project's .venv) with -I -S: isolated from
    PYTHON* variables and site-packages, which the hook does not need and which cost start-up
    time. When the launcher fails (no .venv yet) it falls back to python3 on PATH, and the
    command always ends in success, so a missing .venv never blocks Claude Code.
    """
    target = f"{location.base}/{location.path(script)}"
    if location.launcher:
        first: str | None = f"{location.base}/{location.path('scripts/py')}"
    else:
        first = location.interpreter
    tries = [f"{first} -I -S {target}"] if first else []
    return " || ".join([*tries, f"python3 -I -S {target}", "true"])


def environment_hook_command(script: str, location: HookLocation = REPOSITORY) -> str:
    """The command for a hook that needs baton's dependencies: the launcher (or the plugin's
    environment) with -I, and no bare-python3 fallback; it still always ends in success."""
    target = f"{location.base}/{location.path(script)}"
    runner = f"{location.base}/{location.path('scripts/py')}" if location.launcher else location.interpreter
    return f"{runner} -I {target} || true"


TELEMETRY_SCRIPT = "scripts/hooks/session_state.py"
TELEMETRY_TIMEOUT = 10
PRECOMPACT_SCRIPT = "scripts/hooks/precompact.py"
RESUME_CONTEXT_SCRIPT = "scripts/hooks/resume_context.py"


def baton_hook_entries(location: HookLocation = REPOSITORY) -> list[HookEntry]:
    """Every hook baton registers. New hooks (e.g. the SessionStart resume context and the
    PreCompact reminder) are added to this list, and installers pick them up. Each entry's
    marker is its script's path in `location`, so an install elsewhere is told apart."""
    telemetry = stdlib_hook_command(TELEMETRY_SCRIPT, location)
    marker = location.path(TELEMETRY_SCRIPT)
    return [
        HookEntry("PostToolUse", telemetry, marker, matcher="*", timeout=TELEMETRY_TIMEOUT),
        HookEntry("PostToolUseFailure", telemetry, marker, matcher="*", timeout=TELEMETRY_TIMEOUT),
        HookEntry("SessionStart", telemetry, marker, timeout=TELEMETRY_TIMEOUT),
        HookEntry("SessionEnd", telemetry, marker, timeout=TELEMETRY_TIMEOUT),
        HookEntry("PreCompact", telemetry, marker, timeout=TELEMETRY_TIMEOUT),
        HookEntry("PreCompact", stdlib_hook_command(PRECOMPACT_SCRIPT, location), location.path(PRECOMPACT_SCRIPT),
                  timeout=10),
        # Not stdlib-only (it reads the index and operators): the environment's python, without -S.
        HookEntry("SessionStart", environment_hook_command(RESUME_CONTEXT_SCRIPT, location),
                  location.path(RESUME_CONTEXT_SCRIPT), matcher="startup|resume|clear", timeout=10),
    ]


def _check_shape(settings: Any, source: str) -> None:
    """Refuse what we cannot merge into without guessing: one line naming the field."""
    if not isinstance(settings, dict):
        raise BatonError(f"{source}: must be a JSON object; left untouched")
    hooks = settings.get("hooks")
    if hooks is None:
        return
    if not isinstance(hooks, dict):
        raise BatonError(f"{source}: /hooks must be an object; left untouched")
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise BatonError(f"{source}: /hooks/{event} must be a list; left untouched")
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
                raise BatonError(f"{source}: /hooks/{event}/{i} must be an object with a 'hooks' list; left untouched")


def _is_ours(handler: Any, marker: str) -> bool:
    return isinstance(handler, dict) and marker in str(handler.get("command", ""))


def merge_hooks(settings: Mapping[str, Any], entries: Iterable[HookEntry]) -> dict[str, Any]:
    """A copy of `settings` with `entries` registered; everything else kept as it was.

    For each entry: an identical handler in the group with its matcher -> nothing to do; one
    of ours (same marker) there but different -> replaced in place; otherwise appended to
    that group, or to a new group. Ours left under another matcher of the same event (an
    older layout) are removed, with their group when nothing else is in it.
    """
    _check_shape(settings, SETTINGS_PATH)
    out = copy.deepcopy(dict(settings))
    hooks = out.setdefault("hooks", {})
    for entry in entries:
        wanted = entry.handler()
        groups = hooks.setdefault(entry.event, [])
        for group in list(groups):
            if group.get("matcher") == entry.matcher:
                continue
            handlers = group.get("hooks", [])
            kept = [h for h in handlers if not _is_ours(h, entry.marker)]
            if len(kept) != len(handlers):
                if kept:
                    group["hooks"] = kept
                else:
                    groups.remove(group)
        group = next((g for g in groups if g.get("matcher") == entry.matcher), None)
        if group is None:
            group = {"matcher": entry.matcher, "hooks": []} if entry.matcher is not None else {"hooks": []}
            groups.append(group)
        handlers = group.setdefault("hooks", [])
        if wanted in handlers:
            continue
        for i, handler in enumerate(handlers):
            if _is_ours(handler, entry.marker):
                handlers[i] = wanted
                break
        else:
            handlers.append(wanted)
    return out


def remove_hooks(settings: Mapping[str, Any], markers: Iterable[str]) -> dict[str, Any]:
    """A copy of `settings` without our handlers (by marker); groups and events left empty go too."""
    _check_shape(settings, SETTINGS_PATH)
    marks = list(markers)
    out = copy.deepcopy(dict(settings))
    hooks = out.get("hooks")
    if not isinstance(hooks, dict):
        return out
    for event in list(hooks):
        groups = []
        for group in hooks[event]:
            before = group.get("hooks", [])
            kept = [h for h in before if not any(_is_ours(h, m) for m in marks)]
            if kept or not before:
                groups.append({**group, "hooks": kept})
        if groups:
            hooks[event] = groups
        else:
            del hooks[event]
    if not hooks:
        del out["hooks"]
    return out


def load(path: Path) -> dict[str, Any]:
    """The settings at `path` ({} when the file does not exist); malformed -> BatonError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BatonError(f"{path}: cannot read: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatonError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); left untouched") from None
    _check_shape(data, str(path))
    checked: dict[str, Any] = data
    return checked


def dumps(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def save(path: Path, settings: Mapping[str, Any]) -> None:
    atomic.write_text(path, dumps(settings))


def install(path: Path, entries: Iterable[HookEntry], *, dry_run: bool = False) -> bool:
    """Merge `entries` into the settings file at `path`; True when it changed (or would)."""
    current = load(path)
    merged = merge_hooks(current, entries)
    changed = merged != current or not path.exists()
    if changed and not dry_run:
        save(path, merged)
    return changed


def uninstall(path: Path, markers: Iterable[str], *, dry_run: bool = False) -> bool:
    """Remove our handlers from the settings file at `path`; True when it changed (or would)."""
    if not path.exists():
        return False
    current = load(path)
    cleaned = remove_hooks(current, markers)
    changed = cleaned != current
    if changed and not dry_run:
        save(path, cleaned)
    return changed
