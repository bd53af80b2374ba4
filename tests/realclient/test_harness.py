"""The harness itself, proven on the real Claude Code CLI: replies, tools, hooks, commands, errors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import StandIn, Usage

# Payload keys of Claude Code 2.1.197, as captured from real runs (hook-*.jsonl in the reference
# captures); a newer CLI tried with BATON_CLAUDE_VERSION shows here what changed.
PAYLOAD_KEYS = {
    "PostToolUse": {"session_id", "transcript_path", "cwd", "prompt_id", "permission_mode", "effort",
                    "hook_event_name", "tool_name", "tool_input", "tool_response", "tool_use_id",
                    "duration_ms"},
    "PostToolUseFailure": {"session_id", "transcript_path", "cwd", "prompt_id", "permission_mode",
                           "effort", "hook_event_name", "tool_name", "tool_input", "tool_use_id",
                           "error", "is_interrupt", "duration_ms"},
    "SessionStart": {"session_id", "transcript_path", "cwd", "hook_event_name", "source"},
    "SessionEnd": {"session_id", "transcript_path", "cwd", "prompt_id", "hook_event_name", "reason"},
}


def test_text_reply_gives_a_result_with_the_text_and_the_cli_prices_the_scripted_usage(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, cache_creation_input_tokens=2000,
                  cache_read_input_tokens=5000)
    standin.add(s.text("Hello from the stand-in.", usage=usage))

    run = claude.run("say hello", cwd=scratch_project)

    assert run.returncode == 0, run.describe()
    assert run.init["model"] == "claude-sonnet-4-6"
    assert run.init["apiKeySource"] == "ANTHROPIC_API_KEY"
    assert run.result["subtype"] == "success"
    assert run.result["is_error"] is False
    assert run.result["result"] == "Hello from the stand-in."
    assert run.result["usage"]["cache_read_input_tokens"] == 5000
    # 1000*3 + 100*15 + 2000*3.75 + 5000*0.30 dollars per million tokens
    assert run.result["total_cost_usd"] == pytest.approx(0.0135, abs=1e-6)
    assert run.result["total_cost_usd"] == pytest.approx(usage.cost_usd(), abs=1e-6)
    standin.assert_script_consumed()
    first = standin.model_requests()[0]
    assert first.is_stream and first.json["model"] == "claude-sonnet-4-6"
    assert "say hello" in s.flatten_text(first.messages()[-1]["content"])
    assert {r.kind for r in standin.side_requests()} <= {"probe"}


def test_bash_tool_call_runs_and_its_result_comes_back_in_the_next_request(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.bash("echo harness-$((6 * 7)) | tee made-by-bash.txt", tool_id="toolu_bash_1"),
                s.text("Done."))

    run = claude.run("run it", cwd=scratch_project, allowed_tools="Bash")

    assert run.returncode == 0, run.describe()
    assert (scratch_project / "made-by-bash.txt").read_text() == "harness-42\n"
    follow_up = standin.model_requests()[1]
    [result] = follow_up.tool_results()
    assert result["tool_use_id"] == "toolu_bash_1"
    assert result["is_error"] is False
    # The command's output is the first line (newer releases append a reminder after it).
    assert s.flatten_text(result["content"]).splitlines()[0] == "harness-42"
    assert [r["content"] for r in run.tool_results()] == ["harness-42"]
    assert run.result["num_turns"] == 2
    standin.assert_script_consumed()


def test_a_two_block_message_is_two_transcript_lines_under_the_temporary_home(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.tool_call("Bash", {"command": "echo two blocks", "description": "x"},
                            preamble="Let me look.", request_id="req_two_blocks", message_id="msg_two"),
                s.text("Done.", request_id="req_done"))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash")

    assert run.returncode == 0, run.describe()
    path = run.transcript_path
    assert claude.home / ".claude" / "projects" in path.parents
    assert path.name == f"{run.session_id}.jsonl"
    assistant = [line for line in run.transcript() if line.get("type") == "assistant"]
    two = [line for line in assistant if line["message"]["id"] == "msg_two"]
    assert [b["type"] for line in two for b in line["message"]["content"]] == ["text", "tool_use"]
    assert {line["requestId"] for line in two} == {"req_two_blocks"}
    assert all(line["message"]["usage"]["output_tokens"] == 42 for line in two)
    assert assistant[-1]["requestId"] == "req_done"
    # The CLI counts the two-line message once: 2 requests x (1200 in, 42 out).
    assert run.result["total_cost_usd"] == pytest.approx(2 * Usage().cost_usd(), abs=1e-6)


def _recording_settings(log_dir: Path, marker: str) -> dict[str, Any]:
    """Project hooks that append each payload to <log_dir>/<Event>.jsonl; SessionStart also adds
    ``marker`` to the model's context and saves the environment hooks see."""
    def record(event: str) -> dict[str, Any]:
        target = shlex.quote(str(log_dir / f"{event}.jsonl"))
        return {"type": "command", "command": f"{{ cat; echo; }} >> {target}", "timeout": 10}

    hooks: dict[str, Any] = {
        event: [{"matcher": "*", "hooks": [record(event)]}]
        for event in ("PostToolUse", "PostToolUseFailure", "Stop", "SubagentStop", "SessionEnd")
    }
    env_file = shlex.quote(str(log_dir / "env.txt"))
    hooks["SessionStart"] = [{"hooks": [
        record("SessionStart"),
        {"type": "command", "command": f"env > {env_file}; echo {shlex.quote(marker)}"},
    ]}]
    return {"hooks": hooks}


