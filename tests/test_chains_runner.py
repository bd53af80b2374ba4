"""The chain runner end to end: the real `chains.py` driving a scripted fake `claude` in a temp repo."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from lib.core.process import pid_alive
from lib.failures.decisions import read_decisions
from lib.store import frontmatter, validate
from support.chains import (
    STREAMS,
    Harness,
    api_error,
    make_harness,
    note,
    result,
    session,
    wait_dead,
)
from support.git import git
from support.httpserver import serving


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    return make_harness(repo, tmp_path)


def _sessions(chain: dict[str, Any]) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = chain["sessions"]
    return sessions


def _decisions(chain: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in chain["decisions"] if d["type"] == kind]


# ------------------------------------------------------------------ the happy path


def test_three_sessions_reach_done_each_from_the_previous_note(h: Harness) -> None:
    # The second session writes its note through the handoff helpers, as /handoff --auto does
    # (the others write the same format directly: the helpers cost three processes each).
    h.scenario(
        session(cost=0.10, resume_prompt="RESUME-ONE: open src/a.py and finish the parser.",
                next_steps="- NEXT-ONE: write the parser tests"),
        session(cost=0.20, resume_prompt="RESUME-TWO: wire the parser into the CLI.",
                next_steps="- NEXT-TWO: add the --strict flag", helpers=True),
        session("done", cost=0.30),
    )
    # As a user runs it: a fresh interpreter.
    proc = h.chains_process("run", "--mission", "Build the feature.", "--operator", "rt", "--json",
                            "--max-session-cost-usd", "0.5")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    sessions = _sessions(chain)
    assert [s["status"] for s in sessions] == ["ok", "ok", "ok"]
    assert [s["handoff"]["status"] for s in sessions] == ["valid", "valid", "valid"]
    assert [s["handoff"]["outcome"] for s in sessions] == ["incomplete", "incomplete", "done"]
    assert chain["totals"]["cost_usd"] == pytest.approx(0.6)
    assert [s["cost_usd"] for s in sessions] == pytest.approx([0.1, 0.2, 0.3])

    runs = h.invocations()
    assert len(runs) == 3
    # Each run got its own pre-claimed id, the operator, and the note it wrote is that id's.
    assert [r["baton_session_id"] for r in runs] == [s["id"] for s in sessions]
    assert len({s["id"] for s in sessions}) == 3
    assert all(r["operator"] == "rt" and r["chain_id"] == chain["id"] for r in runs)
    assert all(s["id"].startswith("RT-") for s in sessions)
    # The next prompt carries the mission, the last Resume Prompt and Next steps.
    assert "Build the feature." in runs[1]["prompt"]
    assert "RESUME-ONE" in runs[1]["prompt"] and "NEXT-ONE" in runs[1]["prompt"]
    assert "RESUME-TWO" in runs[2]["prompt"] and "NEXT-TWO" in runs[2]["prompt"]
    assert "RESUME-ONE" not in runs[2]["prompt"]
    assert "/handoff --auto" in runs[0]["prompt"]
    # Budget per session: min(left, per-session cap); tools granted explicitly, no bypass mode.
    assert [float(r["max_budget_usd"]) for r in runs] == pytest.approx([0.5, 0.5, 0.5])
    assert all(r["allowed_tools"] and "Edit" in r["allowed_tools"].split(",") for r in runs)
    assert not any("--dangerously-skip-permissions" in r["argv"] for r in runs)
    assert all(r["argv"][r["argv"].index("--output-format") + 1] == "stream-json" for r in runs)
    assert all("--verbose" in r["argv"] for r in runs)
    # Every session ran in its own process group, not the runner's.
    assert all(r["pgid"] == r["pid"] for r in runs)
    # The helpers wrote the second note in full (Telemetry section, content_hash), committed alone.
    helper_note = h.note_text(sessions[1]["id"])
    assert "## Telemetry" in helper_note and "content_hash: sha256:" in helper_note
    assert f"handoff: {sessions[1]['id']} Session {sessions[1]['id']}" in git(h.root, "log", "--format=%s")
    # Routing decisions are logged per session.
    assert len(_decisions(chain, "routing")) == 3


def test_status_and_list_show_the_chain(h: Harness) -> None:
    h.scenario(session("done", cost=0.25, summary="LAST-SUMMARY: the feature is built and tested."))
    proc = h.run()
    chain_id = json.loads(proc.stdout)["id"]
    status = h.chains("status", chain_id)
    assert status.returncode == 0, status.stderr
    assert chain_id in status.stdout and "done" in status.stdout and "breaker  closed" in status.stdout
    assert "LAST-SUMMARY" in status.stdout and "$0.2500" in status.stdout
    status_json = json.loads(h.chains("status", "--json").stdout)
    assert status_json["id"] == chain_id and status_json["runner_alive"] is False
    listed = json.loads(h.chains("list", "--project-dir", str(h.root), "--json").stdout)
    assert [c["id"] for c in listed] == [chain_id]
    other = h.tmp / "elsewhere"
    other.mkdir()
    assert json.loads(h.chains("list", "--project-dir", str(other), "--json").stdout) == []


# ------------------------------------------------------------------ errors


def test_transient_429_is_retried_with_exponential_backoff(h: Harness) -> None:
    h.settings(backoff_base_s=0.1)
    limited = api_error(429, "rate_limit", "API Error: Request rejected (429) · rate limited")
    h.scenario(limited, limited, session("done"))
    proc = h.run()
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    [only] = _sessions(chain)
    assert only["status"] == "ok"
    assert [a["reason"] for a in only["attempts"]] == ["rate_limit", "rate_limit", "ok"]
    assert [a["error_kind"] for a in only["attempts"]] == ["transient", "transient", None]
    retries = _decisions(chain, "retry")
    assert [d["delay_s"] for d in retries] == pytest.approx([0.1, 0.4])
    runs = h.invocations()
    assert len(runs) == 3
    gap1 = runs[1]["start"] - runs[0]["end"]
    gap2 = runs[2]["start"] - runs[1]["end"]
    assert gap1 >= 0.1 and gap2 >= 0.4
    assert gap2 > gap1
    # The retries of one session use the same claimed id.
    assert len({r["baton_session_id"] for r in runs}) == 1
    # ... and are in the project's decision log too, with the chain and the failure class.
    logged = [d for d in read_decisions(root=h.root) if d["kind"] == "retry"]
    assert [d["reason"] for d in logged] == ["rate_limit", "rate_limit"]
    assert all(d["chain"] == chain["id"] and d["session_id"] == only["id"] for d in logged)
    assert all(d["failure_class"] == "orchestration_error" for d in logged)


def test_fatal_auth_error_stops_at_once_without_retry(h: Harness) -> None:
    # The stream Claude Code 2.1.197 really printed when not logged in (success + is_error, exit 1).
    h.scenario({"steps": [{"replay": str(STREAMS / "not-logged-in.jsonl")}, {"exit": 1}]}, default=session("done"))
    proc = h.run()
    assert proc.returncode == 1
    chain = json.loads(proc.stdout)
    assert chain["status"] == "failed"
    assert "auth" in chain["end_reason"]
    [only] = _sessions(chain)
    assert only["error_kind"] == "fatal" and only["reason"] == "auth"
    assert only["failure_class"] == "orchestration_error"
    assert len(only["attempts"]) == 1
    assert len(h.invocations()) == 1
    assert _decisions(chain, "abort")[0]["reason"] == "auth"
    assert _decisions(chain, "retry") == []


def test_fatal_error_in_api_retry_lines_ends_the_session_early(h: Harness) -> None:
    h.scenario({"steps": [
        {"init": {}},
        {"api_retry": {"error_status": 401, "error": "authentication_failed"}, "count": "forever", "interval": 0.05},
    ]})
    started = time.monotonic()
    proc = h.run()
    assert time.monotonic() - started < 10
    chain = json.loads(proc.stdout)
    assert chain["status"] == "failed"
    assert _sessions(chain)[0]["reason"] == "auth"
    assert len(h.invocations()) == 1


def test_missing_binary_is_fatal_and_claims_nothing(h: Harness) -> None:
    proc = h.run(env={"CLAUDE_BIN": str(h.tmp / "no-such-claude")})
    assert proc.returncode == 1
    chain = json.loads(proc.stdout)
    assert chain["status"] == "failed" and "not found" in chain["end_reason"]
    assert chain["sessions"] == []
    assert list((h.root / "docs" / "sessions").glob("*.md")) == []


def test_usage_limit_waits_until_the_reset_and_is_not_counted_by_the_breaker(h: Harness) -> None:
    h.settings(breaker_threshold=1)
    limited = {"steps": [
        {"init": {}},
        {"rate_limit_event": {"status": "rejected", "resets_in_s": 0.6, "rateLimitType": "five_hour"}},
        {"assistant_error": "rate_limit", "text": "You've hit your limit · resets 1pm (Europe/Lisbon)"},
        result(is_error=True, api_error_status=429, result="You've hit your limit · resets 1pm (Europe/Lisbon)"),
        {"exit": 1},
    ]}
    h.scenario(limited, session("done"))
    proc = h.run()
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    assert chain["breaker"]["consecutive_failures"] == 0
    [only] = _sessions(chain)
    assert only["status"] == "ok"
    assert only["attempts"][0]["error_kind"] == "wait"
    [wait] = [d for d in _decisions(chain, "retry") if d["what"] == "usage_limit_wait"]
    assert 0.3 < wait["wait_s"] <= 0.6
    runs = h.invocations()
    # It slept until the reported reset: no earlier, and not the 5 s cap.
    assert runs[1]["start"] >= runs[0]["start"] + 0.6
    assert runs[1]["start"] - runs[0]["end"] < 4


def test_api_retry_lines_keep_a_slow_session_alive(h: Harness) -> None:
    h.settings(stall_s=0.8)
    h.scenario({"steps": [
        {"init": {}},
        {"api_retry": {"error_status": 529, "error": "server_error"}, "count": 16, "interval": 0.1},
        note("done"),
        result(total_cost_usd=0.05),
    ]})
    proc = h.run()
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    [only] = _sessions(chain)
    assert only["status"] == "ok" and len(only["attempts"]) == 1
    runs = h.invocations()
    assert runs[0]["end"] - runs[0]["start"] > 1.6  # twice the stall limit, and still alive


def test_a_silent_session_is_a_stall_killed_with_its_process_group(h: Harness) -> None:
    h.settings(stall_s=0.5, max_retries=0)
    pidfile = h.tmp / "child.pid"
    h.scenario({"steps": [{"init": {}}, {"spawn_child": str(pidfile)}, {"sleep": 60}]}, default=session("done"))
    started = time.monotonic()
    proc = h.run("--max-sessions", "1")
    assert time.monotonic() - started < 20
    chain = json.loads(proc.stdout)
    [only] = _sessions(chain)
    assert only["status"] == "failed" and only["reason"] == "stall" and only["error_kind"] == "transient"
    assert only["failure_class"] == "timeout"
    assert wait_dead(int(pidfile.read_text()))
    assert not pid_alive(h.invocations()[0]["pid"])


def test_wall_clock_limit_kills_the_group_even_when_the_cli_ignores_max_turns_and_sigterm(h: Harness) -> None:
    h.settings(stall_s=5, session_wall_clock_s=1.5, kill_grace_s=0.3)
    pidfile = h.tmp / "child.pid"
    h.scenario({"ignore_sigterm": True, "steps": [
        {"init": {}},
        {"spawn_child": str(pidfile)},
        # Keeps talking (so no stall) and never stops, whatever --max-turns says.
        {"api_retry": {"error_status": 529}, "count": "forever", "interval": 0.1},
    ]}, session("done"))
    started = time.monotonic()
    proc = h.run("--max-turns", "2")
    elapsed = time.monotonic() - started
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    first = _sessions(chain)[0]
    assert first["reason"] == "wall_clock" and first["status"] == "failed"
    assert len(first["attempts"]) == 1  # not retried in place: the next session carries on
    assert _decisions(chain, "skip")[0]["reason"] == "wall_clock"
    assert first["handoff"]["status"] == "synthetic"
    runs = h.invocations()
    assert runs[0]["max_turns"] == "2"
    assert "end" not in runs[0]  # SIGKILLed: it never got to log its end
    assert wait_dead(int(pidfile.read_text()))
    assert not pid_alive(runs[0]["pid"])
    assert elapsed < 15


def test_a_session_whose_edits_were_all_denied_is_failed(h: Harness) -> None:
    denied = {"steps": [
        {"init": {}},
        {"tool_use": "Edit", "id": "toolu_e1", "input": {"file_path": "src/a.py"}, "denied": True,
         "output": "Claude requested permissions to use Edit, but you haven't granted it yet."},
        {"tool_use": "Write", "id": "toolu_w1", "input": {"file_path": "src/b.py"}, "denied": True},
        note("incomplete"),
        result(total_cost_usd=0.05, permission_denials=[
            {"tool_name": "Edit", "tool_use_id": "toolu_e1", "tool_input": {"file_path": "src/a.py"}},
            {"tool_name": "Write", "tool_use_id": "toolu_w1", "tool_input": {"file_path": "src/b.py"}},
        ]),
    ]}
    h.scenario(denied, session("done"))
    proc = h.run()
    chain = json.loads(proc.stdout)
    first, second = _sessions(chain)
    assert first["status"] == "failed" and first["reason"] == "edits_denied"
    assert "denied" in first["error"]
    assert second["status"] == "ok"
    assert chain["status"] == "done"


def test_some_edits_denied_but_others_made_is_not_a_failure(h: Harness) -> None:
    h.scenario({"steps": [
        {"init": {}},
        {"tool_use": "Edit", "id": "toolu_ok"},
        {"tool_use": "Edit", "id": "toolu_no", "denied": True},
        note("done"),
        result(permission_denials=[{"tool_name": "Edit", "tool_use_id": "toolu_no", "tool_input": {}}]),
    ]})
    chain = json.loads(h.run().stdout)
    assert _sessions(chain)[0]["status"] == "ok"


def test_a_stream_cut_twice_in_a_row_is_fatal(h: Harness) -> None:
    cut = {"steps": [{"init": {}}, {"noise": '{"type":"assistant","message":{"content":[{"type":"te'}, {"exit": 0}]}
    h.scenario(cut, cut, default=session("done"))
    chain = json.loads(h.run().stdout)
    assert chain["status"] == "failed"
    [only] = _sessions(chain)
    assert [a["reason"] for a in only["attempts"]] == ["truncated_stream", "truncated_stream"]
    assert only["error_kind"] == "fatal"
    assert len(h.invocations()) == 2


def test_usage_limit_waits_are_capped_then_the_session_fails(h: Harness) -> None:
    h.settings(usage_limit_max_waits=2, usage_limit_max_wait_s=0.05, breaker_threshold=1)
    limited = {"steps": [{"init": {}}, result(is_error=True, result="You've hit your limit · resets 11pm (UTC)"),
                         {"exit": 1}]}
    h.scenario(default=limited)
    chain = json.loads(h.run().stdout)
    [only] = _sessions(chain)
    assert [a["error_kind"] for a in only["attempts"]] == ["wait", "wait", "wait"]
    waits = [d["wait_s"] for d in _decisions(chain, "retry") if d["what"] == "usage_limit_wait"]
    assert waits == [0.05, 0.05]  # the reset is hours away: capped
    assert only["status"] == "failed"
    assert chain["status"] == "circuit_open"


def test_max_turns_is_not_an_error_and_a_missing_note_gets_the_retry_turn(h: Harness) -> None:
    h.scenario(
        {"steps": [{"init": {}}, result(subtype="error_max_turns", is_error=True, num_turns=9), {"exit": 1}]},
        {"steps": [{"init": {}}, note("incomplete"), result()]},
        session("done"),
    )
    chain = json.loads(h.run("--max-turns", "8").stdout)
    assert chain["status"] == "done"
    first = _sessions(chain)[0]
    assert first["status"] == "ok" and first["reason"] == "max_turns"
    assert first["handoff"]["status"] == "valid_after_retry"
    assert chain["breaker"]["consecutive_failures"] == 0


def test_a_completion_signal_seen_in_consecutive_sessions_ends_the_chain(h: Harness) -> None:
    h.settings(completion_signal="MISSION-COMPLETE", completion_repeats=2)
    said = {"steps": [{"init": {}}, note("incomplete"), result(result="Tidied up. MISSION-COMPLETE")]}
    h.scenario(said, session(), said, said, default=session())
    chain = json.loads(h.run().stdout)
    assert chain["status"] == "done"
    assert len(_sessions(chain)) == 4  # the streak was broken by the second session
    assert "MISSION-COMPLETE" in h.invocations()[0]["prompt"]


# ------------------------------------------------------------------ budget


def test_budget_runs_out_mid_chain(h: Harness) -> None:
    over = {"steps": [
        {"init": {}},
        {"text": "Spending."},
        result(subtype="error_max_budget_usd", is_error=True, total_cost_usd=0.12,
               result="Error: Exceeded USD budget (0.1)"),
        {"exit": 1},
    ]}
    h.scenario(session(cost=0.45), session(cost=0.45), over, default=session("done"))
    proc = h.run("--max-budget-usd", "1", "--max-session-cost-usd", "0.6", "--max-sessions", "10")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "budget_exhausted"
    runs = h.invocations()
    assert len(runs) == 3
    # --max-budget-usd = min(what is left of the chain, the per-session cap)
    assert [float(r["max_budget_usd"]) for r in runs] == pytest.approx([0.6, 0.55, 0.1])
    assert chain["totals"]["cost_usd"] == pytest.approx(1.02)
    assert _sessions(chain)[2]["reason"] == "budget_exceeded"
    assert _sessions(chain)[2]["failure_class"] == "budget_exceeded"


def test_no_session_starts_when_what_is_left_is_below_the_floor(h: Harness) -> None:
    h.settings(min_budget_usd=0.2)
    h.scenario(default=session(cost=0.45))
    chain = json.loads(h.run("--max-budget-usd", "1").stdout)
    assert chain["status"] == "budget_exhausted"
    assert len(h.invocations()) == 2  # 0.10 left after two sessions: below the 0.20 floor
    assert chain["totals"]["cost_usd"] == pytest.approx(0.9)


# ------------------------------------------------------------------ handoff


def test_missing_handoff_gets_one_short_retry_turn_then_a_synthetic_note(h: Harness) -> None:
    no_note = {"steps": [{"init": {}}, {"text": "PARTIAL-OUTPUT: parser half written."}, result(total_cost_usd=0.1)]}
    still_none = {"steps": [{"init": {}}, {"text": "I cannot."}, result(total_cost_usd=0.01)]}
    h.scenario(no_note, still_none, session("done"))
    chain = json.loads(h.run().stdout)
    assert chain["status"] == "done"
    first = _sessions(chain)[0]
    assert first["handoff"]["status"] == "synthetic"
    # No note of its own: the session failed (and counts toward the breaker).
    assert first["status"] == "failed" and first["reason"] == "no_handoff"
    assert [a["purpose"] for a in first["attempts"]] == ["main", "handoff"]
    assert first["cost_usd"] == pytest.approx(0.11)
    runs = h.invocations()
    retry = runs[1]
    assert retry["prompt"] == "/handoff --auto"
    assert retry["resume"] == first["claude_session_id"] and retry["resume"]
    assert retry["max_turns"] == "2"
    assert retry["baton_session_id"] == first["id"]
    # The synthetic note validates, says so, carries the partial output, and is committed.
    path = h.root / "docs" / "sessions" / f"{first['id']}.md"
    metadata, body = frontmatter.read(path)
    assert metadata["synthetic"] is True and metadata["status"] == "written" and metadata["outcome"] == "incomplete"
    assert validate.check_text(path.name, path.read_text(), kind_hint="session").problems == []
    assert "PARTIAL-OUTPUT" in body and "## Next steps" in body and "## Resume Prompt" in body
    assert f"handoff: {first['id']} Synthetic handoff for {first['id']}" in git(h.root, "log", "--format=%s")
    # The next session was told to continue from it.
    assert first["id"] in runs[2]["prompt"] and "synthetic" in runs[2]["prompt"]


def test_the_retry_turn_can_produce_the_note(h: Harness) -> None:
    no_note = {"steps": [{"init": {}}, result(total_cost_usd=0.1)]}
    writes_it = {"steps": [{"init": {}}, note("done"), result(total_cost_usd=0.01)]}
    h.scenario(no_note, writes_it)
    chain = json.loads(h.run().stdout)
    assert chain["status"] == "done"
    assert _sessions(chain)[0]["handoff"]["status"] == "valid_after_retry"


def test_an_invalid_note_is_treated_like_a_missing_one(h: Harness) -> None:
    short = {"steps": [{"init": {}}, note("incomplete", summary="too short", next_steps=None), result()]}
    h.scenario(short, {"steps": [{"init": {}}, result()]}, session("done"))
    chain = json.loads(h.run().stdout)
    first = _sessions(chain)[0]
    assert first["handoff"]["status"] == "synthetic"
    problems = first["handoff"]["problems"]
    assert any("Summary has 9 characters" in p for p in problems)
    assert any("Next steps" in p for p in problems)


# ------------------------------------------------------------------ breaker


def test_three_failed_sessions_open_the_circuit_and_resume_waits_for_the_cool_down(h: Harness) -> None:
    h.settings(max_retries=0, breaker_cooldown_s=3600)
    broken = api_error(500, "server_error", "API Error: 500 Internal server error")
    h.scenario(broken, broken, broken, default=session("done"))
    proc = h.run()
    assert proc.returncode == 1
    chain = json.loads(proc.stdout)
    assert chain["status"] == "circuit_open"
    assert chain["breaker"]["state"] == "open" and chain["breaker"]["consecutive_failures"] == 3
    assert [s["status"] for s in _sessions(chain)] == ["failed"] * 3
    assert len(h.invocations()) == 3
    assert _decisions(chain, "escalation")[0]["reason"] == "circuit_open"
    status = h.chains("status", chain["id"])
    assert "breaker  open" in status.stdout
    # Within the cool-down: refused, nothing run.
    refused = h.chains("run", "--resume")
    assert refused.returncode == 1 and "circuit breaker open until" in refused.stderr
    assert len(h.invocations()) == 3
    # After it (cool-down read from the settings afresh): reset and continued.
    h.settings(max_retries=0, breaker_cooldown_s=0)
    resumed = h.chains("run", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    chain = json.loads(resumed.stdout)
    assert chain["status"] == "done" and chain["breaker"]["state"] == "closed"
    assert len(h.invocations()) == 4


# ------------------------------------------------------------------ crash, locks, stop


def test_kill_9_of_the_runner_then_resume_completes_without_running_a_session_twice(h: Harness) -> None:
    marker = h.tmp / "session2-wrote-note"
    h.scenario(
        session(cost=0.1),
        {"steps": [{"init": {}}, note("incomplete", resume_prompt="RESUME-AFTER-CRASH"), {"touch": str(marker)},
                   {"sleep": 1.0}, result(total_cost_usd=0.1)]},
        session("done", cost=0.1),
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt")
    try:
        h.wait_for(marker)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()
    crashed = h.chain()
    assert crashed["status"] == "running"
    assert _sessions(crashed)[1]["status"] == "running" and _sessions(crashed)[1]["pgid"]
    orphan = h.invocations()[1]["pid"]

    status = h.chains("status")
    assert "runner gone" in status.stdout

    proc = h.chains_process("run", "--resume", "--json")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    s1, s2, s3 = _sessions(chain)
    assert s2["status"] == "interrupted" and s2["handoff"]["status"] == "valid"
    assert s3["status"] == "ok"
    assert not pid_alive(orphan)
    runs = h.invocations()
    ids = [r["baton_session_id"] for r in runs]
    assert ids == [s1["id"], s2["id"], s3["id"]]  # no session run twice
    assert "RESUME-AFTER-CRASH" in runs[2]["prompt"]
    assert any(d["what"] == "rerun" for d in _decisions(chain, "skip"))


def _wait_streamed(h: Harness, text: str, timeout: float = 20) -> None:
    """Until the runner has saved `text` from the session's stream (it reads the pipe as data arrives)."""
    deadline = time.monotonic() + timeout
    while not any(text in p.read_text(errors="replace") for p in (h.state / "chains").rglob("*.stream.jsonl")):
        if time.monotonic() > deadline:
            raise AssertionError(f"the runner never saved {text!r}")
        time.sleep(0.02)


