"""The chain runner driving the real Claude Code CLI (against the local API stand-in).

What only the real client can show: the runner's flags are accepted as they are built, the
variables it exports reach the session's Bash tool, and its classification holds on the
stream the CLI really prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lib.store import frontmatter
from support.roster import member, write_roster

from . import standin as s
from .claude_cli import REPO_ROOT, Claude, ProjectClone
from .handoff_flow import closing, finish_call, quick_content
from .standin import StandIn

# Written by the "model" through the Bash tool, as `/handoff --auto` would: the id and the
# operator come from the environment the runner gave the session.
WRITE_NOTE = r"""mkdir -p docs/sessions && cat > "docs/sessions/$BATON_SESSION_ID.md" <<EOF
---
title: "Session $BATON_SESSION_ID"
operator: "$OPERATOR"
summary: "Wrote greeting.txt, which was the whole mission."
tags: [chain]
kind: session
external_id: "$BATON_SESSION_ID"
status: written
outcome: done
date: "2026-11-22"
chain_id: "$BATON_CHAIN_ID"
---

## Summary

Wrote greeting.txt, which was the whole mission.

## Resume Prompt

Nothing is left to do. Confidence: high
EOF
echo hello > greeting.txt && git add greeting.txt "docs/sessions/$BATON_SESSION_ID.md" && git commit -q -m "handoff: $BATON_SESSION_ID" && echo committed"""


def _run_chain(claude: Claude, project: Path, *args: str, mission: str = "Write greeting.txt.",
               settings: str = "") -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    write_roster(project, [member("rt", "RT", "Rita")])
    (project / ".claude" / "baton.yaml").write_text(
        "chains:\n  backoff_base_s: 0.05\n  stall_s: 60\n  session_wall_clock_s: 60\n  kill_grace_s: 1\n" + settings)
    env = claude.environment({"BATON_STATE_HOME": os.environ["BATON_STATE_HOME"]})
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "chains.py"), "run", f"--mission={mission}",
         "--operator", "rt", "--model", claude.model, "--allowed-tools", "Bash", "--max-sessions", "2", "--json",
         *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def test_the_runner_drives_the_real_cli_to_done(claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    (scratch_project / "README.md").write_text("scratch\n")
    subprocess.run(["git", "add", "README.md"], cwd=scratch_project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=scratch_project, check=True)
    standin.add(s.bash(WRITE_NOTE, tool_id="toolu_note"), s.text("Done: the handoff is written."))

    proc, chain = _run_chain(claude, scratch_project)

    assert proc.returncode == 0, proc.stderr
    assert chain["status"] == "done", proc.stderr
    [session] = chain["sessions"]
    assert session["status"] == "ok" and session["handoff"]["status"] == "valid"
    assert session["claude_session_id"]
    assert session["cost_usd"] > 0 and session["turns"] >= 2
    assert (scratch_project / "greeting.txt").read_text() == "hello\n"
    # The session's Bash tool saw the runner's variables.
    note = (scratch_project / "docs" / "sessions" / f"{session['id']}.md").read_text()
    assert 'operator: "rt"' in note and f'chain_id: "{chain["id"]}"' in note
    # The flags the runner built, as the CLI received them: the prompt asks for the handoff.
    first = standin.model_requests()[0]
    assert "Write greeting.txt." in first.all_text() and "/handoff --auto" in first.all_text()
    assert "Bash" in first.tool_names()


def test_a_real_auth_failure_stops_the_chain_at_once(claude: Claude, standin: StandIn,
                                                     scratch_project: Path) -> None:
    standin.add(s.Persistent(s.authentication_error()))

    proc, chain = _run_chain(claude, scratch_project)

    assert proc.returncode == 1
    assert chain["status"] == "failed"
    [session] = chain["sessions"]
    assert (session["error_kind"], session["reason"]) == ("fatal", "auth")
    assert len(session["attempts"]) == 1


def test_a_real_overload_is_retried_by_the_runner(claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    # The CLI's own retry (CLAUDE_CODE_MAX_RETRIES=1) takes two requests; then the runner retries.
    standin.add(s.overloaded_error(), s.overloaded_error(), s.bash(WRITE_NOTE), s.text("Done."))

    proc, chain = _run_chain(claude, scratch_project)

    assert chain["status"] == "done", proc.stderr
    [session] = chain["sessions"]
    assert [a["reason"] for a in session["attempts"]] == ["server_error", "ok"]
    assert session["attempts"][0]["error_kind"] == "transient"
    assert [d["what"] for d in chain["decisions"] if d["type"] == "retry"] == ["session"]


def test_a_chain_session_runs_the_real_handoff_command_through_the_skill_tool(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    """The whole path: the runner's prompt asks for /handoff --auto; the model invokes it with the Skill
    tool (granted by the runner as Skill(handoff)); the command's pre-run `start` reuses the id the runner
    claimed; one `finish` call writes, commits and pushes the note; the runner finds it valid."""
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    seen: dict[str, Any] = {}
    content = {**quick_content("chain session"), "title": "Chain session under the real client"}

    standin.add(
        s.tool_call("Skill", {"skill": "handoff", "args": "--auto"}),
        finish_call(content, seen=seen),
        closing(seen),
    )
    env = claude.environment({"BATON_STATE_HOME": os.environ["BATON_STATE_HOME"]})
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "chains.py"), "run", "--mission", "Finish the mission.",
         "--operator", "ada", "--model", claude.model, "--max-sessions", "1", "--json"],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )

    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done", proc.stderr
    [session] = chain["sessions"]
    assert session["handoff"]["status"] == "valid"
    # The Skill call loaded the command, whose pre-run start reused the id the runner had claimed.
    assert seen["start"]["id"] == session["id"] and seen["start"]["claim"] == "preclaimed"
    assert seen["start"]["mode"] == "auto" and seen["finish"]["ok"]
    assert len(standin.model_requests()) == 3  # the Skill call, finish, the closing message
    metadata = frontmatter.read_metadata(root / "docs" / "sessions" / f"{session['id']}.md")
    assert metadata["outcome"] == "done" and metadata["mode"] == "auto" and metadata["operator"] == "ada"
    assert metadata["claude_session_id"] == session["claude_session_id"]
    remote = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=project_clone.remote, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert remote == f"handoff: {session['id']} Chain session under the real client"
    standin.assert_script_consumed()


def _note_with(outcome: str, next_steps: str) -> str:
    """WRITE_NOTE for a session that is not the last: outcome incomplete, with Next steps."""
    return (WRITE_NOTE.replace("outcome: done", f"outcome: {outcome}")
            .replace("## Resume Prompt", f"## Next steps\n\n1. {next_steps}\n\n## Resume Prompt")
            .replace("Nothing is left to do. Confidence: high", f"Resume at: {next_steps} Confidence: medium"))


def test_a_three_session_chain_runs_to_done_each_session_starting_from_the_last_note(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    (scratch_project / "README.md").write_text("scratch\n")
    subprocess.run(["git", "add", "README.md"], cwd=scratch_project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=scratch_project, check=True)
    standin.add(s.bash(_note_with("incomplete", "Write part two.")), s.text("Part one done."),
                s.bash(_note_with("incomplete", "Write part three.")), s.text("Part two done."),
                s.bash(WRITE_NOTE), s.text("All done."))

    proc, chain = _run_chain(claude, scratch_project, "--max-sessions", "5")

    assert chain["status"] == "done", proc.stderr
    assert len(chain["sessions"]) == 3
    assert all(sess["handoff"]["status"] == "valid" for sess in chain["sessions"])
    starts = [r for r in standin.model_requests() if len(r.messages()) == 1]
    assert len(starts) == 3
    assert "Write part two." in starts[1].all_text() and "Write part three." in starts[2].all_text()


def test_a_budget_the_cli_enforces_stops_the_chain(claude: Claude, standin: StandIn,
                                                   scratch_project: Path) -> None:
    # One turn worth about $0.30 against a chain budget of $0.05: the CLI stops the session with
    # error_max_budget_usd, and the runner starts no other.
    standin.add(s.bash("echo working", usage=s.Usage(input_tokens=100_000, output_tokens=1_000)),
                s.text("More to do."))

    proc, chain = _run_chain(claude, scratch_project, "--max-budget-usd", "0.05")

    assert chain["status"] == "budget_exhausted", proc.stderr
    [session] = chain["sessions"]
    assert session["result_subtype"] == "error_max_budget_usd"
    assert session["failure_class"] == "budget_exceeded"
    assert chain["totals"]["cost_usd"] >= 0.05


@pytest.mark.parametrize("mission", ["- write greeting.txt\n- then stop", "--allowedTools=Bash(rm:*) write greeting.txt"])
def test_a_mission_that_looks_like_an_option_is_a_prompt_to_the_real_cli(
        claude: Claude, standin: StandIn, scratch_project: Path, mission: str) -> None:
    standin.add(s.bash(WRITE_NOTE), s.text("Done."))

    proc, chain = _run_chain(claude, scratch_project, mission=mission)

    # As an argument, the CLI would take it for an option ("unknown option", or a wider grant).
    assert chain["status"] == "done", proc.stderr
    first = standin.model_requests()[0]
    assert mission in s.flatten_text(first.messages()[0].get("content"))


PARSER_TEST = """def test_roundtrip():
    assert int("1") == 2
