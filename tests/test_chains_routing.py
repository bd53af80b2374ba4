"""Routing from failure history: refinement, escalation along a ladder, stop early; decisions resolved later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chains_harness import Harness, make_harness, note, result
from lib.chains.registry import ChainRecord, Handoff, SessionRecord
from lib.chains.routing import RoutingPolicy, plan, team_history
from lib.failures.decisions import read_decisions

PYTEST_FAILURE = """============================= test session starts ==============================
collected 3 items

tests/test_parser.py ..F                                                 [100%]

=================================== FAILURES ===================================
________________________________ test_roundtrip ________________________________

    def test_roundtrip():
>       assert parse(dump(1)) == 2
E       assert 1 == 2

tests/test_parser.py:7: AssertionError
=========================== short test summary info ============================
FAILED tests/test_parser.py::test_roundtrip - assert 1 == 2
========================= 1 failed, 2 passed in 0.05s ==========================
"""
MISSING_LXML = ("Traceback (most recent call last):\n  File \"src/feed.py\", line 1, in <module>\n    import lxml\n"
                "ModuleNotFoundError: No module named 'lxml'\n")
LADDER = ["claude-sonnet-4-6", "claude-opus-4-1"]


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    return make_harness(repo, tmp_path)


def _failing(output: str, cost: float = 0.1) -> dict[str, Any]:
    """A session whose test run fails; it writes an incomplete note and ends without an error."""
    return {"steps": [
        {"init": {}},
        {"tool_use": "Bash", "input": {"command": "pytest"}, "denied": True, "output": output},
        note("incomplete"),
        result(total_cost_usd=cost),
    ]}


def _done(cost: float = 0.1) -> dict[str, Any]:
    return {"steps": [{"init": {}}, note("done"), result(total_cost_usd=cost)]}


def _routing_settings(h: Harness, **routing: Any) -> None:
    h.settings(routing={"ladder": LADDER, "escalate_after": 2, **routing})


def _of(chain: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in chain["decisions"] if d["type"] == kind]


# ------------------------------------------------------------------ end to end with the fake claude


def test_two_failures_of_a_class_escalate_the_model_and_the_prompt_names_the_failing_test(h: Harness) -> None:
    _routing_settings(h)
    h.scenario(_failing(PYTEST_FAILURE), _failing(PYTEST_FAILURE), _done(0.3))
    proc = h.run()
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)
    assert chain["status"] == "done"
    runs = h.invocations()
    assert [r["model"] for r in runs] == ["claude-sonnet-4-6", "claude-sonnet-4-6", "claude-opus-4-1"]
    # Refinement: the second and third prompts carry the class and the failing test, fenced as quoted material.
    assert "test_roundtrip" not in runs[0]["prompt"]
    for run in runs[1:]:
        assert "test_fail" in run["prompt"] and "test_roundtrip" in run["prompt"]
        assert "tests/test_parser.py:7" in run["prompt"] and "## What failed last time" in run["prompt"]
    s1, s2, s3 = chain["sessions"]
    assert s1["failure_class"] == s2["failure_class"] == "test_fail"
    assert s1["failure_context"]["tests"] == ["test_roundtrip"]
    assert s3["failure_class"] is None and s3["requested_model"] == "claude-opus-4-1"
    [escalation] = [d for d in _of(chain, "escalation") if d.get("failure_class")]
    assert escalation["session"] == s3["id"] and escalation["from"] == "claude-sonnet-4-6"
    assert escalation["failures_on_model"] == 2 and escalation["resolved_by"] == s3["id"]
    refinements = _of(chain, "refinement_cycle")
    assert [d["session"] for d in refinements] == [s2["id"], s3["id"]]
    # The refinement before s2 did not fix it (s2 failed alike); s3 did, and resolved both.
    assert all(d["resolved_by"] == s3["id"] for d in refinements)
    assert refinements[0]["cost_usd"] == pytest.approx(0.4) and refinements[0]["sessions_after"] == 2
    # The decision log has the decisions with their inputs, and the follow-ups.
    logged = read_decisions(root=h.root)
    esc = next(d for d in logged if d["kind"] == "escalation" and d.get("decision_id") == escalation["id"])
    assert esc["context"]["failures_on_model"] == 2 and esc["context"]["ladder"] == LADDER
    follow = [d for d in logged if d.get("follow_up_of") == escalation["id"]]
    assert [(d["resolved_by"], d["cost_usd"]) for d in follow] == [(s3["id"], 0.3)]


def test_back_down_to_the_base_model_after_a_success(h: Harness) -> None:
    _routing_settings(h)
    h.scenario(_failing(PYTEST_FAILURE), _failing(PYTEST_FAILURE), _failing("ok", 0.1) | {"steps": [
        {"init": {}}, note("incomplete"), result()]}, _done())
    chain = json.loads(h.run().stdout)
    assert [r["model"] for r in h.invocations()] == [*LADDER[:1] * 2, LADDER[1], LADDER[0]]
    assert any(d.get("why") == "back down after a success" for d in _of(chain, "routing"))


def test_a_dependency_a_session_cannot_install_blocks_the_chain(h: Harness) -> None:
    _routing_settings(h)
    h.scenario(_failing(MISSING_LXML), _failing(MISSING_LXML), default=_done())
    proc = h.run()
    assert proc.returncode == 1
    chain = json.loads(proc.stdout)
    assert chain["status"] == "blocked"
    assert "lxml is still missing" in chain["end_reason"]
    assert len(h.invocations()) == 2
    assert "missing module: lxml" in h.invocations()[1]["prompt"]
    [abort] = [d for d in _of(chain, "abort") if d.get("reason") == "blocked"]
    assert abort["failure_class"] == "dependency_missing" and abort["context"]["missing"] == "lxml"
    # Blocked chains are resumable once a person fixed the cause.
    status = h.chains("status", "--json")
    assert json.loads(status.stdout)["resumable"] is True


def test_a_session_that_spends_its_own_cap_blocks_the_chain(h: Harness) -> None:
    over = {"steps": [{"init": {}}, result(subtype="error_max_budget_usd", is_error=True, total_cost_usd=0.21,
                                           result="Error: Exceeded USD budget (0.2)"), {"exit": 1}]}
    h.scenario(over, default=_done())
    chain = json.loads(h.run("--max-session-cost-usd", "0.2", "--max-budget-usd", "5").stdout)
    assert chain["status"] == "blocked" and "per-session budget" in chain["end_reason"]
    assert len(h.invocations()) == 1


def test_routing_off_runs_every_session_alike(h: Harness) -> None:
    _routing_settings(h)
    h.scenario(_failing(PYTEST_FAILURE), _failing(PYTEST_FAILURE), _done())
    chain = json.loads(h.run("--routing", "off", "--model", "claude-sonnet-4-6").stdout)
    runs = h.invocations()
    assert [r["model"] for r in runs] == ["claude-sonnet-4-6"] * 3
    assert not any("What failed last time" in r["prompt"] for r in runs)
    assert _of(chain, "escalation") == [] and _of(chain, "refinement_cycle") == []
    assert all(d["why"] == "routing off" for d in _of(chain, "routing"))


def test_synthetic_note_sessions_open_the_breaker(h: Harness) -> None:
    h.settings(breaker_threshold=3)
    silent = {"steps": [{"init": {}}, {"text": "No note from me."}, result(total_cost_usd=0.05)]}
    h.scenario(default=silent)
    proc = h.run("--max-sessions", "10")
    chain = json.loads(proc.stdout)
    assert chain["status"] == "circuit_open"
    assert [s["status"] for s in chain["sessions"]] == ["failed"] * 3
    assert all(s["handoff"]["status"] == "synthetic" for s in chain["sessions"])
    # Three sessions, each with its one retry turn: not ten.
    assert len(h.invocations()) == 6


# ------------------------------------------------------------------ the policy as a pure function


def _chain(*failures: tuple[str | None, str | None, dict[str, Any] | None]) -> ChainRecord:
    chain = ChainRecord(id="20261206-020000-abcd", project_dir="/tmp/p", mission="m")
    for i, (failure, model, context) in enumerate(failures, start=1):
        chain.sessions.append(SessionRecord(
            id=f"RT-261206-{i:02d}", index=i, status="ok", requested_model=model, failure_class=failure,
            failure_context=context, handoff=Handoff(status="valid")))
    return chain


def test_the_team_history_makes_the_runner_escalate_after_one_failure() -> None:
    policy = RoutingPolicy(ladder=LADDER, escalate_after=3)
    chain = _chain(("compile_error", LADDER[0], {"first_error_line": "E0308"}))
    assert plan(chain, policy, None).model == LADDER[0]
    log: list[dict[str, Any]] = []
    for n, resolved in enumerate([True, True, False]):
        log.append({"kind": "escalation", "failure_class": "compile_error", "decision_id": f"e{n}"})
        if resolved:
            log.append({"kind": "escalation", "failure_class": "compile_error", "follow_up_of": f"e{n}",
                        "resolved_by": "X"})
    log.append({"kind": "refinement_cycle", "failure_class": "compile_error", "decision_id": "r1"})
    team = team_history(Path("/tmp/p"), log)
    assert team.get("compile_error").escalations_resolved == 2
    route = plan(chain, policy, None, team)
    assert route.model == LADDER[1]
    [esc] = [d for d in route.decisions if d.kind == "escalation"]
    assert esc.detail["why"] == "team history favours escalation" and esc.detail["team"]["escalations"] == 3


def test_orchestration_errors_are_neither_refined_nor_escalated() -> None:
    policy = RoutingPolicy(ladder=LADDER, escalate_after=1)
    route = plan(_chain(("orchestration_error", LADDER[0], None)), policy, None)
    assert route.model == LADDER[0] and route.refinement is None and route.block is None


def test_a_model_off_the_ladder_is_its_first_rung() -> None:
    policy = RoutingPolicy(ladder=LADDER, escalate_after=1)
    chain = _chain(("lint_error", "claude-haiku-4-5", None))
    assert plan(chain, policy, "claude-haiku-4-5").model == LADDER[0]
