"""A small, varied store for the console's tests: sessions of three operators, workstreams, live telemetry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lib.core import atomic
from lib.store import frontmatter

from support.roster import member, write_roster

SCRIPT_NOTE = "<script>window.__pwned = 1</script>"


def write_session(root: Path, session_id: str, *, body: str | None = None, **meta: Any) -> Path:
    data: dict[str, Any] = {
        "title": f"Work of {session_id}",
        "operator": "ann",
        "summary": f"Summary of {session_id}.",
        "tags": [],
        "kind": "session",
        "external_id": session_id,
        "status": "written",
        "outcome": "done",
    }
    data.update(meta)
    data = {k: v for k, v in data.items() if v is not None}
    text = body if body is not None else (
        f"## Summary\n\n{data.get('summary', '')}\n\n## Next steps\n\n- carry on\n\n## Resume Prompt\n\nGo on.\n")
    path = root / "docs" / "sessions" / f"{session_id}.md"
    frontmatter.write(path, data, text)
    return path


def write_workstream(root: Path, slug: str, owner: str, status: str = "active", **meta: Any) -> Path:
    data = {"title": slug.replace("-", " ").title(), "owner": owner, "summary": f"The {slug} work.", "tags": [],
            "kind": "workstream", "external_id": slug, "status": status, **meta}
    path = root / "workstreams" / f"{slug}.md"
    frontmatter.write(path, data, "## Goal\n\nShip it.\n")
    return path


def write_telemetry(root: Path, session_id: str, *, ended: bool = False, age_s: float = 5.0,
                    tool_calls: int = 7, cost: float = 0.12) -> Path:
    now = time.time() - age_s
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    state = {
        "state_version": 1, "session_id": session_id, "started_at": stamp, "last_event_at": stamp,
        "ended_at": stamp if ended else None, "end_reason": "other" if ended else None,
        "tool_calls_count": tool_calls, "tool_calls_breakdown": {"Bash": tool_calls},
        "tool_failures_count": 1, "failures_breakdown": {"test_fail": 1}, "cost_usd": cost,
        "tokens": {"input": 100, "output": 50, "cache_creation": 0, "cache_read": 0},
    }
    path = root / ".claude" / "state" / f"session-{session_id}.json"
    atomic.write_text(path, json.dumps(state))  # as the telemetry hook writes it
    return path


def build(root: Path) -> dict[str, Any]:
    """The shared fixture store; returns what tests assert against."""
    write_session(root, "AN-260301-01", operator="ann", workstream="auth", date="2026-03-01", cost_usd=0.5,
                  model="claude-sonnet-4-5", tool_calls_count=10,
                  failure_summary={"total": 3, "by_class": {"test_fail": 2, "lint_error": 1},
                                   "dominant_class": "test_fail",
                                   "contexts": [{"first_error_line": "FAILED tests/test_a.py::test_x"}]})
    write_session(root, "AN-260301-02", operator="ann", workstream="auth", date="2026-03-01", cost_usd=0.25,
                  outcome="incomplete", model="claude-sonnet-4-5")
    write_session(root, "BO-260302-01", operator="bob", workstream="billing", date="2026-03-02", cost_usd=1.0,
                  outcome="blocked", model="claude-opus-4-1", failures_breakdown={"compile_error": 4},
                  tool_failures_count=4)
    write_session(root, "BO-260305-01", operator="bob", workstream=None, date="2026-03-05", cost_usd=0.1,
                  body="## Summary\n\nA note that tries " + SCRIPT_NOTE + " and <img src=x onerror=alert(1)>.\n\n"
                       "[click](javascript:alert(1))\n")
    write_session(root, "CY-260306-01", operator="cy", workstream="billing", date="2026-03-06", cost_usd=2.0,
                  chain_id="20260306-101500-abcd")
    # A claim stub: "no session yet" to every reader unless asked for.
    frontmatter.write(root / "docs" / "sessions" / "CY-260307-01.md",
                      {"kind": "session", "external_id": "CY-260307-01", "operator": "cy",
                       "claimed_at": "2026-03-07T09:00:00Z", "status": "claimed"}, "")
    # A legacy note (no status) and a broken one.
    write_session(root, "CONV-old-notes", operator="ann", status=None, outcome=None, date="2025-12-01")
    (root / "docs" / "sessions" / "ZZ-260101-01.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    write_roster(root, [member("ann", "AN"), member("bob", "BO"), member("dee", "DE")])
    write_workstream(root, "auth", "ann")
    write_workstream(root, "billing", "bob", priority="high")
    write_workstream(root, "old-stuff", "ann", status="done")
    write_workstream(root, "orphan", "nobody-yet", status="paused")
    write_telemetry(root, "11111111-aaaa-bbbb-cccc-000000000001", tool_calls=7)
    write_telemetry(root, "11111111-aaaa-bbbb-cccc-000000000002", ended=True)
    write_telemetry(root, "11111111-aaaa-bbbb-cccc-000000000003", age_s=10 * 3600)
    decisions = root / ".claude" / "state" / "decisions.jsonl"
    decisions.write_text(
        json.dumps({"ts": "2026-03-02T10:00:00.000Z", "kind": "retry", "session_id": "BO-260302-01",
                    "failure_class": "compile_error", "outcome": "succeeded"}) + "\n"
        + json.dumps({"ts": "2026-03-02T11:00:00.000Z", "kind": "retry", "session_id": "BO-260302-01",
                      "failure_class": "compile_error", "outcome": "failed"}) + "\n",
        encoding="utf-8")
    return {"written": ["CY-260306-01", "BO-260305-01", "BO-260302-01", "AN-260301-02", "AN-260301-01"],
            "stub": "CY-260307-01", "legacy": "CONV-old-notes", "broken": "ZZ-260101-01"}
