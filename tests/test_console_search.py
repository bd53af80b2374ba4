"""The console's search page: a search box on every page, server-rendered hits with marked snippets, no JavaScript."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_factory import session, workstream_text, write

warnings.filterwarnings("ignore", message=".*httpx.*")

from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from lib.console.data import Console, Settings  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402


def client_for(roots: list[Path]) -> TestClient:
    console = Console(roots, Settings(poll_interval_s=0.05))
    security = Security(token="test-token-0123456789", allowed_hosts=allowed_hosts_for("127.0.0.1", 8765),
                        remote=False)
    return TestClient(create_app(console, security), base_url="http://127.0.0.1:8765")


@pytest.fixture
def client(repo: Path) -> Iterator[TestClient]:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Datum <conversion>",
            summary="Heights relative to chart datum.", decisions="- Chart datum is opt-in.")
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Alerts fallback", summary="E-mail when SMS fails.")
    write(repo, "workstreams/tide-api.md", workstream_text("tide-api", "rt", title="Tide API",
                                                           whats_next="Finish the datum work."))
    with client_for([repo]) as c:
        yield c


def test_every_page_has_a_search_box_that_is_a_plain_get_form(client: TestClient) -> None:
    for path in ("/", "/sessions", "/workstreams"):
        html = client.get(path).text
        assert re.search(r'<form class="search-box" method="get" action="/search" role="search">', html)
        assert 'name="q"' in html


def test_results_are_ranked_with_marked_and_escaped_snippets(client: TestClient) -> None:
    response = client.get("/search", params={"q": "datum"})
    assert response.status_code == 200
    html = response.text
    assert "2 notes match" in html
    first, second = html.index("RT-261120-01"), html.index("tide-api · workstream")
    assert first < second  # the session says datum in its title
    assert "<mark>datum</mark>" in html.lower()
    assert "Datum &lt;conversion&gt;" in html and "<conversion>" not in html
    assert 'href="/sessions/RT-261120-01"' in html


def test_kind_filter_and_an_empty_query(client: TestClient) -> None:
    html = client.get("/search", params={"q": "datum", "kind": "workstream"}).text
    assert "1 note matches" in html and "RT-261120-01" not in html
    assert client.get("/search").status_code == 200


def test_a_bad_query_is_a_400_with_the_reason(client: TestClient) -> None:
    response = client.get("/search", params={"q": '"unclosed'})
    assert response.status_code == 400 and "not a valid search query" in response.text
    assert client.get("/search", params={"q": "x", "kind": "poem"}).status_code == 400