def _payloads(log_dir: Path, event: str) -> list[dict[str, Any]]:
    path = log_dir / f"{event}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_project_hooks_fire_for_success_failure_and_subagent_calls_and_session_start_reaches_the_model(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    log_dir = tmp_path / "hook-log"
    log_dir.mkdir()
    marker = "BATON-HARNESS-CONTEXT-7f3a"
    settings = scratch_project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(_recording_settings(log_dir, marker)))
    standin.add(
        s.bash("echo ok", "succeeds"),
        s.bash("ls /nonexistent-dir", "fails"),
        s.agent("Say hi", description="ask a helper"),
        s.text("All done."),
    )
    standin.add_subagent(s.text("sub: hi"))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash,Agent")

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    requests = standin.model_requests()
    assert [r.is_subagent for r in requests] == [False, False, False, True, False]
    assert marker in requests[0].all_text()
    assert marker not in requests[3].all_text()

    [start] = _payloads(log_dir, "SessionStart")
    assert start["source"] == "startup"
    assert start["session_id"] == run.session_id
    assert Path(start["transcript_path"]) == run.transcript_path
    assert Path(start["cwd"]).resolve() == scratch_project.resolve()
    succeeded = _payloads(log_dir, "PostToolUse")
    assert [(p["tool_name"], p["tool_input"].get("command")) for p in succeeded] == [
        ("Bash", "echo ok"), ("Agent", None)]
    assert succeeded[0]["tool_response"]["stdout"] == "ok"
    assert succeeded[1]["tool_response"]["status"] == "completed"
    [failed] = _payloads(log_dir, "PostToolUseFailure")
    assert failed["tool_input"]["command"] == "ls /nonexistent-dir"
    assert failed["error"].startswith("Exit code 2")
    assert failed["is_interrupt"] is False
    [sub_stop] = _payloads(log_dir, "SubagentStop")
    assert sub_stop["last_assistant_message"] == "sub: hi"
    assert [p["last_assistant_message"] for p in _payloads(log_dir, "Stop")] == ["All done."]
    [end] = _payloads(log_dir, "SessionEnd")
    assert end["session_id"] == run.session_id

    hook_env = dict(line.split("=", 1) for line in (log_dir / "env.txt").read_text().splitlines()
                    if "=" in line)
    assert Path(hook_env["CLAUDE_PROJECT_DIR"]).resolve() == scratch_project.resolve()
    assert hook_env["CLAUDE_CODE_SESSION_ID"] == run.session_id
    assert hook_env["HOME"] == str(claude.home)


def test_hook_payload_keys_are_those_captured_from_the_verified_cli(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    log_dir = tmp_path / "hook-log"
    log_dir.mkdir()
    settings = scratch_project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(_recording_settings(log_dir, "marker")))
    standin.add(s.bash("echo hi from bash", "say hi"), s.bash("ls /nonexistent-dir", "fail"),
                s.text("All done."))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash")

    assert run.returncode == 0, run.describe()
    for event, expected in PAYLOAD_KEYS.items():
        [payload] = _payloads(log_dir, event)
        assert set(payload) == expected, event


