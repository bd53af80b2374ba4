"""Across projects: the team view per project per week, /metrics in the Prometheus text format, the
attention band, and chain sessions that carry the registry's cost and failure into every list."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_openapi import check
from console_store import build, write_session
from lib.chains.registry import Breaker, ChainRecord, Registry, SessionRecord
from lib.console import summaries
from lib.console.data import Console, Settings

warnings.filterwarnings("ignore", message=".*httpx.*")

from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

# One sample line of the text exposition format: name{labels} value
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


def _store(root: Path) -> Path:
    for folder in ("docs/sessions", "workstreams", "plans", ".claude/state"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    first = _store(tmp_path / "alpha")
    build(first)
    second = _store(tmp_path / "beta")
    write_session(second, "ZO-260303-01", operator="zoe", date="2026-03-03", cost_usd=0.3, outcome="blocked",
                  failures_breakdown={"timeout": 2}, tool_failures_count=2)
    write_session(second, "ZO-260310-01", operator="zoe", date="2026-03-10", chain_id="20260310-090000-beef")
    Registry().save(ChainRecord(
        id="20260310-090000-beef", project_dir=str(second), mission="Tidy up.", status="circuit_open",
        operator="zoe", end_reason="3 failed sessions in a row",
        breaker=Breaker(state="open", consecutive_failures=3, opened_at="2026-03-10T09:30:00+00:00"),
        sessions=[SessionRecord(id="ZO-260310-01", index=1, status="failed", cost_usd=0.45)]))
    return first, second


@pytest.fixture
def client(two: tuple[Path, Path]) -> Iterator[TestClient]:
    console = Console(list(two), Settings(poll_interval_s=0.05))
    app = create_app(console, Security(token="t", allowed_hosts=allowed_hosts_for("127.0.0.1", 8765)))
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


def test_team_view_has_cost_sessions_and_failures_per_project_per_week(two: tuple[Path, Path]) -> None:
    console = Console(list(two))
    team = summaries.team(console, today=dt.date(2026, 3, 12), weeks=2)
    assert team["since"] == "2026-03-02"
    rows = {(r["project"], r["week"]): r for r in team["rows"]}
    assert rows[("alpha", "2026-03-02")] == {"project": "alpha", "week": "2026-03-02", "sessions": 3,
                                             "cost_usd": 3.1, "failed_sessions": 1, "failures": 4}
    # The chain session's note has no cost: the registry's counts, and its failure with it.
    assert rows[("beta", "2026-03-09")]["cost_usd"] == 0.45 and rows[("beta", "2026-03-09")]["failed_sessions"] == 1
    assert rows[("beta", "2026-03-02")]["failed_sessions"] == 1
    assert [p["project"] for p in team["projects"]] == ["alpha", "beta"]
    only = summaries.team(console, "beta", today=dt.date(2026, 3, 12), weeks=2)
    assert {r["project"] for r in only["rows"]} == {"beta"}


def test_the_team_page_and_api_and_every_page_narrowed_to_one_project(client: TestClient) -> None:
    body = check(client.get("/api/team?weeks=52"), "/api/team")
    assert {p["project"] for p in body["projects"]} == {"alpha", "beta"}
    page = client.get("/team?weeks=104").text
    assert "alpha" in page and "beta" in page and "$0.45" in page and "$3.10" in page
    for path in ("/", "/chains", "/sessions", "/workstreams", "/insights", "/team"):
        narrowed = client.get(f"{path}?project=beta")
        assert narrowed.status_code == 200, path
        assert '<option value="beta" selected>' in narrowed.text, path
    sessions = client.get("/sessions?project=beta").text
    assert "ZO-260310-01" in sessions and "AN-260301-01" not in sessions


def test_chain_sessions_have_the_registrys_cost_and_a_failed_badge_in_lists(client: TestClient) -> None:
    rows = check(client.get("/api/sessions?project=beta"), "/api/sessions")["sessions"]
    chained = next(r for r in rows if r["id"] == "ZO-260310-01")
    assert chained["cost_usd"] == 0.45 and chained["failed"] is True and chained["chain_status"] == "failed"
    failed = check(client.get("/api/sessions?failed=true"), "/api/sessions")["sessions"]
    assert {r["id"] for r in failed} == {"ZO-260310-01", "ZO-260303-01", "BO-260302-01"}
    page = client.get("/sessions?project=beta").text
    assert "$0.45" in page and '<span class="badge st-failed">failed</span>' in page


def test_the_attention_band_links_each_item_to_its_list(client: TestClient) -> None:
    band = check(client.get("/api/attention"), "/api/attention")
    blocked = band["blocked"][0]
    assert blocked["id"] == "20260310-090000-beef" and blocked["cause"] == "3 failed sessions in a row"
    assert blocked["resume_command"] == "python scripts/chains.py run --resume 20260310-090000-beef"
    page = client.get("/").text
    section = page[page.index('id="attention"'):page.index('id="tiles"')]
    assert "20260310-090000-beef" in section and "run --resume 20260310-090000-beef" in section
    tiles = page[page.index('id="tiles"'):page.index('<div class="grid">')]
    assert tiles.count("<a class=\"tile\" href=") == 5
    assert "/sessions?failed=1" in tiles


def test_metrics_are_prometheus_text_per_project(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    families = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert families == ["baton_chains", "baton_chain_cost_usd", "baton_sessions_total",
                        "baton_session_cost_usd_total", "baton_failed_sessions_total", "baton_tool_failures_total",
                        "baton_sessions_in_progress"]
    samples = [line for line in lines if not line.startswith("#")]
    assert samples and all(SAMPLE.match(line) for line in samples), [s for s in samples if not SAMPLE.match(s)]
    assert 'baton_chains{project="beta",status="circuit_open"} 1' in samples
    assert 'baton_chains{project="alpha",status="running"} 0' in samples
    assert 'baton_sessions_total{project="beta"} 2' in samples
    assert 'baton_tool_failures_total{project="alpha",class="compile_error"} 4' in samples
    assert client.get("/metrics?x=1").status_code == 400


def test_filters_by_name_or_initials_on_pages_keep_the_form(client: TestClient) -> None:
    for typed in ("Ann", "AN", " ann ", "Ann Example"):
        page = client.get("/sessions", params={"operator": typed})
        assert page.status_code == 200
        assert "AN-260301-01" in page.text and "BO-260302-01" not in page.text, typed
    unknown = client.get("/sessions", params={"operator": "Someone Else", "workstream": "auth"})
    assert unknown.status_code == 200 and 'id="err-operator"' in unknown.text
    assert 'value="Someone Else"' in unknown.text and 'value="auth"' in unknown.text
    assert '<option value="ann">Ann Example (AN)</option>' in unknown.text
    insights = client.get("/insights", params={"operator": "bob", "since": "soonish"})
    assert insights.status_code == 200 and 'id="err-since"' in insights.text
