"""Registering the `baton` MCP server in .mcp.json: merged beside theirs, never clobbering, removed cleanly;
the installed entry starts a working server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import REPO_ROOT
from lib.adopt import install, mcp, uninstall
from lib.adopt.report import Options
from lib.core.errors import BatonError
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

THEIRS: dict[str, Any] = {"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}},
          "extra": True}


def read(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / ".mcp.json").read_text(encoding="utf-8"))
    return data


def test_register_creates_the_file_then_changes_nothing(tmp_path: Path) -> None:
    assert mcp.register(tmp_path, ".baton/scripts") == "created"
    assert read(tmp_path) == {"mcpServers": {"baton": {
        "command": "./.baton/scripts/py", "args": ["./.baton/scripts/mcp_server.py"]}}}
    before = (tmp_path / ".mcp.json").read_bytes()
    assert mcp.register(tmp_path, ".baton/scripts") == "unchanged"
    assert (tmp_path / ".mcp.json").read_bytes() == before


def test_register_and_unregister_keep_their_servers(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text(json.dumps(THEIRS), encoding="utf-8")
    assert mcp.register(tmp_path, ".baton/scripts") == "added"
    assert read(tmp_path)["mcpServers"] == {**THEIRS["mcpServers"], "baton": mcp.server_entry(".baton/scripts")}
    assert mcp.unregister(tmp_path, ".baton/scripts") == "removed"
    assert read(tmp_path) == THEIRS


def test_a_baton_server_of_theirs_is_left_alone(tmp_path: Path) -> None:
    mine = {"mcpServers": {"baton": {"command": "my-own-baton"}}}
    (tmp_path / ".mcp.json").write_text(json.dumps(mine), encoding="utf-8")
    assert mcp.register(tmp_path, ".baton/scripts") == "skipped (exists and is not baton's)"
    assert mcp.unregister(tmp_path, ".baton/scripts") == "kept (yours)"
    assert read(tmp_path) == mine


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    assert mcp.register(tmp_path, ".baton/scripts", dry_run=True) == "created"
    assert not (tmp_path / ".mcp.json").exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"mcpServers": []}'])
def test_a_malformed_file_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / ".mcp.json").write_text(text, encoding="utf-8")
    with pytest.raises(BatonError) as caught:
        mcp.register(tmp_path, ".baton/scripts")
    assert ".mcp.json" in str(caught.value) and "\n" not in str(caught.value)
    assert (tmp_path / ".mcp.json").read_text(encoding="utf-8") == text


def test_this_repository_and_the_plugin_register_the_server_through_one_file() -> None:
    assert read(REPO_ROOT) == mcp.plugin_mcp_json()
    entry = mcp.plugin_mcp_json()["mcpServers"]["baton"]
    assert entry["command"] == "sh" and "${" not in json.dumps(entry)  # Claude Code would expand it


def _tool_names(command: str, args: list[str], cwd: Path) -> set[str]:
    async def main() -> set[str]:
        params = StdioServerParameters(command=command, args=args, cwd=cwd)
        async with stdio_client(params) as (read_, write), ClientSession(read_, write) as client:
            await client.initialize()
            return {t.name for t in (await client.list_tools()).tools}

    return anyio.run(main)


def test_the_installed_entry_starts_a_working_server_and_uninstall_removes_it(repo: Path) -> None:
    report = install.install(REPO_ROOT, repo, Options(venv=Path(sys.prefix)))
    assert {"what": "mcp", "path": ".mcp.json", "action": "created"} in report.as_dict()["steps"]
    entry = read(repo)["mcpServers"]["baton"]  # type: ignore[index]
    assert "search_notes" in _tool_names(str(repo / entry["command"]), entry["args"], repo)
    uninstall.uninstall(repo, Options(uninstall=True))
    assert not (repo / ".mcp.json").exists()