def test_an_interrupted_session_counts_what_its_stream_reported_so_the_budget_holds(h: Harness) -> None:
    marker = h.tmp / "spent"
    # The first session reports its usage, then the runner dies before the session's result line.
    h.scenario(
        {"steps": [{"init": {}}, {"text": "Spending a lot."}, {"text": "Still spending."}, {"touch": str(marker)},
                   {"sleep": 1.0}, result(total_cost_usd=0.4)]},
        default=session("done", cost=0.1),
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt", "--max-budget-usd", "1")
    try:
        h.wait_for(marker)
        _wait_streamed(h, "Still spending.")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.communicate()
    proc = h.chains("run", "--resume", "--json")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    first = _sessions(chain)[0]
    assert first["status"] == "interrupted" and first["cost_from_stream"] is True
    # Two assistant messages of 10 input + 5 output tokens at Sonnet prices: not $0.
    assert first["cost_usd"] == pytest.approx(2 * (10 * 3 + 5 * 15) / 1_000_000)
    assert chain["totals"]["cost_usd"] == pytest.approx(first["cost_usd"] + 0.1)


def test_an_interrupted_session_whose_result_was_streamed_counts_that_cost(h: Harness) -> None:
    marker = h.tmp / "reported"
    h.scenario(
        {"steps": [{"init": {}}, result(total_cost_usd=0.45), {"touch": str(marker)}, {"sleep": 1.0}]},
        default=session("done", cost=0.1),
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt", "--max-budget-usd", "0.5")
    try:
        h.wait_for(marker)
        _wait_streamed(h, '"type": "result"')
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.communicate()
    chain = json.loads(h.chains("run", "--resume", "--json").stdout)
    assert _sessions(chain)[0]["cost_usd"] == pytest.approx(0.45)
    # $0.05 left: below the floor, so no second session — the budget held across the crash.
    assert chain["status"] == "budget_exhausted" and len(h.invocations()) == 1


def test_resume_ends_a_session_that_outlived_its_runner(h: Harness) -> None:
    h.settings(resume_wait_s=0.3)
    marker = h.tmp / "started"
    pidfile = h.tmp / "child.pid"
    h.scenario(
        {"ignore_sigterm": True,
         "steps": [{"init": {}}, {"spawn_child": str(pidfile)}, {"touch": str(marker)}, {"sleep": 60}]},
        session("done"),
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt")
    try:
        h.wait_for(marker)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.communicate()
    orphan = h.invocations()[0]["pid"]
    assert pid_alive(orphan)
    proc = h.chains("run", "--resume", "--json")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    first, second = _sessions(chain)
    assert first["status"] == "interrupted" and first["handoff"]["status"] == "synthetic"
    assert second["status"] == "ok"
    assert wait_dead(orphan) and wait_dead(int(pidfile.read_text()))
    assert chain["status"] == "done"
    assert len(h.invocations()) == 2


def test_a_second_runner_on_the_same_project_is_refused(h: Harness) -> None:
    gate = h.tmp / "gate"
    started = h.tmp / "started"
    h.scenario({"steps": [{"init": {}}, {"touch": str(started)}, {"wait_for_file": str(gate), "timeout": 30},
                          note("done"), result()]})
    first = h.start("run", "--mission", "One.", "--operator", "rt")
    try:
        h.wait_for(started)
        second = h.chains("run", "--mission", "Two.", "--operator", "rt")
        assert second.returncode == 1
        assert "already at work" in second.stderr
        resume = h.chains("run", "--resume")
        assert resume.returncode == 1 and "already at work" in resume.stderr
        assert len(h.registry()["chains"]) == 1
    finally:
        gate.touch()
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert h.chain()["status"] == "done"


def test_stop_ends_the_running_session_and_the_chain_can_be_resumed(h: Harness) -> None:
    started = h.tmp / "started"
    pidfile = h.tmp / "child.pid"
    h.scenario(
        {"steps": [{"init": {}}, {"text": "STOPPED-WORK in progress"}, {"spawn_child": str(pidfile)},
                   {"touch": str(started)}, {"sleep": 60}]},
        session("done"),
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt")
    try:
        h.wait_for(started)
        chain_id = h.chain()["id"]
        stop = h.chains("stop", chain_id)
        assert stop.returncode == 0, stop.stderr
        assert "stopped" in stop.stdout
        _, err = runner.communicate(timeout=20)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 0, err
    chain = h.chain(chain_id)
    assert chain["status"] == "stopped"
    [only] = _sessions(chain)
    assert only["status"] == "stopped" and only["handoff"]["status"] == "synthetic"
    assert wait_dead(int(pidfile.read_text()))
    assert "STOPPED-WORK" in h.note_text(only["id"])

    resumed = h.chains("run", "--resume", chain_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "done"
    assert len(h.invocations()) == 2


def test_stop_of_a_chain_whose_runner_died_marks_it_stopped(h: Harness) -> None:
    started = h.tmp / "started"
    h.scenario({"steps": [{"init": {}}, {"touch": str(started)}, {"sleep": 60}]})
    h.settings(resume_wait_s=0.2)
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt")
    h.wait_for(started)
    os.kill(runner.pid, signal.SIGKILL)
    runner.communicate(timeout=10)
    orphan = h.invocations()[0]["pid"]
    chain_id = h.chain()["id"]
    stop = h.chains("stop", chain_id, "--json")
    assert stop.returncode == 0, stop.stderr
    assert json.loads(stop.stdout)["status"] == "stopped"
    assert wait_dead(orphan)


# ------------------------------------------------------------------ push and webhook


def test_auto_push_happens_on_done(h: Harness) -> None:
    h.scenario(session(work_file="feature.txt"), session("done", work_file="feature.txt", helpers=True))
    before = h.remote_log()
    chain = json.loads(h.run("--auto-push").stdout)
    assert chain["status"] == "done" and chain["push"]["ok"] is True
    pushed = h.remote_log()
    # The first session committed its work with its note; the second its work, then its handoff.
    assert len(pushed) == len(before) + 3
    assert [s.split(" ")[0] for s in pushed[:3]] == ["handoff:", "work", "handoff:"]


def test_auto_push_happens_on_max_sessions_from_the_environment(h: Harness) -> None:
    h.scenario(default=session(work_file="feature.txt"))
    chain = json.loads(h.run("--max-sessions", "2", env={"BATON_AUTO_PUSH": "1"}).stdout)
    assert chain["status"] == "max_sessions" and chain["push"]["ok"] is True
    assert len(h.remote_log()) == 3


def test_auto_push_never_happens_on_error(h: Harness) -> None:
    h.scenario(session(work_file="feature.txt"),
               api_error(401, "authentication_failed", "Invalid API key · Fix external API key"))
    before = h.remote_log()
    chain = json.loads(h.run("--auto-push").stdout)
    assert chain["status"] == "failed"
    assert chain["push"]["ok"] is False and "not pushed" in chain["push"]["detail"]
    assert h.remote_log() == before
    assert "handoff:" in git(h.root, "log", "-1", "--format=%s")  # the work is committed locally


class _Hook:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[float, dict[str, Any]]] = []


@pytest.fixture
def webhook() -> Iterator[tuple[str, _Hook]]:
    hook = _Hook([])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append((time.monotonic(), json.loads(body)))
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield f"{base}/hook?token=SECRET-TOKEN", hook


def test_webhook_gets_the_summary_with_one_retry(h: Harness, webhook: tuple[str, _Hook]) -> None:
    url, hook = webhook
    hook.statuses = [500, 200]
    h.settings(webhook_retry_delay_s=0.3)
    h.scenario(session(summary="SUMMARY-FOR-WEBHOOK: the parser is finished and tested."), session("done"))
    chain = json.loads(h.run("--notify-webhook", url).stdout)
    assert chain["notification"]["ok"] is True and chain["notification"]["attempts"] == 2
    assert len(hook.requests) == 2
    assert hook.requests[1][0] - hook.requests[0][0] >= 0.3
    payload = hook.requests[1][1]
    assert payload["id"] == chain["id"] and payload["status"] == "done"
    assert payload["sessions"] == 2 and payload["cost_usd"] == pytest.approx(0.2)
    assert isinstance(payload["duration_s"], float)
    assert payload["last_summary"] == "Worked on the mission and made steady progress on it."  # the done note's
    # The URL (with its token) is in no file the runner wrote.
    for path in h.state.rglob("*"):
        if path.is_file():
            assert "SECRET-TOKEN" not in path.read_text(errors="replace"), path


def test_a_webhook_that_keeps_failing_does_not_fail_the_chain(h: Harness, webhook: tuple[str, _Hook]) -> None:
    url, hook = webhook
    hook.statuses = [503, 503, 503]
    h.scenario(session("done"))
    proc = h.chains("run", "--mission", "Build.", "--operator", "rt", "--json", env={"BATON_NOTIFY_WEBHOOK": url})
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    assert chain["notification"] == {**chain["notification"], "ok": False, "attempts": 2, "error": "HTTP 503"}
    assert len(hook.requests) == 2
    assert "webhook failed" in proc.stderr
    assert "SECRET-TOKEN" not in proc.stderr
    # The session never saw the URL in its environment.
    assert "BATON_NOTIFY_WEBHOOK" not in h.invocations()[0]["env_names"]


def test_a_webhook_nobody_listens_on_is_logged_not_fatal(h: Harness) -> None:
    h.settings(webhook_retry_delay_s=0.01)
    h.scenario(session("done"))
    proc = h.run("--notify-webhook", "http://127.0.0.1:9/hook")
    assert proc.returncode == 0
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done" and chain["notification"]["ok"] is False


# ------------------------------------------------------------------ registry through the CLI


def test_the_registry_keeps_fifty_chains_and_archives_the_oldest(h: Harness) -> None:
    from lib.chains.registry import ChainRecord, Registry

    registry = Registry(h.state)
    with registry.transaction() as data:
        for i in range(50):
            data.put(ChainRecord(id=f"20200101-0000{i:02d}-abcd", project_dir=str(h.root), mission=f"old {i}",
                                 status="done", created_at=f"2020-01-01T00:00:{i:02d}+00:00"))
    h.scenario(session("done"))
    chain = json.loads(h.run().stdout)
    kept = h.registry()
    assert len(kept["chains"]) == 50
    assert kept["schema_version"] == 1
    assert chain["id"] in [c["id"] for c in kept["chains"]]
    archive = json.loads((h.state / "registry-archive.json").read_text())
    assert [c["id"] for c in archive["chains"]] == ["20200101-000000-abcd"]
    listed = json.loads(h.chains("list", "--all", "--json").stdout)
    assert len(listed) == 51
    assert h.chains("status", "20200101-000000-abcd").returncode == 0


def test_a_leftover_tmp_from_a_crash_is_recovered(h: Harness) -> None:
    h.scenario(session("done"), session("done"))
    chain = json.loads(h.run().stdout)
    data = h.registry()
    # A crash after the temp file was written and before the rename: the temp is newer.
    newer = {**data, "generation": data["generation"] + 1}
    newer["chains"] = [{**c, "mission": "NEWER"} for c in data["chains"]]
    (h.state / ".registry.json.abc123.tmp").write_text(json.dumps(newer))
    (h.state / ".registry.json.zzz.tmp").write_text('{"schema_version": 1, "chains": [')  # torn
    listed = json.loads(h.chains("list", "--json").stdout)
    assert [c["mission"] for c in listed] == ["NEWER"]
    assert listed[0]["id"] == chain["id"]
    # The next write promotes it and clears the leftovers.
    assert json.loads(h.run().stdout)["status"] == "done"
    assert not list(h.state.glob(".registry.json.*.tmp"))
    assert h.chain(chain["id"])["mission"] == "NEWER"


def test_bad_arguments_are_one_line_errors(h: Harness) -> None:
    proc = h.chains("run", "--mission", "x", "--max-budget-usd", "-1")
    assert proc.returncode == 2 and "must be above 0" in proc.stderr
    proc = h.chains("status", "../../etc")
    assert proc.returncode == 2 and "not a chain id" in proc.stderr
    proc = h.chains("run", "--mission", "x")  # no --operator, no $OPERATOR, a git email nobody has
    assert proc.returncode == 1 and "no operator in .claude/operators.yaml has the email" in proc.stderr
    proc = h.chains("run", "--mission", "x", "--operator", "zz")
    assert proc.returncode == 1 and "names no operator" in proc.stderr
    (h.root / ".claude" / "baton.yaml").write_text("chains:\n  stall_s: -3\n")
    proc = h.chains("run", "--mission", "x", "--operator", "rt")
    assert proc.returncode == 2 and "baton.yaml:2" in proc.stderr
    assert not (h.state / "registry.json").exists()


def test_help_describes_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import chains as chains_cli
    from support.paths import run_script

    proc = run_script("chains.py", "--help", cwd=Path.cwd())
    assert proc.returncode == 0 and "usage:" in proc.stdout
    parser = chains_cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out
