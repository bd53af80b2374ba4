"""The console's JSON API: every endpoint and filter, errors, the Host check, remote mode, the OpenAPI document."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from console_store import SCRIPT_NOTE, build, write_session

warnings.filterwarnings("ignore", message=".*httpx.*")

from console_openapi import DOC, check, wait_until  # noqa: E402
from lib.console.app import Guard, Security, allowed_hosts_for, create_app  # noqa: E402
from lib.console.data import Console, Settings  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

BASE = "http://127.0.0.1:8765"
TOKEN = "test-token-0123456789"


def make_client(roots: list[Path], *, remote: bool = False, host: str = "127.0.0.1") -> TestClient:
    console = Console(roots, Settings(poll_interval_s=0.05))
    security = Security(token=TOKEN, allowed_hosts=allowed_hosts_for(host, 8765), remote=remote)
    return TestClient(create_app(console, security), base_url=f"http://{host}:8765")


def new_store(root: Path) -> Path:
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One store for the tests that only read it (building it is the slow part)."""
    root = new_store(tmp_path_factory.mktemp("console") / "repo")
    return root, build(root)


@pytest.fixture
def repo(shared: tuple[Path, dict[str, Any]]) -> Path:
    return shared[0]


@pytest.fixture
def store(shared: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return shared[1]


@pytest.fixture(scope="module")
def module_client(shared: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    with make_client([shared[0]]) as c:
        yield c


@pytest.fixture
def client(module_client: TestClient) -> TestClient:
    return module_client


# ------------------------------------------------------------------ endpoints


def test_health_lists_the_served_projects(client: TestClient, repo: Path) -> None:
    body = check(client.get("/api/health"), "/api/health")
    assert body["status"] == "ok"
    assert body["projects"] == [{"name": repo.name, "root": str(repo.resolve())}]


def test_sessions_newest_first_without_claim_stubs(client: TestClient, store: dict[str, Any]) -> None:
    body = check(client.get("/api/sessions"), "/api/sessions")
    ids = [s["id"] for s in body["sessions"]]
    assert ids[:5] == store["written"]
    assert store["stub"] not in ids
    assert ids[-2:] == [store["broken"], store["legacy"]]
    assert body["total"] == 7 and body["next_offset"] is None
    broken = next(s for s in body["sessions"] if s["id"] == store["broken"])
    assert broken["error"] and "line" in broken["error"]


@pytest.mark.parametrize(("query", "expected"), [
    ("operator=bob", ["BO-260305-01", "BO-260302-01"]),
    ("workstream=billing", ["CY-260306-01", "BO-260302-01"]),
    ("since=2026-03-02&until=2026-03-05", ["BO-260305-01", "BO-260302-01"]),
    ("since=2026-03-06", ["CY-260306-01"]),
    ("until=2025-12-31", ["CONV-old-notes"]),
    ("outcome=blocked", ["BO-260302-01"]),
    ("outcome=incomplete", ["AN-260301-02"]),
    ("status=claimed", ["CY-260307-01"]),
    ("status=written&operator=ann", ["AN-260301-02", "AN-260301-01"]),
    ("chain=20260306-101500-abcd", ["CY-260306-01"]),
    ("operator=nobody", []),
])
def test_session_filters(client: TestClient, query: str, expected: list[str]) -> None:
    body = check(client.get(f"/api/sessions?{query}"), "/api/sessions")
    assert [s["id"] for s in body["sessions"]] == expected
    assert body["total"] == len(expected)


def test_sessions_are_paginated(client: TestClient) -> None:
    first = check(client.get("/api/sessions?limit=3"), "/api/sessions")
    assert len(first["sessions"]) == 3 and first["next_offset"] == 3
    second = check(client.get("/api/sessions?limit=3&offset=3"), "/api/sessions")
    third = check(client.get("/api/sessions?limit=3&offset=6"), "/api/sessions")
    assert third["next_offset"] is None and len(third["sessions"]) == 1
    everything = check(client.get("/api/sessions?limit=500"), "/api/sessions")["sessions"]
    assert [s["id"] for s in first["sessions"] + second["sessions"] + third["sessions"]] == \
        [s["id"] for s in everything]


def test_a_session_has_frontmatter_and_a_rendered_body(client: TestClient) -> None:
    body = check(client.get("/api/sessions/AN-260301-01"), "/api/sessions/{session_id}")
    assert body["frontmatter"]["failure_summary"]["total"] == 3
    assert body["frontmatter"]["date"] == "2026-03-01"
    assert body["body_markdown"].startswith("## Summary")
    assert "<h2>Summary</h2>" in body["body_html"]


def test_raw_html_in_a_note_is_rendered_inert(client: TestClient) -> None:
    body = check(client.get("/api/sessions/BO-260305-01"), "/api/sessions/{session_id}")
    assert SCRIPT_NOTE in body["body_markdown"]
    assert "<script" not in body["body_html"] and "&lt;script&gt;" in body["body_html"]
    assert "<img" not in body["body_html"]
    assert 'href="javascript:' not in body["body_html"]
    page = client.get("/sessions/BO-260305-01")
    assert page.status_code == 200
    assert "<script>window.__pwned" not in page.text and "&lt;script&gt;window.__pwned" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_claim_stub_can_be_opened_by_id(client: TestClient, store: dict[str, Any]) -> None:
    body = check(client.get(f"/api/sessions/{store['stub']}"), "/api/sessions/{session_id}")
    assert body["status"] == "claimed"


def test_workstreams_grouped_by_owner_with_last_activity(client: TestClient) -> None:
    body = check(client.get("/api/workstreams"), "/api/workstreams")
    rows = {w["id"]: w for w in body["workstreams"]}
    assert rows["auth"]["last_session"] == "AN-260301-02" and rows["auth"]["sessions"] == 2
    assert rows["billing"]["last_activity"] == "2026-03-06" and rows["billing"]["priority"] == "high"
    assert rows["orphan"]["last_session"] is None
    assert body["owners"] == {"ann": ["old-stuff", "auth"], "bob": ["billing"], "nobody-yet": ["orphan"]}
    active = check(client.get("/api/workstreams?status=active&owner=ann"), "/api/workstreams")
    assert [w["id"] for w in active["workstreams"]] == ["auth"]


def test_operators_from_the_roster_and_the_sessions(client: TestClient) -> None:
    body = check(client.get("/api/operators"), "/api/operators")
    rows = {o["slug"]: o for o in body["operators"]}
    assert rows["ann"]["sessions"] == 3 and rows["bob"]["sessions"] == 2 and rows["cy"]["sessions"] == 1
    assert rows["bob"]["cost_usd"] == pytest.approx(1.1)
    assert rows["cy"]["last_session"] == "CY-260306-01"
    assert (rows["ann"]["name"], rows["ann"]["initials"], rows["ann"]["in_roster"]) == ("Ann Example", "AN", True)
    # In the roster without a session yet; writing sessions without being in the roster.
    assert rows["dee"]["sessions"] == 0 and rows["dee"]["in_roster"]
    assert rows["cy"]["in_roster"] is False
    assert "emails" not in rows["ann"]


def test_insights_figures(client: TestClient) -> None:
    body = check(client.get("/api/insights"), "/api/insights")
    assert body["totals"]["sessions"] == 7
    assert body["totals"]["failed_sessions"] == 1
    assert body["totals"]["cost_lost_usd"] == pytest.approx(1.0)
    classes = {c["failure_class"]: c["failures"] for c in body["by_class"]}
    assert classes == {"compile_error": 4, "test_fail": 2, "lint_error": 1}
    assert {r["key"]: r["failed_sessions"] for r in body["by_operator"]}["bob"] == 1
    assert body["retries"]["total"] == 2 and body["retries"]["succeeded"] == 1
    assert body["top_contexts"] == [{"context": "FAILED tests/test_a.py::test_x", "count": 1}]
    narrowed = check(client.get("/api/insights?since=2026-03-02&operator=bob"), "/api/insights")
    assert narrowed["totals"]["sessions"] == 2 and narrowed["filters"]["operator"] == "bob"


def test_telemetry_shows_sessions_in_progress(client: TestClient) -> None:
    body = check(client.get("/api/telemetry"), "/api/telemetry")
    assert [s["session_id"] for s in body["sessions"]] == ["11111111-aaaa-bbbb-cccc-000000000001"]
    live = body["sessions"][0]
    assert live["in_progress"] and live["tool_calls_count"] == 7 and live["failures_breakdown"] == {"test_fail": 1}
    every = check(client.get("/api/telemetry?include_ended=true"), "/api/telemetry")
    assert len(every["sessions"]) == 3


def test_chains_list_is_empty_without_chains(client: TestClient) -> None:
    body = check(client.get("/api/chains"), "/api/chains")
    assert body["chains"] == []


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("url", [
    "/api/sessions?since=the%20day%20before",
    "/api/sessions?until=2026-13-01",
    "/api/sessions?since=2026-03-05&until=2026-03-01",
    "/api/sessions?limit=0",
    "/api/sessions?limit=501",
    "/api/sessions?limit=ten",
    "/api/sessions?offset=-1",
    "/api/sessions?status=maybe",
    "/api/sessions?outcome=won",
    "/api/sessions?operator=Not%20A%20Slug",
    "/api/sessions?colour=red",
    "/api/workstreams?status=sleeping",
    "/api/chains?status=zombie",
    "/api/insights?since=soon",
    "/api/telemetry?include_ended=perhaps",
    "/api/chains/not-a-chain-id",
    "/api/health?x=1",
])
def test_bad_parameters_are_400_with_a_message(client: TestClient, url: str) -> None:
    path = url.split("?")[0]
    template = "/api/chains/{chain_id}" if path.startswith("/api/chains/") else path
    body = check(client.get(url), template, 400)
    assert body["error"] and body["status"] == 400


@pytest.mark.parametrize(("url", "template"), [
    ("/api/sessions/XX-990101-01", "/api/sessions/{session_id}"),
    ("/api/chains/20990101-000000-abcd", "/api/chains/{chain_id}"),
    ("/api/sessions?project=elsewhere", "/api/sessions"),
])
def test_unknown_ids_are_404(client: TestClient, url: str, template: str) -> None:
    body = check(client.get(url), template, 404)
    assert body["error"]


def test_unknown_pages_are_404(client: TestClient) -> None:
    assert client.get("/no/such/page").status_code == 404
    page = client.get("/sessions/XX-990101-01")
    assert page.status_code == 404 and "no session XX-990101-01" in page.text


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1:9999", "localhost.evil.example:8765", ""])
def test_a_foreign_host_header_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/health", headers={"host": host})
    assert response.status_code == 400
    assert "not this console's address" in response.json()["error"]
    assert client.get("/", headers={"host": host}).status_code == 400


def test_localhost_names_the_loopback_console_too(client: TestClient) -> None:
    assert client.get("/api/health", headers={"host": "localhost:8765"}).status_code == 200


def test_remote_mode_needs_the_token_for_every_request(repo: Path, store: dict[str, Any]) -> None:
    with make_client([repo], remote=True, host="192.0.2.10") as c:
        missing = c.get("/api/sessions")
        assert missing.status_code == 401 and "Basic" in missing.headers["www-authenticate"]
        assert c.get("/", headers={"x-baton-token": "nope"}).status_code == 403
        assert c.get("/api/sessions", headers={"x-baton-token": TOKEN}).status_code == 200
        assert c.get("/api/sessions", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
        assert c.get("/", headers={"authorization": f"Basic {basic}"}).status_code == 200
        assert c.get("/api/health", headers={"host": "evil.example:8765", "x-baton-token": TOKEN}).status_code == 400


def test_wildcard_bind_accepts_any_host_but_needs_the_token(repo: Path, store: dict[str, Any]) -> None:
    console = Console([repo])
    app = create_app(console, Security(token=TOKEN, allowed_hosts=allowed_hosts_for("0.0.0.0", 8765), remote=True))
    with TestClient(app, base_url="http://somebox.lan:8765") as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"x-baton-token": TOKEN}).status_code == 200


# ------------------------------------------------------------------ several projects


def test_several_projects_are_served_together(tmp_path: Path, repo: Path, store: dict[str, Any]) -> None:
    other = new_store(tmp_path / "other")
    write_session(other, "DZ-260310-01", operator="dee", date="2026-03-10")
    with make_client([repo, other]) as c:
        names = [p["name"] for p in c.get("/api/health").json()["projects"]]
        assert names == [repo.name, "other"]
        merged = c.get("/api/sessions").json()
        assert merged["sessions"][0] == {**merged["sessions"][0], "id": "DZ-260310-01", "project": "other"}
        assert merged["total"] == 8
        only = c.get("/api/sessions?project=other").json()
        assert [s["id"] for s in only["sessions"]] == ["DZ-260310-01"]
        assert c.get("/api/sessions/DZ-260310-01").json()["project"] == "other"
        assert c.get(f"/api/sessions/DZ-260310-01?project={repo.name}").status_code == 404
        page = c.get("/?project=other")
        assert page.status_code == 200 and "DZ-260310-01" in page.text and "AN-260301-01" not in page.text


# ------------------------------------------------------------------ freshness


def test_a_new_an_edited_and_a_deleted_note_show_up(tmp_path: Path) -> None:
    root = new_store(tmp_path / "fresh")
    write_session(root, "AN-260301-01", date="2026-03-01")
    with make_client([root]) as client:
        assert client.get("/api/sessions").json()["total"] == 1
        write_session(root, "DE-260401-01", operator="dee", date="2026-04-01")
        wait_until(lambda: client.get("/api/sessions?limit=1").json()["sessions"][0]["id"] == "DE-260401-01")
        path = root / "docs" / "sessions" / "DE-260401-01.md"
        text = path.read_text(encoding="utf-8").replace("outcome: done", "outcome: blocked")
        path.write_text(text, encoding="utf-8")  # in place: the folder's mtime does not move
        console: Console = client.app.console  # type: ignore[attr-defined]
        console.projects[0].view.full_scan_s = 0  # the watcher's periodic refresh, due at once
        wait_until(lambda: client.get("/api/sessions/DE-260401-01").json()["outcome"] == "blocked")
        path.unlink()
        wait_until(lambda: client.get("/api/sessions/DE-260401-01").status_code == 404)


# ------------------------------------------------------------------ the OpenAPI document


def test_every_api_route_is_in_the_openapi_document(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    assert served == DOC
    app: Guard = client.app  # type: ignore[assignment]
    routes = {getattr(r, "path", "") for r in app.app.routes}  # type: ignore[attr-defined]
    api_routes = {r for r in routes if r.startswith("/api/")}
    assert api_routes == set(DOC["paths"])
    jsonschema.Draft202012Validator.check_schema({"components": DOC["components"]})


# ------------------------------------------------------------------ pages


@pytest.mark.parametrize("url", ["/", "/chains", "/sessions", "/sessions?operator=bob&since=2026-03-01",
                                 "/sessions/AN-260301-01", "/workstreams", "/insights",
                                 "/insights?since=2026-03-01", "/static/console.css", "/static/console.js"])
def test_pages_render(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text


def test_dashboard_shows_latest_sessions_failures_and_live_sessions(client: TestClient) -> None:
    text = client.get("/").text
    assert "CY-260306-01" in text
    assert "11111111-aaaa" in text
    assert "No chain is running." in text


def test_insights_page_draws_svg_charts(client: TestClient) -> None:
    text = client.get("/insights").text
    assert text.count("<svg class=\"chart\"") == 3
    assert "Cost per day" in text and "compile_error" in text


def test_a_bad_filter_value_is_a_message_beside_its_field_and_the_form_is_kept(client: TestClient) -> None:
    response = client.get("/sessions?since=nope&workstream=ws-a")
    assert response.status_code == 200
    text = response.text
    assert 'id="err-since"' in text and "not a date" in text
    assert 'value="nope"' in text and 'value="ws-a"' in text
