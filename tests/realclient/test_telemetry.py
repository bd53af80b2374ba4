"""The telemetry hook under the real Claude Code CLI, registered by the committed .claude/settings.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from lib.failures import classify as failures

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import StandIn, Usage


def _use_test_venv(clone: ProjectClone) -> None:
    # The clone has no .venv of its own: give it this one, so the hook runs through the launcher.
    (clone.path / ".venv").symlink_to(Path(sys.prefix))


def test_counts_lifecycle_and_cost_match_what_the_cli_did(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    _use_test_venv(project_clone)
    usages = [Usage(input_tokens=1200 + 100 * i, output_tokens=80 + 10 * i,
                    cache_creation_input_tokens=300 * i, cache_read_input_tokens=4000 + 500 * i)
              for i in range(5)]
    standin.add(
        s.bash("echo counted", "succeeds", usage=usages[0]),
        s.bash("ls /nonexistent-dir", "fails", usage=usages[1]),
        s.agent("Say hi", description="ask a helper", usage=usages[2]),
        s.text("All done.", usage=usages[4]),
    )
    standin.add_subagent(s.text("sub: hi", usage=usages[3]))

    run = claude.run("go", cwd=project_clone.path, allowed_tools="Bash,Agent")

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    state_dir = project_clone.path / ".claude" / "state"
    state = json.loads((state_dir / f"session-{run.session_id}.json").read_text())
    assert state["tool_calls_count"] == 3
    assert state["tool_calls_breakdown"] == {"Bash": 2, "Agent": 1}
    assert state["tool_failures_count"] == 1
    assert state["subagents_dispatched"] == 1
    assert state["session_starts"] == 1 and state["last_start_source"] == "startup"
    assert state["ended_at"] and state["end_reason"]
    assert Path(state["transcript_path"]) == run.transcript_path
    # the one failure was classified at SessionEnd, as the classifier sees the CLI's error text
    [record] = [json.loads(line) for line in (state_dir / f"session-{run.session_id}.failures.jsonl")
                .read_text().splitlines()]
    assert record["text"].startswith("Exit code 2")
    expected = failures.classify(record["text"], tool="Bash", exit_code=record["exit_code"]).failure_class
    assert state["failures_breakdown"] == {expected: 1}
    # tokens and cost from the transcripts (subagent's included) equal the CLI's own figure
    assert state["tokens"] == {
        "input": sum(u.input_tokens for u in usages),
        "output": sum(u.output_tokens for u in usages),
        "cache_creation": sum(u.cache_creation_input_tokens for u in usages),
        "cache_read": sum(u.cache_read_input_tokens for u in usages),
    }
    assert state["cost_usd"] == pytest.approx(run.result["total_cost_usd"], abs=1e-6)
    assert not (state_dir / "hook-errors.log").exists()
