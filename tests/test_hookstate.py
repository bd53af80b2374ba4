"""lib.telemetry.state and lib.telemetry.usage in-process: aggregation, state normalisation, JSON codec,
transcript token accounting and pricing."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lib.core import config
from lib.telemetry import ids as hookids
from lib.telemetry import jsonc
from lib.telemetry import state as hookstate
from lib.telemetry import usage as hookusage

CAPTURED = Path(__file__).parent / "fixtures" / "claude_code"
TWO_BLOCKS = CAPTURED / "transcript-two-blocks.jsonl"
STREAM_TOOLS = CAPTURED / "stream-json-tools.jsonl"
SID = "97966373-68e6-4d4b-8911-e017d918658c"


def _noop(message: str) -> None:
    pass


# --------------------------------------------------------------------------- aggregation


@pytest.mark.parametrize(("name", "key", "method"), [
    ("mcp__notion_offplan__search", "mcp__notion_offplan", "search"),
    ("mcp__plugin_asana_asana__list", "mcp__plugin_asana_asana", "list"),
    ("mcp__memory__create_entities", "mcp__memory", "create_entities"),
    ("mcp__github__get_pull_request__v2", "mcp__github", "get_pull_request__v2"),
    ("mcp__lonely", "mcp__lonely", None),
    ("mcp__server__", "mcp__server__", None),
    ("Bash", "Bash", None),
    ("TaskCreate", "TaskCreate", None),
])
def test_mcp_tool_names_split_on_the_first_double_underscore(name: str, key: str, method: str | None) -> None:
    assert hookstate.canonical_tool(name) == (key, method)


@pytest.mark.parametrize("name", ["mcp__baton__search_notes", "mcp__plugin_baton_baton__search_notes"])
def test_batons_own_server_counts_under_one_key_from_the_project_or_the_plugin(name: str) -> None:
    assert hookstate.canonical_tool(name) == ("mcp__baton", "search_notes")


def _tool_event(name: str, tool_use_id: str, event: str = "PostToolUse", **extra: Any) -> dict[str, Any]:
    return {"session_id": SID, "hook_event_name": event, "tool_name": name, "tool_use_id": tool_use_id, **extra}


def test_apply_event_aggregates_mcp_methods_and_subagents() -> None:
    state = hookstate.new_state(SID, 0)
    names = ["mcp__notion_offplan__search", "mcp__notion_offplan__get_page", "mcp__notion_offplan__search",
             "Agent", "Task", "TaskCreate", "Bash"]
    for i, name in enumerate(names):
        assert hookstate.apply_event(state, _tool_event(name, f"t{i}"), 1.0)
    assert state["tool_calls_count"] == 7
    assert state["tool_calls_breakdown"] == {"mcp__notion_offplan": 3, "Agent": 1, "Task": 1, "TaskCreate": 1, "Bash": 1}
    assert state["tool_calls_breakdown_methods"] == {"mcp__notion_offplan": {"search": 2, "get_page": 1}}
    assert state["subagents_dispatched"] == 2


def test_a_tool_use_id_seen_recently_is_not_counted_again() -> None:
    state = hookstate.new_state(SID, 0)
    assert hookstate.apply_event(state, _tool_event("Read", "toolu_1"), 1.0)
    assert not hookstate.apply_event(state, _tool_event("Read", "toolu_1"), 2.0)
    assert state["tool_calls_count"] == 1
    assert state["duplicate_events_ignored"] == 1


def test_the_memory_of_tool_use_ids_is_bounded() -> None:
    state = hookstate.new_state(SID, 0)
    for i in range(hookstate.RECENT_IDS_MAX + 50):
        hookstate.apply_event(state, _tool_event("Read", f"toolu_{i}"), 1.0)
    assert len(state["recent_tool_use_ids"]) == hookstate.RECENT_IDS_MAX
    assert state["recent_tool_use_ids"][-1] == f"toolu_{hookstate.RECENT_IDS_MAX + 49}"
    assert state["tool_calls_count"] == hookstate.RECENT_IDS_MAX + 50


def test_calls_without_tool_use_id_are_all_counted() -> None:
    state = hookstate.new_state(SID, 0)
    for _ in range(3):
        hookstate.apply_event(state, {"hook_event_name": "PostToolUse", "tool_name": "Read"}, 1.0)
    assert state["tool_calls_count"] == 3


def test_failures_count_with_their_class_and_interrupts_apart() -> None:
    state = hookstate.new_state(SID, 0)
    hookstate.apply_event(state, _tool_event("Bash", "a", "PostToolUseFailure", error="x"), 1.0,
                          failure_class="test_fail", is_failure=True)
    hookstate.apply_event(state, _tool_event("Bash", "b", "PostToolUseFailure", error="y"), 1.0,
                          failure_class=None, is_failure=True)
    hookstate.apply_event(state, _tool_event("Bash", "c", "PostToolUseFailure", error="", is_interrupt=True),
                          1.0, is_failure=True)
    assert state["tool_calls_count"] == 3
    assert state["tool_failures_count"] == 2
    assert state["failures_breakdown"] == {"test_fail": 1}
    assert state["tool_interrupts_count"] == 1


def test_lifecycle_events_record_start_end_and_compactions() -> None:
    state = hookstate.new_state(SID, 0)
    hookstate.apply_event(state, {"hook_event_name": "SessionStart", "source": "resume",
                                  "transcript_path": "/t/x.jsonl", "cwd": "/w"}, 10.0)
    hookstate.apply_event(state, {"hook_event_name": "PreCompact", "trigger": "auto"}, 20.0)
    hookstate.apply_event(state, {"hook_event_name": "SessionEnd", "reason": "logout"}, 30.0)
    assert state["session_starts"] == 1
    assert state["last_start_source"] == "resume"
    assert state["compactions"] == 1
    assert state["end_reason"] == "logout"
    assert state["ended_at"] == hookstate.iso_utc(30.0)
    assert state["transcript_path"] == "/t/x.jsonl"
    assert state["cwd"] == "/w"
    assert state["tool_calls_count"] == 0


@pytest.mark.parametrize(("payload", "expected"), [
    ({"hook_event_name": "PostToolUseFailure", "error": "Exit code 2\nls: cannot access 'x'"},
     ("Exit code 2\nls: cannot access 'x'", 2)),
    ({"hook_event_name": "PostToolUseFailure", "error": "Tool permission denied"}, ("Tool permission denied", None)),
    ({"hook_event_name": "PostToolUseFailure"}, ("", None)),
    ({"hook_event_name": "PostToolUse", "tool_name": "Bash",
      "tool_response": {"stdout": "", "stderr": "Traceback (most recent call last):\n  boom"}},
     ("Traceback (most recent call last):\n  boom", None)),
    ({"hook_event_name": "PostToolUse", "tool_name": "Bash",
      "tool_response": {"stdout": "partial", "stderr": "", "exit_code": 3}}, ("partial", 3)),
    ({"hook_event_name": "PostToolUse", "tool_name": "Bash",
      "tool_response": {"stdout": "ok", "stderr": "Cloning into 'repo'...\n"}}, None),
    ({"hook_event_name": "PostToolUse", "tool_name": "Bash",
      "tool_response": {"stdout": "ok", "stderr": "", "exit_code": 0}}, None),
    ({"hook_event_name": "PostToolUse", "tool_name": "Read",
      "tool_response": {"stderr": "error everywhere"}}, None),
])
def test_failure_of_recognises_failed_calls(payload: dict[str, Any], expected: tuple[str, int | None] | None) -> None:
    assert hookstate.failure_of(payload) == expected


def test_classifier_absent_or_failing_yields_no_class() -> None:
    logged: list[str] = []
    cls = hookstate.classify_failure("error: x", "Bash", 1, logged.append)
    has_module = (Path(hookstate.__file__).parents[1] / "failures" / "classify.py").exists()
    if has_module:
        assert isinstance(cls, str) and cls
    else:
        assert cls is None
        assert logged == []


# --------------------------------------------------------------------------- ids, roots, state


@pytest.mark.parametrize(("value", "ok"), [
    ("8f4f9bf2-05f2-48ab-bc5c-31723315db35", True),
    ("ppid-1234", True),
    ("abc_DEF-9", True),
    ("", False),
    ("../etc/passwd", False),
    ("a/b", False),
    ("a.b", False),
    ("x" * 129, False),
    (None, False),
    (42, False),
])
def test_session_ids_must_be_safe_file_name_parts(value: object, ok: bool) -> None:
    assert hookids.is_valid_session_id(value) is ok


def test_session_id_falls_back_from_payload_to_environment_to_parent_pid() -> None:
    assert hookids.resolve_session_id({"session_id": "s1"}, {"CLAUDE_CODE_SESSION_ID": "s2"}, 7) == ("s1", [])
    assert hookids.resolve_session_id({}, {"CLAUDE_CODE_SESSION_ID": "s2"}, 7) == ("s2", [])
    sid, notes = hookids.resolve_session_id({"session_id": "../x"}, {}, 7)
    assert sid == "ppid-7"
    assert any("unsafe" in n for n in notes)


def test_root_comes_from_project_dir_then_payload_cwd_then_cwd() -> None:
    assert hookids.resolve_root({"cwd": "/p"}, {"CLAUDE_PROJECT_DIR": "/e"}, "/c") == "/e"
    assert hookids.resolve_root({"cwd": "/p"}, {}, "/c") == "/p"
    assert hookids.resolve_root({}, {}, "/c") == "/c"


def test_normalise_state_fills_every_key_with_integers_never_null() -> None:
    state = hookstate.normalise_state({"tool_calls_count": None, "tool_calls_breakdown": {"Bash": "3", "X": 2.0},
                                       "failures_breakdown": [], "custom": "kept"}, "sid")
    fresh = hookstate.new_state("sid", 0)
    assert set(fresh) <= set(state)
    assert state["tool_calls_count"] == 0
    assert state["tool_calls_breakdown"] == {"Bash": 0, "X": 2}
    assert state["failures_breakdown"] == {}
    assert state["custom"] == "kept"
    assert state["state_version"] == hookstate.STATE_VERSION
    assert hookstate.counter_at(state, "tool_calls_breakdown.mcp__notion_offplan") == 0
    assert hookstate.counter_at(state, "tool_calls_breakdown.X") == 2
    assert hookstate.counter_at(state, "tool_calls_count.deeper") == 0


def test_read_state_refuses_unsafe_ids_and_returns_none_without_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        hookstate.read_state(str(tmp_path), "../x")
    assert hookstate.read_state(str(tmp_path), "nobody") is None


def test_update_state_writes_atomically_and_lists_session_files(tmp_path: Path) -> None:
    folder = str(tmp_path / ".claude" / "state")
    hookstate.update_state(folder, "s1", lambda s: hookstate.apply_event(s, _tool_event("Read", "x"), 1.0), _noop)
    state = hookstate.read_state(folder, "s1")
    assert state is not None and state["tool_calls_count"] == 1
    names = sorted(os.listdir(folder))
    assert names == ["session-s1.json", "session-s1.lock"]
    assert [Path(p).name for p in hookids.session_files(folder, "s1")] == ["session-s1.json", "session-s1.lock"]


# --------------------------------------------------------------------------- JSON codec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_codec_round_trips_like_the_json_module(value: Any) -> None:
    text = jsonc.dumps(value)
    assert json.loads(text) == value
    assert jsonc.loads(text) == json.loads(text)
    assert jsonc.loads(json.dumps(value, indent=2)) == value


@pytest.mark.parametrize("text", ["", "   ", "{bad", "[1, 2", '{"a": 1} trailing', "nul", "1 2", '"\x01"'])
def test_codec_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsonc.loads(text)


def test_codec_accepts_surrounding_whitespace_and_constants() -> None:
    assert jsonc.loads(' \n {"a": [1, 2.5, "é", null, true]} \r\n') == {"a": [1, 2.5, "é", None, True]}
    assert math.isinf(jsonc.loads("Infinity"))


# --------------------------------------------------------------------------- transcripts and cost


def _state_dir(tmp_path: Path) -> str:
    folder = tmp_path / "repo" / ".claude" / "state"
    folder.mkdir(parents=True)
    return str(folder)


def _assistant(mid: str, rid: str, model: str = "claude-sonnet-4-6", *, inp: int = 100, out: int = 10,
               c5: int = 0, c1h: int = 0, read: int = 0, split: bool = True) -> str:
    usage: dict[str, Any] = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
                             "cache_creation_input_tokens": c5 + c1h}
    if split:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1h}
    line = {"type": "assistant", "requestId": rid, "sessionId": SID,
            "message": {"id": mid, "model": model, "role": "assistant", "usage": usage}}
    return json.dumps(line) + "\n"


def _user_line() -> str:
    # Tool results can carry a `usage` of their own (Agent calls): never counted.
    return json.dumps({"type": "user", "toolUseResult": {"usage": {"input_tokens": 999999, "output_tokens": 9}},
                       "message": {"role": "user", "content": "x"}}) + "\n"


def test_captured_transcript_with_repeated_usage_lines_is_priced_once(tmp_path: Path) -> None:
    transcript = tmp_path / "projects" / f"{SID}.jsonl"
    transcript.parent.mkdir()
    shutil.copy(TWO_BLOCKS, transcript)
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    # Two API messages of 1200 in / 42 out; msg_fake_1 is written twice (two content blocks).
    assert state["tokens"] == {"input": 2400, "output": 84, "cache_creation": 0, "cache_read": 0}
    assert state["tokens_by_model"]["claude-sonnet-4-6"]["messages"] == 2
    assert state["cost_usd"] == pytest.approx(2400 * 3 / 1e6 + 84 * 15 / 1e6)
    assert state["unpriced_models"] == []
    assert state["usage_complete"] is True
    assert state["cost_basis"] == "pricing.json"


def test_pricing_reproduces_the_cost_claude_code_reported() -> None:
    lines = STREAM_TOOLS.read_text().splitlines()
    result = next(json.loads(line) for line in lines if '"type":"result"' in line)
    pricing = hookusage.load_pricing()
    by_model = {}
    for model, usage in result["modelUsage"].items():
        by_model[model] = {"input": usage["inputTokens"], "output": usage["outputTokens"],
                           "cache_creation_5m": usage["cacheCreationInputTokens"], "cache_creation_1h": 0,
                           "cache_read": usage["cacheReadInputTokens"]}
    cost, unpriced = hookusage.price_tokens(by_model, pricing)
    assert unpriced == []
    assert cost == pytest.approx(result["total_cost_usd"])


def test_subagent_transcripts_are_included_and_grown_usage_kept_at_its_largest(tmp_path: Path) -> None:
    transcript = tmp_path / "projects" / f"{SID}.jsonl"
    sub = transcript.parent / SID / "subagents"
    sub.mkdir(parents=True)
    transcript.write_text(_assistant("m1", "r1", inp=1000, out=100) + _user_line())
    # A subagent message streamed in three records whose usage grows; priced once at its largest.
    (sub / "agent-a1.jsonl").write_text(
        _assistant("s1", "rs1", "claude-haiku-4-5", inp=500, out=5)
        + _assistant("s1", "rs1", "claude-haiku-4-5", inp=500, out=40)
        + _assistant("s1", "rs1", "claude-haiku-4-5", inp=500, out=60)
    )
    (sub / "notes.txt").write_text("not a transcript")
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    haiku = state["tokens_by_model"]["claude-haiku-4-5"]
    assert (haiku["input"], haiku["output"], haiku["messages"]) == (500, 60, 1)
    assert state["tokens"]["input"] == 1500
    assert state["tokens"]["output"] == 160
    expected = (1000 * 3 + 100 * 15) / 1e6 + (500 * 1 + 60 * 5) / 1e6
    assert state["cost_usd"] == pytest.approx(expected)


def test_transcripts_are_read_incrementally_from_the_remembered_offset(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    first = _assistant("m1", "r1", out=10) + _assistant("m2", "r2", out=20)
    transcript.write_text(first)
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None and state["tokens"]["output"] == 30
    # Overwrite what was already read (same length, same inode): an incremental reader never sees it.
    with open(transcript, "r+b") as fh:
        fh.write(b" " * (len(first) - 1) + b"\n")
    with open(transcript, "a") as fh:
        fh.write(_assistant("m2", "r2", out=25))  # the last message grew across the boundary
        fh.write(_assistant("m3", "r3", out=5))
        fh.write(_assistant("m4", "r4", out=7)[:-20])  # still being written
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    assert state["tokens"]["output"] == 10 + 25 + 5
    assert state["tokens_by_model"]["claude-sonnet-4-6"]["messages"] == 3
    with open(transcript, "a") as fh:
        fh.write(_assistant("m4", "r4", out=7)[-20:])
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None and state["tokens"]["output"] == 47


def test_a_replaced_transcript_is_read_again_from_the_start(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text(_assistant("m1", "r1", out=10) + _assistant("m2", "r2", out=20))
    folder = _state_dir(tmp_path)
    hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    transcript.unlink()
    transcript.write_text(_assistant("m9", "r9", out=3))
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None and state["tokens"]["output"] == 3


def test_an_unknown_model_is_counted_and_flagged_not_priced_at_zero(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text(_assistant("m1", "r1", "claude-sonnet-4-6", inp=1000, out=0)
                          + _assistant("m2", "r2", "claude-nextgen-9", inp=5000, out=50)
                          + _assistant("m3", "r3", "<synthetic>", inp=0, out=0))
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    assert state["tokens"]["input"] == 6000
    assert state["unpriced_models"] == ["claude-nextgen-9"]
    assert state["cost_usd"] == pytest.approx(1000 * 3 / 1e6)


def test_cache_writes_are_priced_by_ttl_and_unsplit_writes_at_5m(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text(_assistant("m1", "r1", inp=0, out=0, c5=1000, c1h=2000, read=10000)
                          + _assistant("m2", "r2", inp=0, out=0, c5=500, split=False))
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    rec = state["tokens_by_model"]["claude-sonnet-4-6"]
    assert (rec["cache_creation_5m"], rec["cache_creation_1h"], rec["cache_read"]) == (1500, 2000, 10000)
    assert state["tokens"]["cache_creation"] == 3500
    assert state["cost_usd"] == pytest.approx((1500 * 3.75 + 2000 * 6 + 10000 * 0.3) / 1e6)


def test_requests_over_a_long_context_threshold_pay_the_long_rates(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text(_assistant("m1", "r1", "claude-haiku-5-5", inp=50_000, out=100)
                          + _assistant("m2", "r2", "claude-haiku-5-5", inp=20_000, out=100, read=90_000))
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    short = (50_000 * 0.1 + 100 * 0.5) / 1e6
    long = (20_000 * 0.5 + 100 * 2.5 + 90_000 * 0.05) / 1e6
    assert state["cost_usd"] == pytest.approx(short + long)
    assert state["tokens_by_model"]["claude-haiku-5-5"]["long_context"]["input"] == 20_000


def test_baton_yaml_price_overrides_are_applied_when_given(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text(_assistant("m1", "r1", inp=1_000_000, out=0)
                          + _assistant("m2", "r2", "claude-nextgen-9", inp=1_000_000, out=0))
    folder = _state_dir(tmp_path)
    # What telemetry-read passes: the validated `pricing:` section of .claude/baton.yaml.
    overrides = config.parse("pricing:\n  claude-sonnet-4-6: {input: 2.0}\n"
                             "  claude-nextgen-9: {input: 7, output: 30, cache_creation_1h: 14}\n")["pricing"]
    state = hookusage.refresh_usage(folder, SID, str(transcript), overrides=overrides, log=_noop)
    assert state is not None
    assert state["cost_usd"] == pytest.approx(9.0)
    assert state["unpriced_models"] == []
    assert state["cost_basis"] == "pricing.json+baton.yaml"


def test_a_time_budget_keeps_progress_and_the_next_call_finishes(tmp_path: Path) -> None:
    transcript = tmp_path / f"{SID}.jsonl"
    transcript.write_text("".join(_assistant(f"m{i}", f"r{i}", out=1) for i in range(1000)))
    folder = _state_dir(tmp_path)
    state = hookusage.refresh_usage(folder, SID, str(transcript), budget_s=0.0, log=_noop)
    assert state is not None
    assert state["usage_complete"] is False
    assert 0 < state["tokens"]["output"] < 1000
    state = hookusage.refresh_usage(folder, SID, str(transcript), log=_noop)
    assert state is not None
    assert state["usage_complete"] is True
    assert state["tokens"]["output"] == 1000


def test_refresh_without_a_transcript_leaves_the_state_alone(tmp_path: Path) -> None:
    folder = _state_dir(tmp_path)
    logged: list[str] = []
    assert hookusage.refresh_usage(folder, SID, str(tmp_path / "missing.jsonl"), log=logged.append) is None
    assert hookusage.refresh_usage(folder, SID, None, log=logged.append) is None
    assert logged and "transcript not found" in logged[0]
    assert not os.listdir(folder)


@pytest.mark.parametrize(("model", "normal"), [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
    ("claude-opus-4-1@20250805", "claude-opus-4-1"),
    ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
    ("Claude-Haiku-4-5", "claude-haiku-4-5"),
    ("<synthetic>", "<synthetic>"),
])
def test_provider_model_spellings_normalise_to_the_api_id(model: str, normal: str) -> None:
    assert hookusage.normalise_model(model) == normal


def test_pricing_file_has_every_rate_for_every_model() -> None:
    raw = json.loads(Path(hookusage.pricing_path()).read_text())
    assert raw["as_of"]
    for name, entry in raw["models"].items():
        for key in ("input", "output", "cache_creation", "cache_creation_1h", "cache_read"):
            assert isinstance(entry[key], (int, float)) and entry[key] >= 0, (name, key)
    pricing = hookusage.load_pricing()
    assert hookusage.rates_for("claude-opus-4-20250514", pricing) == pricing["models"]["claude-opus-4-0"]
    assert hookusage.rates_for("claude-unknown", pricing) is None
