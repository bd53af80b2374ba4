"""Starting chains from the console (`POST /api/chains`, the real `chains.py run` behind it, the fake `claude`
in front of it) and stopping them with who and when recorded; the token is checked before anything else."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from chains_harness import Harness, make_harness, note, result
from console_openapi import check, wait_until
from lib.console.data import Console, Settings

warnings.filterwarnings("ignore", message=".*httpx.*")

from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

TOKEN = "launch-test-token-0123456789"
AUTH = {"x-baton-token": TOKEN}


@pytest.fixture
def h(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = make_harness(repo, tmp_path)
    # The console starts `chains.py` with its own environment: the fake claude's settings go there.
    for key, value in harness.env.items():
        monkeypatch.setenv(key, value)
    return harness


@pytest.fixture
def client(h: Harness) -> Iterator[TestClient]:
    console = Console([h.root], Settings(poll_interval_s=0.05, stop_timeout_s=15, launch_timeout_s=30))
    app = create_app(console, Security(token=TOKEN, allowed_hosts=allowed_hosts_for("127.0.0.1", 8765)))
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


def _missions(root: Path) -> list[Path]:
    folder = root / ".claude" / "state" / "missions"
    return sorted(folder.glob("*.md")) if folder.is_dir() else []


def test_launch_starts_a_detached_chain_and_stop_records_who_and_when(h: Harness, client: TestClient) -> None:
    started = h.tmp / "started"
    h.scenario(
        {"steps": [{"init": {}}, {"text": "LONG-WORK"}, {"touch": str(started)}, {"sleep": 60}]},
        default={"steps": [{"init": {}}, note("incomplete"), result(total_cost_usd=0.1, num_turns=1)]},
    )
    mission = "--allowedTools=everything is a mission, not an option.\nShip the export."
    response = client.post("/api/chains", headers=AUTH, json={
        "mission": mission, "operator": " Rita ", "max_sessions": 3, "budget_usd": 2.5, "model": "opus"})
    chain = check(response, "/api/chains", 201, "post")
    chain_id = chain["id"]
    try:
        assert response.headers["location"] == f"/api/chains/{chain_id}"
        assert chain["operator"] == "rt"  # a name from the roster, trimmed, any case
        assert chain["mission_full"].strip() == mission
        assert chain["max_sessions"] == 3 and chain["budget_usd"] == 2.5 and chain["model"] == "opus"
        assert [p.read_text(encoding="utf-8").strip() for p in _missions(h.root)] == [mission]
        h.wait_for(started)
        listed = check(client.get("/api/chains?status=running"), "/api/chains")
        assert [c["id"] for c in listed["chains"]] == [chain_id]
        assert chain_id in client.get("/").text  # the attention band lists it

        stop = client.post(f"/api/chains/{chain_id}/stop", headers=AUTH, json={"operator": "JD"})
        stopped = check(stop, "/api/chains/{chain_id}/stop", 200, "post")
    finally:
        h.chains("stop", chain_id, "--timeout", "15") if h.chain(chain_id)["status"] == "running" else None
    assert stopped["status"] == "stopped"
    assert stopped["stopped_by"] == "jd" and stopped["stopped_at"]
    page = client.get(f"/chains/{chain_id}").text
    assert "stopped by" in page and "Jo Doe" in page
    assert 'class="badge st-stopped"' in page


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"authorization": "Basic " + base64.b64encode(f"u:{TOKEN}".encode()).decode()}, 401),
    ({"cookie": f"token={TOKEN}"}, 401),
    ({"x-baton-token": "wrong"}, 403),
])
def test_launch_without_the_right_token_writes_nothing(h: Harness, client: TestClient, headers: dict[str, str],
                                                       status: int) -> None:
    response = client.post("/api/chains", headers=headers, json={"mission": "Build it."})
    check(response, "/api/chains", status, "post")
    assert _missions(h.root) == []
    assert check(client.get("/api/chains"), "/api/chains")["chains"] == []


@pytest.mark.parametrize(("body", "words"), [
    ({}, "mission"),
    ({"mission": "   "}, "mission"),
    ({"mission": "Build it.", "colour": "red"}, "unknown field 'colour'"),
    ({"mission": "Build it.", "budget_usd": -1}, "budget_usd"),
    ({"mission": "Build it.", "max_sessions": 0}, "max_sessions"),
    ({"mission": "Build it.", "model": "opus; rm -rf /"}, "model"),
    ({"mission": "Build it.", "operator": "Nobody Known"}, "nobody called 'Nobody Known'"),
    ({"mission": "Build it.", "project": "elsewhere"}, "no project 'elsewhere'"),
])
def test_launch_refuses_what_it_cannot_use_with_one_line(h: Harness, client: TestClient, body: dict[str, object],
                                                         words: str) -> None:
    response = client.post("/api/chains", headers=AUTH, json=body)
    assert response.status_code in (400, 404), response.text
    assert words in response.json()["error"]
    assert _missions(h.root) == []


def test_a_body_that_is_not_json_or_too_large_is_400(client: TestClient) -> None:
    assert client.post("/api/chains", headers={**AUTH, "content-type": "application/json"},
                       content=b"{not json").status_code == 400
    big = client.post("/api/chains", headers=AUTH, json={"mission": "x" * 600_000})
    assert big.status_code == 400 and "larger than" in big.json()["error"]


def test_the_token_check_answers_before_a_stop_is_confirmed(client: TestClient) -> None:
    assert check(client.post("/api/auth", headers=AUTH), "/api/auth", 200, "post") == {"ok": True}
    check(client.post("/api/auth", headers={"x-baton-token": "nope"}), "/api/auth", 403, "post")
    check(client.post("/api/auth"), "/api/auth", 401, "post")


def test_the_chains_page_has_a_launcher_offering_the_roster(client: TestClient) -> None:
    page = client.get("/chains").text
    assert 'id="launch-form"' in page and '<option value="rt">Rita Tavares</option>' in page
    wait_until(lambda: client.get("/api/health").status_code == 200)
