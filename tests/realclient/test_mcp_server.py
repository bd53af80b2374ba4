"""baton's MCP server under the real CLI: registered by this repository's .mcp.json, it answers
search_notes with a note written moments before, and its calls count under `mcp__baton`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import standin as s
from .claude_cli import REPO_ROOT, Claude, ProjectClone
from .standin import StandIn

PLANTED = """---
title: Alerts fallback when the SMS gateway is down
operator: ada
summary: Settled how harbour alerts degrade without SMS.
workstream: null
tags: [alerts]
kind: session
external_id: AD-261122-01
status: written
outcome: done
confidence: high
date: 2026-11-22
---
## Summary

Settled how harbour alerts degrade without SMS.

## Decisions

- When the gateway fails twice in a row, the alerts fallback sends e-mail through the relay.

## Resume Prompt

Nothing left to resume.

Confidence: high
"""


def test_the_model_finds_a_planted_note_through_search_notes(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    # Written just now, not committed: the working tree is what is searched.
    (root / "docs/sessions/AD-261122-01.md").write_text(PLANTED, encoding="utf-8")
    standin.add(
        # A Python MCP server takes a moment to start; on a busy machine one wait may not be enough.
        s.tool_call("WaitForMcpServers", {}),
        s.tool_call("WaitForMcpServers", {}),
        s.tool_call("mcp__baton__search_notes", {"query": '"alerts fallback" gateway'}),
        s.text("Found it."),
    )

    run = claude.run("what did we decide about the alerts fallback?", cwd=root,
                     allowed_tools="mcp__baton__search_notes")

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert "baton" in {server["name"] for server in run.init["mcp_servers"]}  # from the project's .mcp.json
    answer = s.flatten_text(run.tool_results()[-1]["content"])
    assert "AD-261122-01" in answer and "Alerts fallback when the SMS gateway is down" in answer
    assert "**alerts** **fallback**" in answer.lower() or "**alerts fallback**" in answer.lower()
    state = json.loads((root / ".claude" / "state" / f"session-{run.session_id}.json").read_text())
    assert state["tool_calls_breakdown"]["mcp__baton"] == 1
    assert state["tool_calls_breakdown_methods"]["mcp__baton"] == {"search_notes": 1}


def test_the_plugin_registers_the_server_and_its_calls_count_under_the_same_key(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    # The plugin as shipped: no .venv in its folder, the Python of BATON_PYTHON (as for its other helpers).
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    for name in (".claude-plugin", ".mcp.json", "bin", "hooks", "scripts", "pyproject.toml"):
        (plugin / name).symlink_to(REPO_ROOT / name)
    (scratch_project / "docs/sessions").mkdir(parents=True)
    (scratch_project / "docs/sessions/AD-261122-01.md").write_text(PLANTED, encoding="utf-8")
    standin.add(
        # The plugin's server starts after the plugin loads: on a busy machine one wait may not be enough.
        s.tool_call("WaitForMcpServers", {}),
        s.tool_call("WaitForMcpServers", {}),
        s.tool_call("mcp__plugin_baton_baton__search_notes", {"query": "gateway"}),
        s.text("Found it."),
    )

    run = claude.run("what happens when the gateway fails?", cwd=scratch_project,
                     args=["--plugin-dir", str(plugin)], env={"BATON_PYTHON": sys.executable},
                     allowed_tools="mcp__plugin_baton_baton__search_notes")

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    answer = s.flatten_text(run.tool_results()[-1]["content"])
    assert "AD-261122-01" in answer, (answer, run.init["mcp_servers"])
    state = json.loads((scratch_project / ".claude/state" / f"session-{run.session_id}.json").read_text())
    assert state["tool_calls_breakdown"]["mcp__baton"] == 1
