"""Registering baton's MCP server (scripts/mcp_server.py) as the `baton` server in a `.mcp.json`.

Three places register it: this repository's `.mcp.json`, which is also the plugin's (the
repository root is the plugin root, and Claude Code reads a plugin's servers from the
`.mcp.json` there), and the `.mcp.json` the installer merges into an adopting repository.
The plugin's entry finds the code through `$CLAUDE_PLUGIN_ROOT` and, in a project, the current
folder (see `plugin_mcp_json`); `scripts/py` runs the project's `.venv` or, in the plugin,
`$BATON_PYTHON` or the venv its SessionStart hook makes under `$CLAUDE_PLUGIN_DATA`.

An entry is ours when it is exactly the one we write: a `baton` server someone configured
differently is theirs and left alone, and uninstalling removes only ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lib.adopt.report import KEPT_YOURS, SKIPPED_THEIRS
from lib.core import atomic
from lib.core.errors import BatonError

MCP_JSON = ".mcp.json"
SERVER = "baton"
PLUGIN_LAUNCH = ('root=$CLAUDE_PLUGIN_ROOT; [ -n "$root" ] || root=.; '
                 'exec "$root/scripts/py" "$root/scripts/mcp_server.py"')


def server_entry(scripts: str) -> dict[str, Any]:
    """The `baton` entry for baton's code in the folder `scripts`, relative to the project."""
    return {"command": f"{_relative(scripts)}/py", "args": [f"{_relative(scripts)}/mcp_server.py"]}


def plugin_mcp_json() -> dict[str, Any]:
    """This repository's (and the plugin's) `.mcp.json`.

    Claude Code substitutes `${CLAUDE_PLUGIN_ROOT}` in a plugin's file but would leave a project
    without the variable, and expands `${VAR:-default}` from its own environment, where the plugin
    root is not. So the shell finds the folder when the server starts: the plugin root from the
    server's environment, else the project (the current folder). No `${` in it, so Claude Code
    passes it through untouched.
    """
    return {"mcpServers": {SERVER: {"command": "sh", "args": ["-c", PLUGIN_LAUNCH]}}}


def register(target: Path, scripts: str, *, dry_run: bool = False) -> str:
    """Add the `baton` server to `target/.mcp.json` (made if missing); returns what was done."""
    path = target / MCP_JSON
    data = _load(path)
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise BatonError(f"{path}: 'mcpServers' must be an object")
    entry = server_entry(scripts)
    existing = servers.get(SERVER)
    if existing == entry:
        return "unchanged"
    if existing is not None:
        return SKIPPED_THEIRS
    servers[SERVER] = entry
    existed = path.exists()
    if not dry_run:
        atomic.write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return "added" if existed else "created"


def unregister(target: Path, scripts: str, *, dry_run: bool = False) -> str:
    """Remove our `baton` server from `target/.mcp.json` (the file too when nothing else is left in it)."""
    path = target / MCP_JSON
    if not path.exists():
        return "not installed"
    data = _load(path)
    servers = data.get("mcpServers")
    if not isinstance(servers, dict) or servers.get(SERVER) != server_entry(scripts):
        return "not installed" if not isinstance(servers, dict) or SERVER not in servers else KEPT_YOURS
    del servers[SERVER]
    if not dry_run:
        if not servers and set(data) == {"mcpServers"}:
            path.unlink()
        else:
            atomic.write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return "removed"


def _relative(scripts: str) -> str:
    return scripts if scripts.startswith(("$", "/", "./")) else f"./{scripts}"


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BatonError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise BatonError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BatonError(f"{path}: must be a JSON object")
    return data
