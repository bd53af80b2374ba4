"""lib.failures.insights: failure rates, cost lost to failed sessions and retries, from plain data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lib.failures import insights


def note(sid: str, **meta: Any) -> dict[str, Any]:
    return {"external_id": sid, "operator": "ann", "date": "2026-03-01", "outcome": "done", **meta}


def chain(cid: str, sessions: list[dict[str, Any]], decisions: list[dict[str, Any]],
          operator: str = "ann") -> dict[str, Any]:
    return {"id": cid, "operator": operator, "sessions": sessions, "decisions": decisions}


def test_rates_by_class_operator_workstream_and_model() -> None:
    sessions = [
        note("AN-260301-01", workstream="auth", model="opus", cost_usd=1.0, tool_calls_count=10,
             failure_summary={"total": 3, "by_class": {"test_fail": 2, "lint_error": 1}}),
        note("AN-260301-02", workstream="auth", model="opus", cost_usd=0.5, outcome="blocked",
             failures_breakdown={"compile_error": 1}),
        note("BO-260302-01", operator="bob", model="sonnet", cost_usd=2.0, date=dt.date(2026, 3, 2)),
    ]
    out = insights.compute(sessions)
    assert out["totals"] == {
        "key": "all", "sessions": 3, "sessions_with_failures": 2, "failed_sessions": 1,
        "failure_rate": pytest.approx(1 / 3, abs=1e-4), "tool_calls": 10, "tool_failures": 4,
        "cost_usd": 3.5, "cost_lost_usd": 0.5,
    }
    assert [(c["failure_class"], c["failures"], c["share"]) for c in out["by_class"]] == [
        ("test_fail", 2, 0.5), ("compile_error", 1, 0.25), ("lint_error", 1, 0.25)]
    ops = {r["key"]: r for r in out["by_operator"]}
    assert ops["ann"]["failed_sessions"] == 1 and ops["ann"]["failure_rate"] == 0.5
    assert ops["bob"]["failure_rate"] == 0.0
    assert {r["key"] for r in out["by_workstream"]} == {"auth", insights.UNKNOWN}
    assert {r["key"]: r["cost_lost_usd"] for r in out["by_model"]} == {"opus": 0.5, "sonnet": 0.0}
    assert out["cost_per_day"] == [{"date": "2026-03-01", "cost_usd": 1.5, "sessions": 2},
                                   {"date": "2026-03-02", "cost_usd": 2.0, "sessions": 1}]
    assert out["failures_per_day"] == [{"date": "2026-03-01",
                                        "by_class": {"compile_error": 1, "lint_error": 1, "test_fail": 2}}]


def test_filters_by_date_operator_and_workstream() -> None:
    sessions = [note("A-1", date="2026-02-28"), note("A-2", date="2026-03-01", workstream="x"),
                note("B-1", operator="bob", date="2026-03-02")]
    f = insights.Filters(since=dt.date(2026, 3, 1))
    assert insights.compute(sessions, filters=f)["totals"]["sessions"] == 2
    f = insights.Filters(until=dt.date(2026, 3, 1), operator="ann")
    assert insights.compute(sessions, filters=f)["totals"]["sessions"] == 2
    f = insights.Filters(workstream="x")
    assert insights.compute(sessions, filters=f)["totals"]["sessions"] == 1


def test_a_failed_chain_session_counts_with_the_registry_cost() -> None:
    sessions = [note("AN-260301-01", cost_usd=None)]
    chains = [chain("c1", [
        {"id": "AN-260301-01", "status": "failed", "cost_usd": 0.75, "failure_class": "timeout",
         "started_at": "2026-03-01T10:00:00+00:00", "model": "opus"},
        {"id": "AN-260301-02", "status": "failed", "cost_usd": 0.25, "failure_class": "orchestration_error",
         "started_at": "2026-03-01T11:00:00+00:00"},
    ], [])]
    out = insights.compute(sessions, chains=chains)
    # One failed session with a note (registry cost), one without a note (counted from the registry alone).
    assert out["totals"]["sessions"] == 2 and out["totals"]["failed_sessions"] == 2
    assert out["totals"]["cost_lost_usd"] == pytest.approx(1.0)
    assert {c["failure_class"]: c["chain_sessions_failed"] for c in out["by_class"]} == \
        {"timeout": 1, "orchestration_error": 1}


def test_retries_that_succeeded() -> None:
    chains = [chain("c1", [
        {"id": "S1", "status": "ok", "handoff": {"status": "valid"}},
        {"id": "S2", "status": "failed", "handoff": {"status": "synthetic"}},
        {"id": "S3", "status": "ok", "handoff": {"status": "valid_after_retry"}},
    ], [
        {"type": "retry", "session": "S1", "what": "session", "reason": "rate_limit", "at": "2026-03-01T10:00:00+00:00"},
        {"type": "retry", "session": "S1", "what": "session", "reason": "rate_limit", "at": "2026-03-01T10:01:00+00:00"},
        {"type": "retry", "session": "S2", "what": "session", "reason": "server_error", "at": "2026-03-01T11:00:00+00:00"},
        {"type": "retry", "session": "S3", "what": "handoff", "at": "2026-03-02T09:00:00+00:00"},
        {"type": "retry", "what": "circuit_reset", "at": "2026-03-02T09:00:00+00:00"},
        {"type": "routing", "session": "S1", "at": "2026-03-01T09:00:00+00:00"},
    ])]
    log = [
        {"ts": "2026-03-03T10:00:00Z", "kind": "retry", "chain": "c1", "outcome": "ok"},  # the registry has it
        {"ts": "2026-03-03T10:00:00Z", "kind": "retry", "failure_class": "test_fail", "outcome": "succeeded"},
        {"ts": "2026-03-03T11:00:00Z", "kind": "retry", "failure_class": "test_fail"},
        {"ts": "2026-03-03T11:00:00Z", "kind": "skip"},
    ]
    out = insights.retries(chains, log)
    # S1: first retry failed (another followed), second succeeded; S2 failed; S3's handoff retry succeeded;
    # the log: one success, one pending; the circuit reset and the registry's own chain are not counted.
    assert (out["total"], out["succeeded"], out["failed"], out["pending"]) == (6, 3, 2, 1)
    assert out["success_rate"] == 0.6
    reasons = {r["reason"]: (r["succeeded"], r["failed"], r["pending"]) for r in out["by_reason"]}
    assert reasons == {"rate_limit": (1, 1, 0), "server_error": (0, 1, 0), "handoff": (1, 0, 0),
                       "test_fail": (1, 0, 1)}
    assert [d["date"] for d in out["per_day"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_garbage_values_do_not_break_the_figures() -> None:
    sessions = [note("X", cost_usd="a lot", tool_calls_count=-3, failure_summary="many",
                     failures_breakdown={"test_fail": "two"}, date="not a date"),
                note("Y", cost_usd=float("nan"), failures_breakdown=[1, 2], date=None)]
    out = insights.compute(sessions, chains=[{"sessions": "none"}, "junk"],  # type: ignore[list-item]
                           decisions=["junk", {"kind": "retry"}])  # type: ignore[list-item]
    assert out["totals"]["sessions"] == 2
    assert out["totals"]["cost_usd"] == 0.0 and out["totals"]["tool_failures"] == 0
    assert out["cost_per_day"] == []
    assert out["retries"]["pending"] == 1


def test_routing_decisions_resolution_rate_and_cost_per_resolved_failure() -> None:
    chains = [chain("c1", [], [
        {"id": "e1", "type": "escalation", "failure_class": "test_fail", "resolved_by": "S3", "cost_usd": 0.3,
         "at": "2026-03-01T10:00:00+00:00"},
        {"id": "r1", "type": "refinement_cycle", "failure_class": "test_fail", "resolved_by": "S3", "cost_usd": 0.5,
         "at": "2026-03-01T09:00:00+00:00"},
        {"id": "r2", "type": "refinement_cycle", "failure_class": "test_fail", "cost_usd": 0.3,
         "at": "2026-03-01T10:00:00+00:00"},
        {"id": "x", "type": "escalation", "reason": "circuit_open", "at": "2026-03-01T10:00:00+00:00"},
    ])]
    log: list[dict[str, Any]] = [
        {"ts": "2026-03-02T10:00:00Z", "kind": "escalation", "chain": "c1", "decision_id": "e1",
         "failure_class": "test_fail"},  # the registry has it
        {"ts": "2026-03-02T10:00:00Z", "kind": "escalation", "chain": "old", "decision_id": "e9",
         "failure_class": "compile_error"},
        {"ts": "2026-03-02T11:00:00Z", "kind": "escalation", "chain": "old", "follow_up_of": "e9",
         "failure_class": "compile_error", "resolved_by": None, "cost_usd": 0.2},
        {"ts": "2026-03-02T12:00:00Z", "kind": "escalation", "chain": "old", "follow_up_of": "e9",
         "failure_class": "compile_error", "resolved_by": "S9", "cost_usd": 0.4},
    ]
    rows = {(r["type"], r["failure_class"]): r for r in insights.routing_outcomes(chains, log)["rows"]}
    assert set(rows) == {("escalation", "test_fail"), ("refinement_cycle", "test_fail"),
                         ("escalation", "compile_error")}
    refine = rows[("refinement_cycle", "test_fail")]
    assert (refine["decisions"], refine["resolved"], refine["resolution_rate"]) == (2, 1, 0.5)
    assert refine["cost_usd"] == pytest.approx(0.8) and refine["cost_per_resolved_usd"] == pytest.approx(0.8)
    old = rows[("escalation", "compile_error")]
    assert (old["decisions"], old["resolved"]) == (1, 1) and old["cost_per_resolved_usd"] == pytest.approx(0.6)
    assert insights.compute([], chains=chains, decisions=log)["routing"]["rows"] == list(rows.values())
