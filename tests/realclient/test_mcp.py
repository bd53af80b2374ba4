"""Real MCP calls under the real CLI: counted under the canonical key, and the handoff flags the invariant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import StandIn

SERVER = Path(__file__).with_name("mcp_notion_offplan.py")


def test_notion_offplan_calls_land_under_the_canonical_key_and_break_the_invariant(
        claude: Claude, standin: StandIn, project_clone: ProjectClone, tmp_path: Path) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"notion_offplan": {
        "command": sys.executable, "args": [str(SERVER)]}}}))
    standin.add(
        # a Python MCP server takes a moment to start: the CLI asks models to wait for it first
        s.tool_call("WaitForMcpServers", {}),
        s.tool_call("mcp__notion_offplan__search", {"query": "roadmap"}),
        s.tool_call("mcp__notion_offplan__create_page", {"title": "Weekly update"}),
        s.text("Looked in Notion."),
    )

    # Only this server: the project's own (baton's, from .mcp.json) would start beside it and slow it down.
    run = claude.run("check notion", cwd=root, args=["--mcp-config", str(config), "--strict-mcp-config"],
                     allowed_tools="mcp__notion_offplan__search,mcp__notion_offplan__create_page")

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    answers = [s.flatten_text(r["content"]) for r in run.tool_results()][1:]
    assert len(answers) == 2
    assert "no pages match roadmap" in answers[0] and "created Weekly update" in answers[1]
    state = json.loads((root / ".claude" / "state" / f"session-{run.session_id}.json").read_text())
    assert state["tool_calls_breakdown"]["mcp__notion_offplan"] == 2
    assert not any(key.startswith("mcp__notion_offplan__") for key in state["tool_calls_breakdown"])
    assert state["tool_calls_breakdown_methods"] == {"mcp__notion_offplan": {"search": 1, "create_page": 1}}

    telemetry = subprocess.run(
        [sys.executable, "scripts/handoff_helpers.py", "telemetry-read", "--session-id", run.session_id, "--json"],
        cwd=root, env={**os.environ, "OPERATOR": "ada"}, capture_output=True, text=True, timeout=120)
    assert telemetry.returncode == 0, telemetry.stderr
    assert "WARNING: this session broke an invariant" in telemetry.stderr
    assert "tool_calls_breakdown.mcp__notion_offplan = 2 (must be 0)" in telemetry.stderr
    assert json.loads(telemetry.stdout)["invariants"] == {"tool_calls_breakdown.mcp__notion_offplan": 2}