def test_a_slash_command_grants_only_its_own_allowed_tools(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    commands = scratch_project / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "greet.md").write_text(
        "---\n"
        "description: greet someone\n"
        "argument-hint: NAME\n"
        "allowed-tools: Bash(echo:*)\n"
        "---\n"
        "Inlined: !`echo inlined-$ARGUMENTS`\n\n"
        "Greet $ARGUMENTS with echo.\n")
    standin.add(s.bash("echo hello-bob"),
                s.bash("python3 -c 'open(\"outside-grant.txt\", \"w\")'"),
                s.text("Greeted."))

    run = claude.run("/greet bob", cwd=scratch_project)  # no --allowedTools

    assert run.returncode == 0, run.describe()
    prompt = s.flatten_text(standin.model_requests()[0].messages()[-1]["content"])
    assert "<command-name>/greet</command-name>" in prompt
    assert "Inlined: inlined-bob" in prompt and "Greet bob with echo." in prompt
    granted, refused = run.tool_results()
    assert (granted["content"], granted["is_error"]) == ("hello-bob", False)
    assert refused["is_error"] is True
    assert not (scratch_project / "outside-grant.txt").exists()
    assert [d["tool_name"] for d in run.result["permission_denials"]] == ["Bash"]


def test_authentication_failure_ends_the_run_with_the_cli_auth_error_shape(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.Persistent(s.authentication_error()))

    run = claude.run("go", cwd=scratch_project, timeout=30)

    assert run.returncode == 1, run.describe()
    [retry] = run.of_type("system", "api_retry")
    assert (retry["error_status"], retry["error"]) == (401, "authentication_failed")
    [message] = run.of_type("assistant")
    assert message["error"] == "authentication_failed"
    assert message["message"]["model"] == "<synthetic>"
    result = run.result
    assert (result["subtype"], result["is_error"], result["api_error_status"]) == ("success", True, 401)
    assert result["result"] == "Invalid API key · Fix external API key"
    assert result["total_cost_usd"] == 0
    # CLAUDE_CODE_MAX_RETRIES=1: the first request and one retry, no more.
    assert len(standin.model_requests()) == 2


def test_overloaded_529_with_one_retry_ends_after_two_requests(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.Persistent(s.overloaded_error()))

    run = claude.run("go", cwd=scratch_project, timeout=30)

    assert run.returncode == 1, run.describe()
    assert len(standin.model_requests()) == 2
    assert [e["error_status"] for e in run.of_type("system", "api_retry")] == [529]
    assert run.of_type("assistant")[-1]["error"] == "server_error"
    assert run.result["is_error"] is True
    assert run.result["api_error_status"] == 529
    assert run.result["result"].startswith("API Error: 529 Overloaded.")


@pytest.mark.parametrize(("error", "status", "error_field", "text"), [
    (s.billing_error(), 400, "billing_error", "Credit balance is too low"),
    (s.rate_limit_error(), 429, "rate_limit", "API Error: Request rejected (429)"),
    (s.server_error(), 500, "server_error", "API Error: 500"),
], ids=["billing-400", "rate-limit-429", "server-500"])
def test_api_errors_reach_the_stream_with_their_status_and_error_class(
        claude: Claude, standin: StandIn, scratch_project: Path,
        error: s.ApiError, status: int, error_field: str, text: str) -> None:
    standin.add(s.Persistent(error))

    run = claude.run("go", cwd=scratch_project, timeout=30)

    assert run.returncode == 1, run.describe()
    assert run.of_type("assistant")[-1]["error"] == error_field
    assert (run.result["is_error"], run.result["api_error_status"]) == (True, status)
    assert run.result["result"].startswith(text)


def test_a_transient_error_then_a_reply_succeeds_on_the_cli_retry(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.overloaded_error(), s.text("Recovered."))

    run = claude.run("go", cwd=scratch_project, timeout=30)

    assert run.returncode == 0, run.describe()
    assert run.result["result"] == "Recovered."
    assert [r.status for r in standin.model_requests()] == [529, 200]
    standin.assert_script_consumed()


def test_project_clone_holds_the_committed_repository_with_a_bare_origin(
        project_clone: ProjectClone) -> None:
    assert (project_clone.path / "pyproject.toml").is_file()
    assert (project_clone.path / "tests" / "realclient" / "standin.py").is_file()
    assert (project_clone.remote / "HEAD").is_file()
