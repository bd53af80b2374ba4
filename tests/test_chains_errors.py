"""Classifying a session's end: structure first (is_error, subtype, terminal_reason, status, error field), text last."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from lib.chains.stream import StreamReader, StreamSummary, read_saved
from lib.chains.verdicts import Verdict, classify, failure_class_for, fatal_retry_reason, parse_reset

STREAMS = Path(__file__).resolve().parent / "fakeclaude" / "streams"
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


def _summary(*events: dict[str, Any] | str) -> StreamSummary:
    reader = StreamReader()
    for event in events:
        reader.feed_line(event if isinstance(event, str) else json.dumps(event))
    return reader.summary


def _assistant_error(error: str, text: str) -> dict[str, Any]:
    return {"type": "assistant", "error": error,
            "message": {"model": "<synthetic>", "content": [{"type": "text", "text": text}]}}


def _result(**fields: Any) -> dict[str, Any]:
    base = {"type": "result", "subtype": "success", "is_error": False, "num_turns": 2, "total_cost_usd": 0.01,
            "permission_denials": [], "terminal_reason": "completed", "result": "Done."}
    base.update(fields)
    return base


def test_a_clean_success_is_ok_even_though_its_json_contains_the_word_error() -> None:
    summary = _summary({"type": "system", "subtype": "init", "session_id": "s1"},
                       _result(result="No error here; is_error is false"))
    verdict = classify(summary, returncode=0, now=NOW)
    assert verdict.ok and verdict.error_kind is None


def test_success_with_is_error_and_exit_0_is_still_an_error() -> None:
    summary = _summary(_assistant_error("server_error", "API Error: 500 {\"type\":\"error\"}"),
                       _result(is_error=True, api_error_status=500, result="API Error: 500"))
    verdict = classify(summary, returncode=0, now=NOW)
    assert (verdict.error_kind, verdict.reason) == ("transient", "server_error")


def test_the_captured_not_logged_in_run_is_fatal_auth() -> None:
    reader = StreamReader()
    reader.feed((STREAMS / "not-logged-in.jsonl").read_bytes())
    reader.close()
    verdict = classify(reader.summary, returncode=1, now=NOW)
    assert (verdict.error_kind, verdict.reason) == ("fatal", "auth")
    assert failure_class_for(verdict) == "orchestration_error"


def test_the_captured_tool_run_is_a_success_with_its_cost_and_turns() -> None:
    reader = StreamReader()
    reader.feed((STREAMS / "tools.jsonl").read_bytes())
    summary = reader.summary
    assert classify(summary, returncode=0, now=NOW).ok
    assert summary.cost_usd == pytest.approx(0.01692)
    assert summary.num_turns == 4
    assert summary.claude_session_id == "8f4f9bf2-05f2-48ab-bc5c-31723315db35"
    assert summary.tool_uses["toolu_fake_1"] == "Bash"


def test_a_saved_stream_reads_back_to_the_same_summary_and_a_missing_one_to_none(tmp_path: Path) -> None:
    summary = read_saved(STREAMS / "tools.jsonl")
    assert summary is not None
    assert summary.cost_usd == pytest.approx(0.01692)
    assert summary.num_turns == 4
    assert read_saved(tmp_path / "gone.stream.jsonl") is None


@pytest.mark.parametrize(("events", "kind", "reason"), [
    ([_assistant_error("authentication_failed", "Invalid API key · Fix external API key"),
      _result(is_error=True, api_error_status=401)], "fatal", "auth"),
    ([_assistant_error("billing_error", "Credit balance is too low"), _result(is_error=True)], "fatal", "billing"),
    # Billing arrives as a 400 invalid_request_error: the text decides, not the status.
    ([_assistant_error("invalid_request", "Your credit balance is too low to access the API"),
      _result(is_error=True, api_error_status=400)], "fatal", "billing"),
    ([_result(is_error=True, api_error_status=404, result="model: claude-nope not found")], "fatal", "invalid_model"),
    ([_result(is_error=True, terminal_reason="aborted_streaming")], "fatal", "user_abort"),
    ([_assistant_error("rate_limit", "API Error: Request rejected (429) · org limit"),
      _result(is_error=True, api_error_status=429)], "transient", "rate_limit"),
    ([_assistant_error("server_error", "API Error: 529 Overloaded"),
      _result(is_error=True, api_error_status=529)], "transient", "server_error"),
    ([_result(is_error=True, result="Stream idle timeout - partial response received")], "transient", "server_error"),
    ([_result(is_error=True, result="fetch failed: ECONNRESET")], "transient", "network"),
    ([_result(is_error=True, result="You've hit your limit · resets 1pm (Europe/Lisbon)")], "wait", "usage_limit"),
    ([{"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": 1795000000,
                                                       "rateLimitType": "five_hour"}},
      _result(is_error=True, api_error_status=429)], "wait", "usage_limit"),
    ([_result(subtype="error_during_execution", is_error=True, result="")], "transient", "execution_error"),
])
def test_structured_signals_map_to_their_error_kind(events: list[dict[str, Any]], kind: str, reason: str) -> None:
    verdict = classify(_summary(*events), returncode=1, now=NOW)
    assert (verdict.error_kind, verdict.reason) == (kind, reason)


def test_usage_limits_and_max_turns_are_not_failures_but_budget_is() -> None:
    limit = classify(_summary(_result(is_error=True, result="You've hit your limit · resets 3am")),
                     returncode=1, now=NOW)
    assert limit.error_kind == "wait" and not limit.failed
    turns = classify(_summary(_result(subtype="error_max_turns", is_error=True)), returncode=1, now=NOW)
    assert turns.reason == "max_turns" and turns.ok and turns.error_kind is None  # incomplete, not an error
    budget = classify(_summary(_result(subtype="error_max_budget_usd", is_error=True,
                                       result="Error: Exceeded USD budget (1)")), returncode=1, now=NOW)
    assert budget.reason == "budget_exceeded" and budget.failed and failure_class_for(budget) == "budget_exceeded"


def test_process_surface_is_classified_before_the_stream() -> None:
    empty = StreamSummary()
    assert classify(empty, returncode=None, spawn_error="cannot run claude: No such file").reason == "missing_binary"
    assert classify(empty, returncode=-9, killed_by="stall").error_kind == "transient"
    assert classify(empty, returncode=-9, killed_by="wall_clock").reason == "wall_clock"
    assert classify(empty, returncode=-15, killed_by="stop").reason == "stopped"
    assert classify(empty, returncode=-9, killed_by="fatal_retry", fatal_retry="billing").reason == "billing"
    assert classify(empty, returncode=127, stderr_text="claude: command not found").reason == "missing_binary"
    assert classify(empty, returncode=-2).reason == "user_abort"
    # A cut stream: transient (the runner makes a second one fatal).
    cut = _summary({"type": "system", "subtype": "init", "session_id": "s"}, '{"type":"assistant","mess')
    assert cut.undecodable == 1
    assert classify(cut, returncode=0).reason == "truncated_stream"
    assert classify(empty, returncode=1, stderr_text="Error: When using --print, --output-format=stream-json "
                                                     "requires --verbose").reason == "cli_usage"
    # Exit code 124 of someone's timeout is not a usage limit.
    assert classify(empty, returncode=124).error_kind == "transient"


def test_all_edits_denied_is_a_failure_some_is_not() -> None:
    denials = [{"tool_name": "Edit", "tool_use_id": "t1", "tool_input": {}}]
    tool = {"type": "assistant", "message": {"content": [{"type": "tool_use", "id": "t1", "name": "Edit"}]}}
    other = {"type": "assistant", "message": {"content": [{"type": "tool_use", "id": "t2", "name": "Write"}]}}
    all_denied = classify(_summary(tool, _result(permission_denials=denials)), returncode=0)
    assert all_denied.reason == "edits_denied" and all_denied.failed
    some = classify(_summary(tool, other, _result(permission_denials=denials)), returncode=0)
    assert some.ok
    bash_only = classify(_summary(_result(permission_denials=[{"tool_name": "Bash", "tool_use_id": "b"}])),
                         returncode=0)
    assert bash_only.ok


def test_fatal_errors_in_api_retry_lines_end_the_session_early() -> None:
    assert fatal_retry_reason({"subtype": "api_retry", "error_status": 401, "error": "authentication_failed"}) == "auth"
    assert fatal_retry_reason({"subtype": "api_retry", "error": "billing_error"}) == "billing"
    assert fatal_retry_reason({"subtype": "api_retry", "error_status": 529, "error": "server_error"}) is None
    assert fatal_retry_reason({"subtype": "api_retry", "error_status": 429, "error": "rate_limit"}) is None


def test_parse_reset_finds_the_next_such_time_in_its_zone() -> None:
    lisbon = parse_reset("You've hit your limit · resets 1pm (Europe/Lisbon)", NOW)
    assert lisbon is not None
    assert dt.datetime.fromtimestamp(lisbon, dt.UTC) == dt.datetime(2026, 11, 22, 13, 0, tzinfo=dt.UTC)
    # Already past today: tomorrow.
    early = parse_reset("resets 9am (UTC)", NOW)
    assert early is not None
    assert dt.datetime.fromtimestamp(early, dt.UTC) == dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    half = parse_reset("limit resets 12:30pm (America/New_York)", NOW)
    assert half is not None
    assert dt.datetime.fromtimestamp(half, dt.UTC) == dt.datetime(2026, 11, 22, 17, 30, tzinfo=dt.UTC)
    assert parse_reset("no time here", NOW) is None


def test_the_reader_keeps_non_json_lines_and_splits_chunks_anywhere() -> None:
    reader = StreamReader()
    data = (b'warning: something\n{"type":"system","subtype":"init","session_id":"abc","model":"m",'
            b'"permissionMode":"default","mcp_servers":[{"name":"notion","status":"failed"}]}\n'
            b'{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.5,"num_turns":7}')
    for i in range(0, len(data), 7):
        reader.feed(data[i:i + 7])
    reader.close()
    summary = reader.summary
    assert summary.claude_session_id == "abc"
    assert summary.failed_mcp_servers == ["notion"]
    assert list(summary.raw_lines) == ["warning: something"]
    assert summary.cost_usd == 0.5 and summary.num_turns == 7


def test_failure_class_is_structural_where_it_can_be_and_from_the_text_otherwise() -> None:
    assert failure_class_for(Verdict("ok")) is None
    assert failure_class_for(Verdict("max_turns")) is None
    assert failure_class_for(Verdict("stall", "transient", True)) == "timeout"
    assert failure_class_for(Verdict("rate_limit", "transient", True, "API Error: 429")) == "orchestration_error"
    assert failure_class_for(Verdict("edits_denied", None, True)) == "orchestration_error"
    # A crash of the CLI itself: lib.failures.classify reads the evidence.
    crashed = Verdict("process_error", "transient", True, "claude exited with exit code 1")
    evidence = "Error: Cannot find module '/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js'\n" \
               "code: 'MODULE_NOT_FOUND'"
    assert failure_class_for(crashed, evidence, 1) == "dependency_missing"


TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/.venv/lib/python3.12/site-packages/network/client.py", line 3, in <module>
    from urllib3.connection import HTTPConnection
  File "/srv/app/src/fetch.py", line 1, in <module>
    import requests_toolbelt
ModuleNotFoundError: No module named 'requests_toolbelt'
"""


