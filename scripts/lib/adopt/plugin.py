"""baton as a Claude Code plugin: the files that make this repository one, generated from its sources.

The repository root is the plugin root (`/plugin marketplace add <repo>` then `/plugin install
baton@baton`):

- `.claude-plugin/plugin.json` and `.claude-plugin/marketplace.json` (version from pyproject.toml);
- `.mcp.json`: baton's read-only MCP server (lib.adopt.mcp), which this repository registers
  through the same file;
- `hooks/hooks.json`: the hooks of `claude_settings.baton_hook_entries`, addressed through
  `${CLAUDE_PLUGIN_ROOT}` and run with `python3` (they are standard-library only), plus the
  SessionStart hook `scripts/hooks/plugin_env.py` that readies the helpers. The hooks write to
  the project's store through `$CLAUDE_PROJECT_DIR`, as project-level hooks do;
- `commands/*.md`: `.claude/commands/*.md` with each `./scripts/py scripts/<helper>.py` call
  (and its allowed-tools entry) turned into `baton <helper>.py`, the plugin's `bin/` launcher:
  `${CLAUDE_PLUGIN_ROOT}` is not expanded inside command markdown, a name on PATH needs no path.

`scripts/build_plugin.py` writes them; `--check` (run by the tests) fails when one is stale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.adopt import claude_settings, mcp
from lib.adopt.manifest import baton_version
from lib.adopt.payload import rewrite_helper_calls, source_commands
from lib.core import atomic

NAME = "baton"
DESCRIPTION = ("Git-native store of a team's Claude Code work: telemetry of every tool call, /handoff notes and "
               "/resume dashboards kept as markdown in the repository")
PLUGIN_JSON = ".claude-plugin/plugin.json"
MARKETPLACE_JSON = ".claude-plugin/marketplace.json"
HOOKS_JSON = "hooks/hooks.json"
COMMANDS_DIR = "commands"
BIN = "bin/baton"
HELPER_PREFIX = "baton "
ENV_SCRIPT = "scripts/hooks/plugin_env.py"
ENV_TIMEOUT = 10


def hook_entries() -> list[claude_settings.HookEntry]:
    location = claude_settings.PLUGIN
    entries = claude_settings.baton_hook_entries(location)
    entries.append(claude_settings.HookEntry(
        "SessionStart", claude_settings.stdlib_hook_command(ENV_SCRIPT, location), location.path(ENV_SCRIPT),
        timeout=ENV_TIMEOUT))
    return entries


def hooks_json() -> dict[str, Any]:
    merged = claude_settings.merge_hooks({}, hook_entries())
    return {"description": "baton: counts every tool call into the project's .claude/state (telemetry) and "
                           "readies the helpers' Python environment", **merged}


def plugin_json(root: Path) -> dict[str, Any]:
    return {
        "name": NAME,
        "version": baton_version(root),
        "description": DESCRIPTION,
        "author": {"name": "baton"},
        "license": "MIT",
        "keywords": ["handoff", "resume", "telemetry", "sessions", "team"],
    }


def marketplace_json(root: Path) -> dict[str, Any]:
    return {
        "name": NAME,
        "owner": {"name": "baton"},
        "metadata": {"description": "baton, the Git-native store of a team's Claude Code work"},
        "plugins": [{"name": NAME, "source": "./", "description": DESCRIPTION, "version": baton_version(root)}],
    }


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def expected(root: Path) -> dict[str, str]:
    """Every generated plugin file (path relative to the root -> its text)."""
    files = {
        PLUGIN_JSON: _json(plugin_json(root)),
        MARKETPLACE_JSON: _json(marketplace_json(root)),
        HOOKS_JSON: _json(hooks_json()),
        mcp.MCP_JSON: _json(mcp.plugin_mcp_json()),
    }
    for name, text in source_commands(root).items():
        files[f"{COMMANDS_DIR}/{name}"] = rewrite_helper_calls(text, HELPER_PREFIX)
    return files


def stale(root: Path) -> list[str]:
    """Generated files that are missing or differ, and command files whose source is gone."""
    found = []
    for rel, text in expected(root).items():
        try:
            if (root / rel).read_text(encoding="utf-8") != text:
                found.append(rel)
        except FileNotFoundError:
            found.append(rel)
    found += _orphans(root)
    return sorted(found)


def _orphans(root: Path) -> list[str]:
    wanted = set(source_commands(root))
    folder = root / COMMANDS_DIR
    if not folder.is_dir():
        return []
    return [f"{COMMANDS_DIR}/{p.name}" for p in sorted(folder.glob("*.md")) if p.name not in wanted]


def build(root: Path) -> list[str]:
    """Write the generated files that changed, remove commands whose source is gone; returns what changed."""
    changed = []
    for rel, text in expected(root).items():
        path = root / rel
        try:
            if path.read_text(encoding="utf-8") == text:
                continue
        except FileNotFoundError:
            pass
        atomic.write_text(path, text)
        changed.append(rel)
    for rel in _orphans(root):
        (root / rel).unlink()
        changed.append(rel)
    return sorted(changed)