"""


def test_two_sessions_failing_the_same_test_escalate_the_third_with_a_prompt_naming_it(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    (scratch_project / "tests").mkdir()
    (scratch_project / "tests" / "test_parser.py").write_text(PARSER_TEST)
    subprocess.run(["git", "add", "tests"], cwd=scratch_project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "a failing test"], cwd=scratch_project, check=True)
    pytest_run = f"{sys.executable} -m pytest -q -p no:cacheprovider tests/test_parser.py"
    failing = [s.bash(pytest_run), s.bash(_note_with("incomplete", "Fix test_roundtrip.")), s.text("Still red.")]
    standin.add(*failing, *failing, s.bash(WRITE_NOTE), s.text("Green now."))
    escalated = "claude-opus-4-1"

    proc, chain = _run_chain(claude, scratch_project, "--max-sessions", "3",
                             settings=f"  routing:\n    ladder: [{claude.model}, {escalated}]\n    escalate_after: 2\n")

    assert chain["status"] == "done", proc.stderr
    # The first request of each session: no tool result to answer yet.
    starts = [r for r in standin.model_requests() if not r.tool_results()]
    models = [str(r.json.get("model")) for r in starts]
    # The CLI resolves an Opus id to its current Opus model: what counts is that the tier changed.
    assert models[:2] == [claude.model, claude.model] and models[2].startswith("claude-opus-4"), models
    assert [x["requested_model"] for x in chain["sessions"]] == [claude.model, claude.model, escalated]
    third = s.flatten_text(starts[2].messages()[0].get("content"))
    assert "test_roundtrip" in third and "test_fail" in third
    s1, s2, s3 = chain["sessions"]
    assert s1["failure_class"] == s2["failure_class"] == "test_fail" and s3["failure_class"] is None
    [escalation] = [d for d in chain["decisions"] if d["type"] == "escalation"]
    assert escalation["session"] == s3["id"] and escalation["resolved_by"] == s3["id"]
