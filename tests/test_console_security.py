"""The console against hostile input and hostile pages: headers on every response, capped notes, short error
text, and no fetches on behalf of another site."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_store import build, write_session

warnings.filterwarnings("ignore", message=".*httpx.*")

from console_server import serve  # noqa: E402
from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from lib.console.data import Console, Settings, cut_body  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

TOKEN = "test-token-0123456789"
CAP = 32 * 1024
BIG_ID = "AN-260309-01"


def new_store(root: Path) -> Path:
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


def big_body(size: int) -> str:
    block = "## Step\n\nRan it again; **this** time it held. See `x.py` and [docs](https://example.com/a).\n\n- a\n- b\n\n"
    return block * (size // len(block) + 1)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = new_store(tmp_path_factory.mktemp("console-sec") / "repo")
    build(root)
    write_session(root, BIG_ID, operator="ann", date="2026-03-09", body=big_body(40 * CAP))
    return root


def make_client(root: Path, *, remote: bool = False) -> TestClient:
    console = Console([root], Settings(poll_interval_s=0.05, max_body_bytes=CAP))
    security = Security(token=TOKEN, allowed_hosts=allowed_hosts_for("127.0.0.1", 8765), remote=remote)
    return TestClient(create_app(console, security), base_url="http://127.0.0.1:8765")


@pytest.fixture(scope="module")
def client(repo: Path) -> Iterator[TestClient]:
    with make_client(repo) as c:
        yield c


def assert_hardened(response: Any) -> None:  # httpx.Response, from TestClient or httpx
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.request.url
    assert headers["cache-control"] == "no-store", response.request.url
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src" in csp, response.request.url


# ------------------------------------------------------------------ headers on every response


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200),
    ("GET", "/sessions/AN-260301-01", 200),
    ("GET", "/sessions/NO-000000-00", 404),
    ("GET", "/api/health", 200),
    ("GET", "/api/sessions/AN-260301-01", 200),
    ("GET", "/api/sessions/NO-000000-00", 404),
    ("GET", "/api/sessions?limit=many", 400),
    ("GET", "/openapi.json", 200),
    ("GET", "/static/console.css", 200),
    ("GET", "/static/no-such-file.css", 404),
    ("GET", "/no/such/page", 404),
    ("POST", "/api/health", 405),
    ("POST", "/api/chains/20260306-101500-abcd/stop", 401),
    ("GET", f"/sessions/{BIG_ID}/raw", 200),
])
def test_every_response_carries_the_security_headers(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert_hardened(response)


def test_refusals_before_the_app_carry_the_headers_too(client: TestClient, repo: Path) -> None:
    foreign = client.get("/api/health", headers={"host": "evil.example:8765"})
    assert foreign.status_code == 400
    assert_hardened(foreign)
    with make_client(repo, remote=True) as remote:
        for response, status in ((remote.get("/api/health"), 401),
                                 (remote.get("/api/health", headers={"x-baton-token": "nope"}), 403)):
            assert response.status_code == status
            assert_hardened(response)


def test_the_event_stream_over_a_real_server_carries_the_headers(repo: Path) -> None:
    with serve([repo]) as running, httpx.Client(timeout=10) as http, \
            http.stream("GET", f"{running.url}/api/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert_hardened(response)


# ------------------------------------------------------------------ large notes


def test_a_large_note_is_shown_cut_with_a_link_to_the_whole_note(client: TestClient, repo: Path) -> None:
    whole = (repo / "docs" / "sessions" / f"{BIG_ID}.md").read_bytes()
    assert len(whole) > 30 * CAP
    page = client.get(f"/sessions/{BIG_ID}")
    assert page.status_code == 200
    assert "only its beginning is shown here" in page.text
    raw_url = f"/sessions/{BIG_ID}/raw?project={repo.name}"
    assert f'href="{raw_url}"' in page.text
    assert len(page.content) < 8 * CAP  # the rendered part, not the whole note
    detail = client.get(f"/api/sessions/{BIG_ID}").json()
    assert detail["body_truncated"] is True and detail["raw_url"] == raw_url
    assert len(detail["body_markdown"].encode()) <= CAP
    assert detail["body_bytes"] > 30 * CAP
    assert detail["body_markdown"].endswith("\n")  # cut at a line break, not mid-word
    raw = client.get(raw_url)
    assert raw.status_code == 200 and raw.content == whole
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert "sandbox" in raw.headers["content-security-policy"]


def test_a_small_note_is_whole_and_not_marked(client: TestClient) -> None:
    detail = client.get("/api/sessions/AN-260301-01").json()
    assert detail["body_truncated"] is False
    assert detail["body_bytes"] == len(detail["body_markdown"].encode())
    assert "only its beginning" not in client.get("/sessions/AN-260301-01").text


def test_a_cut_never_splits_a_character() -> None:
    body = "é" * 1000 + "🙂" * 1000
    for limit in range(1, 40):
        shown, cut = cut_body(body, limit)
        assert cut and len(shown.encode("utf-8")) <= limit
        assert body.startswith(shown)
    assert cut_body("short", 10) == ("short", False)


def test_the_raw_view_does_not_follow_a_symlinked_note(tmp_path: Path) -> None:
    root = new_store(tmp_path / "repo")
    secret = tmp_path / "secret.md"
    secret.write_text("---\nkind: session\nexternal_id: SE-260101-01\ntitle: t\noperator: ann\n---\nSECRET\n")
    (root / "docs" / "sessions" / "SE-260101-01.md").symlink_to(secret)
    with make_client(root) as c:
        raw = c.get("/sessions/SE-260101-01/raw")
        assert "SECRET" not in raw.text
        assert raw.status_code == 404


# ------------------------------------------------------------------ error text


LONG = "A" * 5000


@pytest.mark.parametrize("path", [
    f"/api/sessions?since={LONG}",
    f"/api/sessions?limit={'9' * 4000}",
    f"/api/sessions?operator={LONG}",
    f"/api/sessions?{LONG}=1",
    f"/api/sessions?status={LONG}",
    f"/api/sessions/{LONG}",
    f"/api/sessions?project={LONG}",
    f"/api/chains/{LONG}",
    f"/api/telemetry?include_ended={LONG}",
    f"/{LONG}",
    f"/sessions/{LONG}",
])
def test_error_text_quotes_at_most_a_hundred_characters_of_the_input(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500
    text = response.text
    assert LONG[:101] not in text and "9" * 101 not in text
    assert ("A" * 99 in text) or ("9" * 99 in text)  # it does quote the start of what was wrong
    if response.headers["content-type"].startswith("application/json"):
        assert len(response.json()["error"]) < 250


def test_a_long_host_header_is_quoted_short(client: TestClient) -> None:
    response = client.get("/api/health", headers={"host": "h" * 3000})
    assert response.status_code == 400
    assert "h" * 101 not in response.json()["error"]


# ------------------------------------------------------------------ other sites


CLICKED_LINK = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document",
                "sec-fetch-user": "?1"}


@pytest.mark.parametrize(("headers", "path"), [
    ({"sec-fetch-site": "cross-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}, "/api/sessions/AN-260301-01"),
    ({"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script"}, "/api/sessions"),
    ({"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}, "/sessions/AN-260301-01"),
    ({"sec-fetch-site": "same-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}, "/api/sessions/AN-260301-01"),
    ({"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "iframe",
      "sec-fetch-user": "?1"}, "/sessions/AN-260301-01"),
    ({"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"},
     "/sessions/AN-260301-01"),  # a script's redirect, no click
    (CLICKED_LINK, f"/sessions/{BIG_ID}/raw"),
    (CLICKED_LINK, "/api/sessions/AN-260301-01"),
    ({"origin": "http://evil.example"}, "/api/sessions/AN-260301-01"),
    ({"origin": "null"}, "/api/sessions/AN-260301-01"),
    ({"origin": "http://127.0.0.1:9999"}, "/api/sessions/AN-260301-01"),
])
def test_another_site_cannot_make_a_browser_fetch_a_note(client: TestClient, headers: dict[str, str],
                                                         path: str) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 403
    assert "another site" in response.json()["error"]
    assert "Summary" not in response.text
    assert_hardened(response)


@pytest.mark.parametrize("headers", [
    {},  # curl, scripts
    {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"},
    {"sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"},
    {"origin": "http://127.0.0.1:8765"},
])
def test_the_console_itself_and_other_clients_are_served(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/sessions/AN-260301-01", headers=headers).status_code == 200


def test_a_link_the_user_clicks_on_another_site_opens_the_page(client: TestClient) -> None:
    response = client.get("/sessions/AN-260301-01", headers=CLICKED_LINK)
    assert response.status_code == 200 and "Summary" in response.text


def test_the_kill_switch_refuses_another_sites_request_even_with_the_token(client: TestClient) -> None:
    response = client.post("/api/chains/20260306-101500-abcd/stop",
                           headers={"x-baton-token": TOKEN, "origin": "http://evil.example"})
    assert response.status_code == 403


def test_basic_credentials_do_not_let_another_site_in(repo: Path) -> None:
    basic = base64.b64encode(f"u:{TOKEN}".encode()).decode()
    with make_client(repo, remote=True) as remote:
        response = remote.get("/api/sessions", headers={"authorization": f"Basic {basic}",
                                                        "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors",
                                                        "sec-fetch-dest": "script"})
        assert response.status_code == 403
        ok = remote.get("/api/sessions", headers={"authorization": f"Basic {basic}", "sec-fetch-site": "same-origin"})
        assert ok.status_code == 200
