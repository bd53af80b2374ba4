"""Chains in the console: list and detail from the registry, events from registry writes, and the kill switch
(401/403/404/409 leave the chain untouched; with the token it stops a chain as `chains.py stop` does)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chains_harness import Harness, make_harness, note, result
from console_openapi import check, wait_until
from console_store import write_session
from lib.chains import journal
from lib.chains import registry as chain_registry
from lib.chains.registry import Breaker, ChainRecord, Handoff, Registry, SessionRecord
from lib.console.data import Console, Settings
from lib.console.events import Watcher
from lib.failures.decisions import log_decision

warnings.filterwarnings("ignore", message=".*httpx.*")

from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

TOKEN = "chain-test-token-0123456789"
CHAIN_ID = "20260306-101500-abcd"


def record(project: Path, chain_id: str = CHAIN_ID, *, status: str = "running", breaker: str = "closed",
           sessions: list[SessionRecord] | None = None, **extra: Any) -> ChainRecord:
    return ChainRecord(
        id=chain_id, project_dir=str(project), mission="Build the billing export.\nDetails follow.",
        status=status, operator="cy", settings={"budget_usd": 5.0, "max_sessions": 4},
        breaker=Breaker(state=breaker, consecutive_failures=3 if breaker == "open" else 0,
                        opened_at="2026-03-06T11:00:00+00:00" if breaker == "open" else None),
        sessions=sessions if sessions is not None else [], **extra)


def sessions_of(*specs: tuple[str, str, float]) -> list[SessionRecord]:
    out = []
    for i, (sid, status, cost) in enumerate(specs, start=1):
        s = SessionRecord(id=sid, index=i, status=status, cost_usd=cost, turns=3,
                          started_at="2026-03-06T10:15:00+00:00")
        if status != "running":
            s.ended_at = "2026-03-06T10:45:00+00:00"
            s.handoff = Handoff(status="valid" if status == "ok" else "synthetic",
                                path=f"docs/sessions/{sid}.md", outcome="incomplete")
        if status == "failed":
            s.failure_class, s.reason, s.error_kind = "timeout", "wall_clock", None
            s.error = "the session ran past its wall-clock limit"
        out.append(s)
    return out


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def client(repo: Path) -> Iterator[TestClient]:
    console = Console([repo], Settings(poll_interval_s=0.05, stop_timeout_s=5))
    app = create_app(console, Security(token=TOKEN, allowed_hosts=allowed_hosts_for("127.0.0.1", 8765)))
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


def test_chains_list_and_detail(client: TestClient, repo: Path, registry: Registry, tmp_path: Path) -> None:
    write_session(repo, "CY-260306-01", operator="cy", date="2026-03-06", chain_id=CHAIN_ID,
                  summary="Exported the first half of the billing data.")
    chain = record(repo, sessions=sessions_of(("CY-260306-01", "ok", 0.75), ("CY-260306-02", "failed", 0.5),
                                              ("CY-260306-03", "running", 0.0)))
    journal.append_decision(chain, "routing", session="CY-260306-01", model="default")
    journal.append_decision(chain, "retry", session="CY-260306-02", what="session", reason="rate_limit")
    registry.save(chain)
    registry.save(record(tmp_path / "elsewhere", "20260306-101500-ffff"))  # another project's chain
    registry.save(record(repo, "20260301-090000-0001", status="done"))
    log = repo / ".claude" / "state" / "decisions.jsonl"
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat(timespec="milliseconds")
    # The runner mirrors its decisions into the decision log; a decision only the log has is shown too.
    for kind, session in (("routing", "CY-260306-01"), ("retry", "CY-260306-02")):
        log_decision(kind, root=repo, chain=CHAIN_ID, session_id=session)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ts": later.replace("+00:00", "Z"), "kind": "escalation", "chain": CHAIN_ID,
                             "decision": "page the owner"}) + "\n")

    wait_until(lambda: client.get("/api/sessions/CY-260306-01").status_code == 200)  # the watcher saw the note
    listed = check(client.get("/api/chains"), "/api/chains")
    assert [c["id"] for c in listed["chains"]] == [CHAIN_ID, "20260301-090000-0001"]
    summary = listed["chains"][0]
    assert summary["sessions_count"] == 3 and summary["max_sessions"] == 4
    assert summary["cost_usd"] == 1.25 and summary["budget_usd"] == 5.0
    assert summary["current_session"] == "CY-260306-03" and summary["mission"] == "Build the billing export."
    assert summary["runner_alive"] is False  # no runner process behind this record
    done = check(client.get("/api/chains?status=done"), "/api/chains")
    assert [c["id"] for c in done["chains"]] == ["20260301-090000-0001"]

    detail = check(client.get(f"/api/chains/{CHAIN_ID}"), "/api/chains/{chain_id}")
    assert [s["status"] for s in detail["sessions"]] == ["ok", "failed", "running"]
    assert detail["sessions"][0]["note"]["summary"] == "Exported the first half of the billing data."
    assert detail["sessions"][1]["note"] is None
    assert detail["costs"] == {"total_usd": 1.25, "budget_usd": 5.0, "remaining_usd": 3.75,
                               "per_session": [{"id": "CY-260306-01", "cost_usd": 0.75},
                                               {"id": "CY-260306-02", "cost_usd": 0.5},
                                               {"id": "CY-260306-03", "cost_usd": 0.0}]}
    assert [(d["type"], d["source"]) for d in detail["decisions"]] == \
        [("routing", "registry"), ("retry", "registry"), ("escalation", "log")]
    assert detail["failures"] == [{"session": "CY-260306-02", "failure_class": "timeout", "reason": "wall_clock",
                                   "error_kind": None, "error": "the session ran past its wall-clock limit"}]
    assert client.get("/api/chains/20260306-101500-ffff").status_code == 404

    page = client.get(f"/chains/{CHAIN_ID}")
    assert page.status_code == 200
    assert "Exported the first half of the billing data." in page.text and "wall_clock" in page.text
    assert page.text.count('class="tl-item') == 3
    insights = check(client.get("/api/insights"), "/api/insights")
    assert insights["retries"]["total"] == 1 and insights["retries"]["failed"] == 1


def test_open_breakers_are_on_the_dashboard(client: TestClient, repo: Path, registry: Registry) -> None:
    registry.save(record(repo, status="circuit_open", breaker="open",
                         sessions=sessions_of(("CY-260306-01", "failed", 0.1))))
    page = client.get("/").text
    breakers = page[page.index('id="breakers"'):page.index('id="failures"')]
    assert CHAIN_ID in breakers and "3 failed in a row" in breakers


def test_a_worktree_chain_shows_its_branch_and_routing_outcomes_are_on_the_insights_page(
        client: TestClient, repo: Path, registry: Registry) -> None:
    chain = record(repo, status="done", sessions=sessions_of(("CY-260306-01", "ok", 0.4)),
                   worktree={"path": "/tmp/wt", "branch": f"baton/{CHAIN_ID}", "base": "abc"})
    chain.decisions.append({"id": "d1", "at": "2026-03-06T10:00:00+00:00", "type": "escalation",
                            "session": "CY-260306-01", "failure_class": "test_fail", "resolved_by": "CY-260306-01",
                            "cost_usd": 0.4})
    registry.save(chain)
    listed = check(client.get("/api/chains"), "/api/chains")
    assert listed["chains"][0]["branch"] == f"baton/{CHAIN_ID}"
    assert f"baton/{CHAIN_ID}" in client.get("/chains").text
    assert f"baton/{CHAIN_ID}" in client.get(f"/chains/{CHAIN_ID}").text
    figures = check(client.get("/api/insights"), "/api/insights")
    assert figures["routing"]["rows"] == [{"type": "escalation", "failure_class": "test_fail", "decisions": 1,
                                           "resolved": 1, "resolution_rate": 1.0, "cost_usd": 0.4,
                                           "cost_per_resolved_usd": 0.4}]
    page = client.get("/insights").text
    section = page[page.index("Routing decisions"):]
    assert "escalation" in section and "test_fail" in section and "100%" in section


# ------------------------------------------------------------------ the kill switch, refused


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"x-baton-token": ""}, 401),
    ({"cookie": f"token={TOKEN}; x-baton-token={TOKEN}"}, 401),
    ({"authorization": "Basic " + base64.b64encode(f"u:{TOKEN}".encode()).decode()}, 401),
    ({"x-baton-token": "wrong"}, 403),
    ({"authorization": "Bearer wrong"}, 403),
    ({"x-baton-token": TOKEN + "x"}, 403),
])
def test_stop_without_the_right_token_leaves_the_chain_untouched(client: TestClient, repo: Path, registry: Registry,
                                                                 headers: dict[str, str], status: int) -> None:
    registry.save(record(repo, sessions=sessions_of(("CY-260306-01", "running", 0.0))))
    before = registry.path.read_bytes()
    response = client.post(f"/api/chains/{CHAIN_ID}/stop", headers=headers)
    check(response, "/api/chains/{chain_id}/stop", status, "post")
    assert registry.path.read_bytes() == before
    assert not chain_registry.stop_file(registry, CHAIN_ID).exists()


def test_stop_of_unknown_bad_foreign_or_finished_chains(client: TestClient, repo: Path, registry: Registry,
                                                         tmp_path: Path) -> None:
    registry.save(record(tmp_path / "elsewhere", "20260306-101500-ffff"))
    registry.save(record(repo, "20260301-090000-0001", status="done"))
    before = registry.path.read_bytes()
    auth = {"x-baton-token": TOKEN}
    path = "/api/chains/{chain_id}/stop"
    check(client.post("/api/chains/not-an-id/stop", headers=auth), path, 400, "post")
    check(client.post("/api/chains/20990101-000000-abcd/stop", headers=auth), path, 404, "post")
    check(client.post("/api/chains/20260306-101500-ffff/stop", headers=auth), path, 404, "post")
    check(client.post("/api/chains/20260301-090000-0001/stop", headers=auth), path, 409, "post")
    assert registry.path.read_bytes() == before
    assert client.get(f"/api/chains/{CHAIN_ID}/stop").status_code == 405


def test_stop_of_a_chain_whose_runner_is_gone_marks_it_stopped(client: TestClient, repo: Path,
                                                               registry: Registry) -> None:
    registry.save(record(repo, sessions=sessions_of(("CY-260306-01", "ok", 0.5), ("CY-260306-02", "running", 0.0))))
    response = client.post(f"/api/chains/{CHAIN_ID}/stop", headers={"authorization": f"Bearer {TOKEN}"})
    body = check(response, "/api/chains/{chain_id}/stop", 200, "post")
    assert body["status"] == "stopped"
    stored = registry.get(CHAIN_ID)
    assert stored is not None and stored.status == "stopped"
    assert [s.status for s in stored.sessions] == ["ok", "stopped"]


# ------------------------------------------------------------------ the kill switch on a real runner


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    return make_harness(repo, tmp_path)


def test_stop_with_the_token_stops_a_running_chain_like_chains_py_stop(h: Harness, client: TestClient) -> None:
    started = h.tmp / "started"
    h.scenario(
        {"steps": [{"init": {}}, {"text": "First."}, note("incomplete"), result(total_cost_usd=0.2, num_turns=2)]},
        {"steps": [{"init": {}}, {"text": "LONG-WORK in progress"}, {"touch": str(started)}, {"sleep": 60}]},
    )
    runner = h.start("run", "--mission", "Build the feature.", "--operator", "rt")
    try:
        h.wait_for(started)
        chain_id = h.chain()["id"]
        running = check(client.get(f"/api/chains/{chain_id}"), "/api/chains/{chain_id}")
        assert running["status"] == "running" and running["runner_alive"] is True
        response = client.post(f"/api/chains/{chain_id}/stop", headers={"x-baton-token": TOKEN})
        body = check(response, "/api/chains/{chain_id}/stop", 200, "post")
        assert body["status"] == "stopped"
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 0, err
    chain = h.chain(chain_id)
    assert chain["status"] == "stopped" and chain["end_reason"] == "stop requested"
    assert [s["status"] for s in chain["sessions"]] == ["ok", "stopped"]
    assert "LONG-WORK" in h.note_text(chain["sessions"][1]["id"])  # the synthetic handoff, as chains.py stop leaves
    again = client.post(f"/api/chains/{chain_id}/stop", headers={"x-baton-token": TOKEN})
    assert again.status_code == 409


# ------------------------------------------------------------------ events from registry writes


def test_registry_writes_become_chain_events(repo: Path, registry: Registry) -> None:
    watcher = Watcher(Console([repo]))
    watcher.look()
    chain = record(repo)
    registry.save(chain)
    assert [k for k, _ in watcher.look()] == ["chain_started", "chain_updated"]
    chain.sessions = sessions_of(("CY-260306-01", "running", 0.0))
    registry.save(chain)
    assert [k for k, _ in watcher.look()] == ["session_started", "chain_updated"]
    chain.sessions = sessions_of(("CY-260306-01", "ok", 0.3), ("CY-260306-02", "running", 0.0))
    registry.save(chain)
    changes = watcher.look()
    assert [k for k, _ in changes] == ["session_ended", "handoff_written", "session_started", "chain_updated"]
    assert changes[-1][1]["chain_summary"]["cost_usd"] == 0.3
    chain.sessions = sessions_of(("CY-260306-01", "ok", 0.3), ("CY-260306-02", "failed", 0.1))
    chain.breaker = Breaker(state="open", consecutive_failures=3, opened_at="2026-03-06T11:00:00+00:00")
    chain.status = "circuit_open"
    registry.save(chain)
    assert [k for k, _ in watcher.look()] == ["session_ended", "handoff_written", "breaker_opened", "chain_updated",
                                              "chain_finished"]
    other = record(repo, "20260306-120000-0002")
    registry.save(other)
    other.status = "stopped"
    registry.save(other)
    assert [k for k, _ in watcher.look()] == ["chain_started", "chain_updated", "chain_stopped"]
    # The handoff the store then shows is not announced twice.
    write_session(repo, "CY-260306-01", operator="cy", date="2026-03-06", chain_id=CHAIN_ID)
    assert watcher.look() == []
