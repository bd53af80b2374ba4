"""The fake Notion server itself: real shapes, enforced headers and limits, pagination, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.fakenotion import FakeNotion

RECORDED = Path(__file__).parent / "fixtures" / "notion-recorded"


def recorded(name: str, method: str, uri_part: str) -> dict[str, Any]:
    data = yaml.safe_load((RECORDED / name).read_text())
    for item in data["interactions"]:
        if item["request"]["method"] == method and uri_part in item["request"]["uri"]:
            body: dict[str, Any] = json.loads(item["response"]["body"]["string"])
            return body
    raise AssertionError(f"no {method} {uri_part} in {name}")


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion(rate=None) as server:
        yield server


@pytest.fixture
def http(fake: FakeNotion) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake.token}", "Notion-Version": "2025-09-03"}
    with httpx.Client(base_url=fake.base_url, headers=headers, timeout=5) as client:
        yield client


def new_page(http: httpx.Client, ds: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    resp = http.post("/v1/pages", json={
        "parent": {"type": "data_source_id", "data_source_id": ds},
        "properties": {"Name": {"title": [{"text": {"content": "Test Page"}}]}},
        "children": children or []})
    assert resp.status_code == 200, resp.text
    page: dict[str, Any] = resp.json()
    return page


def para(text: str, **extra: Any) -> dict[str, Any]:
    return {"paragraph": {"rich_text": [{"text": {"content": text}}], **extra}}


def test_answers_have_the_keys_of_the_recorded_real_responses(fake: FakeNotion, http: httpx.Client) -> None:
    db, (ds,) = fake.add_database("Test Database")
    page = new_page(http, ds)
    assert set(page) == set(recorded("test_pages_create.yaml", "POST", "/v1/pages"))
    real_title = recorded("test_pages_create.yaml", "POST", "/v1/pages")["properties"]["title"]["title"][0]
    assert set(page["properties"]["Name"]["title"][0]) == set(real_title)
    assert set(page["properties"]["Name"]["title"][0]["annotations"]) == set(real_title["annotations"])

    appended = http.patch(f"/v1/blocks/{page['id']}/children",
                          json={"children": [para(f"paragraph {i}") for i in range(5)]}).json()
    real_append = recorded("test_iterate_paginated_api.yaml", "PATCH", "/children")
    assert set(appended) == set(real_append)
    assert set(appended["results"][0]) == set(real_append["results"][0])
    assert set(appended["results"][0]["paragraph"]) == set(real_append["results"][0]["paragraph"])

    listed = http.get(f"/v1/blocks/{page['id']}/children", params={"page_size": 2}).json()
    real_list = recorded("test_iterate_paginated_api.yaml", "GET", "children?page_size=2")
    assert set(listed) == set(real_list)
    # like the real API, the cursor is the id of the next block
    assert listed["next_cursor"] == appended["results"][2]["id"] and listed["has_more"] is True

    deleted = http.delete(f"/v1/blocks/{appended['results'][0]['id']}").json()
    assert set(deleted) == set(recorded("test_iterate_paginated_api.yaml", "DELETE", "/v1/blocks/393abc1e-edcd-81b4"))
    assert deleted["in_trash"] is True and deleted["archived"] is True

    database = http.get(f"/v1/databases/{db}").json()
    assert set(database) == set(recorded("test_databases_retrieve.yaml", "GET", "/v1/databases/"))
    assert database["data_sources"] == [{"id": ds, "name": "Test Database"}]
    source = http.get(f"/v1/data_sources/{ds}").json()
    assert set(source) == set(recorded("test_data_sources_retrieve.yaml", "GET", "/v1/data_sources/"))
    query = http.post(f"/v1/data_sources/{ds}/query", json={}).json()
    assert set(query) == set(recorded("test_data_sources_query.yaml", "POST", "/query"))

    missing = http.get("/v1/pages/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert set(missing.json()) == set(recorded("test_build_request_error_integration.yaml", "GET", "/v1/pages/"))
    bad_url = http.get("/v1/invalid")
    assert (bad_url.status_code, bad_url.json()["code"]) == (400, "invalid_request_url")


def test_headers_are_enforced(fake: FakeNotion) -> None:
    with httpx.Client(base_url=fake.base_url, timeout=5) as raw:
        no_auth = raw.get("/v1/users", headers={"Notion-Version": "2025-09-03"})
        assert (no_auth.status_code, no_auth.json()["code"]) == (401, "unauthorized")
        wrong = raw.get("/v1/databases/x", headers={"Authorization": "Bearer nope", "Notion-Version": "2025-09-03"})
        assert wrong.status_code == 401
        no_version = raw.get("/v1/databases/x", headers={"Authorization": f"Bearer {fake.token}"})
        assert (no_version.status_code, no_version.json()["code"]) == (400, "missing_version")


@pytest.mark.parametrize(("children", "fragment"), [
    ([para(str(i)) for i in range(101)], "body.children.length should be ≤ `100`, instead was `101`"),
    ([para("x" * 2001)], "body.children[0].paragraph.rich_text[0].text.content.length should be ≤ `2000`"),
    ([{"code": {"rich_text": [{"text": {"content": "x"}}], "language": "py"}}], "code.language"),
    ([{"bulleted_list_item": {"rich_text": [], "children": [
        {"bulleted_list_item": {"rich_text": [], "children": [para("too deep")]}}]}}],
     "body.children[0].bulleted_list_item.children[0].bulleted_list_item.children should be not present"),
    ([{"paragraph": {"rich_text": [{"text": {"content": "x", "link": {"url": "../relative.md"}}}]}}],
     "Invalid URL for link"),
    ([{"table": {"table_width": 2, "children": [{"table_row": {"cells": [[]]}}]}}], "table width of 2"),
])
def test_documented_limits_are_answered_with_validation_errors(
        fake: FakeNotion, http: httpx.Client, children: list[dict[str, Any]], fragment: str) -> None:
    _, (ds,) = fake.add_database("D")
    page = new_page(http, ds)
    resp = http.patch(f"/v1/blocks/{page['id']}/children", json={"children": children})
    assert resp.status_code == 400
    assert resp.json()["code"] == "validation_error"
    assert fragment in resp.json()["message"]
    assert fake.tree(page["id"]) == []


def test_more_than_1000_elements_or_500_kb_in_one_request_is_refused(fake: FakeNotion, http: httpx.Client) -> None:
    _, (ds,) = fake.add_database("D")
    page = new_page(http, ds)
    wide = [{"bulleted_list_item": {"rich_text": [], "children": [para("c")] * 20}}] * 50
    assert http.patch(f"/v1/blocks/{page['id']}/children", json={"children": wide}).status_code == 400
    big = [{"paragraph": {"rich_text": [{"text": {"content": "é" * 2000}}] * 100}}] * 2
    resp = http.patch(f"/v1/blocks/{page['id']}/children", json={"children": big})
    assert resp.status_code == 400 and "too large" in resp.json()["message"]


def test_the_pinned_version_never_accepts_archived_or_after(fake: FakeNotion, http: httpx.Client) -> None:
    _, (ds,) = fake.add_database("D")
    page = new_page(http, ds, [para("a")])
    resp = http.patch(f"/v1/blocks/{page['id']}/children", json={"children": [para("b")], "after": "x"})
    assert resp.status_code == 400
    assert http.patch(f"/v1/pages/{page['id']}", json={"archived": True}).status_code == 400


def test_queries_filter_on_a_text_property_and_skip_trashed_pages(fake: FakeNotion, http: httpx.Client) -> None:
    _, (ds,) = fake.add_database("D", {"Name": "title", "external_id": "rich_text"})
    first = fake.add_page(ds, {"Name": "one", "external_id": "RT-1"})
    fake.add_page(ds, {"Name": "two", "external_id": "RT-2"})
    body = {"filter": {"property": "external_id", "rich_text": {"equals": "RT-1"}}, "page_size": 1}
    found = http.post(f"/v1/data_sources/{ds}/query", json=body).json()
    assert [p["id"] for p in found["results"]] == [first]
    by_title = {"filter": {"property": "Name", "title": {"equals": "two"}}}
    assert len(http.post(f"/v1/data_sources/{ds}/query", json=by_title).json()["results"]) == 1
    http.patch(f"/v1/pages/{first}", json={"in_trash": True})
    assert http.post(f"/v1/data_sources/{ds}/query", json=body).json()["results"] == []


def test_a_database_id_is_not_a_data_source_id(fake: FakeNotion, http: httpx.Client) -> None:
    db, _ = fake.add_database("D")
    assert http.post(f"/v1/data_sources/{db}/query", json={}).status_code == 404
    resp = http.post("/v1/pages", json={"parent": {"database_id": db}, "properties": {}})
    assert resp.status_code == 400


def test_short_pages_still_carry_has_more_until_the_end(http: httpx.Client, fake: FakeNotion) -> None:
    fake.page_cap = 3
    _, (ds,) = fake.add_database("D")
    page = new_page(http, ds, [para(str(i)) for i in range(10)])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"page_size": 100}
        if cursor:
            params["start_cursor"] = cursor
        data = http.get(f"/v1/blocks/{page['id']}/children", params=params).json()
        assert len(data["results"]) <= 3
        seen += [b["paragraph"]["rich_text"][0]["plain_text"] for b in data["results"]]
        if not data["has_more"]:
            break
        cursor = data["next_cursor"]
    assert seen == [str(i) for i in range(10)]


def test_the_server_rate_limit_answers_429_with_an_integer_retry_after() -> None:
    with FakeNotion(rate=3, burst=3) as fake:
        headers = {"Authorization": f"Bearer {fake.token}", "Notion-Version": "2025-09-03"}
        with httpx.Client(base_url=fake.base_url, headers=headers, timeout=5) as http:
            statuses = [http.get("/v1/databases/00000000000000000000000000000000") for _ in range(6)]
    limited = [r for r in statuses if r.status_code == 429]
    assert [r.status_code for r in statuses[:3]] == [404, 404, 404]
    assert limited and all(r.headers["Retry-After"].isdigit() for r in limited)
    assert limited[0].json()["code"] == "rate_limited"


def test_an_injected_500_after_the_effect_still_creates_the_page(fake: FakeNotion, http: httpx.Client) -> None:
    _, (ds,) = fake.add_database("D")
    fake.inject("POST", r"^/v1/pages$", status=500, apply=True)
    resp = http.post("/v1/pages", json={"parent": {"data_source_id": ds},
                                        "properties": {"Name": {"title": [{"text": {"content": "x"}}]}}})
    assert resp.status_code == 500
    assert len(fake.live_pages(ds)) == 1
    fake.inject("POST", r"^/v1/pages$", status=529, retry_after="7")
    resp = http.post("/v1/pages", json={"parent": {"data_source_id": ds}, "properties": {}})
    assert (resp.status_code, resp.headers["Retry-After"]) == (529, "7")
    assert len(fake.live_pages(ds)) == 1


def test_a_slow_answer_takes_effect_and_times_out_a_short_client(fake: FakeNotion, http: httpx.Client) -> None:
    _, (ds,) = fake.add_database("D")
    page = new_page(http, ds)
    fake.inject("PATCH", "/children$", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        http.patch(f"/v1/blocks/{page['id']}/children", json={"children": [para("late")]}, timeout=0.1)
    assert [n["text"] for n in fake.tree(page["id"])] == ["late"]


def test_requests_are_counted_with_their_arrival_times(fake: FakeNotion, http: httpx.Client) -> None:
    start = time.monotonic()
    for _ in range(5):
        http.get("/v1/invalid")
    assert len(fake.requests) == 5
    assert all(r.t >= start for r in fake.requests)
    assert fake.max_in_window(1.0) == 5
    assert fake.write_requests() == []