def test_a_module_not_found_traceback_is_a_missing_dependency_not_a_network_error() -> None:
    # The path says "network" and "connection": the text rules alone would call it a network error.
    summary = _summary(*TRACEBACK.splitlines())
    verdict = classify(summary, returncode=1, stderr_text=TRACEBACK, now=NOW)
    assert verdict.reason == "work_error" and verdict.error_kind is None and verdict.failed
    assert "requests_toolbelt" in verdict.message
    assert failure_class_for(verdict, TRACEBACK, 1) == "dependency_missing"


def test_a_connection_error_traceback_is_still_a_network_error() -> None:
    text = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
            "ConnectionResetError: [Errno 104] Connection reset by peer\n")
    verdict = classify(_summary(), returncode=1, stderr_text=text, now=NOW)
    assert (verdict.reason, verdict.error_kind) == ("network", "transient")


def test_tool_errors_and_usage_are_kept_for_routing_and_interrupted_costs() -> None:
    summary = _summary(
        {"type": "assistant", "message": {"id": "m1", "model": "claude-sonnet-4-6", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}],
            "usage": {"input_tokens": 1000, "output_tokens": 1}}},
        {"type": "assistant", "message": {"id": "m1", "model": "claude-sonnet-4-6", "content": [],
                                          "usage": {"input_tokens": 1000, "output_tokens": 200}}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": True,
                                                  "content": "FAILED tests/test_a.py::test_b - assert 1 == 2"}]}},
    )
    assert list(summary.tool_errors) == [("Bash", "FAILED tests/test_a.py::test_b - assert 1 == 2")]
    cost, source = summary.reported_cost()
    # One message, its usage counted once: 1000 input at $3/M + 200 output at $15/M.
    assert source == "usage" and cost == pytest.approx(0.003 + 0.003)
    summary.result = {"total_cost_usd": 0.5}
    assert summary.reported_cost() == (0.5, "result")
