"""Writing page bodies: whole arrival within the limits, minimal updates, recovery from failed appends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakenotion import FakeNotion, iter_tree
from lib.notion.blocks import markdown_to_blocks
from lib.notion.client import NotionClient, RetryPolicy
from lib.notion.limiter import TokenBucket
from lib.notion.pages import BodyWriter

FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=5.0)


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion(rate=None) as server:
        yield server


@pytest.fixture
def client(fake: FakeNotion) -> Iterator[NotionClient]:
    with NotionClient(fake.token, base_url=fake.base_url, policy=FAST, limiter=TokenBucket(1000, 1000)) as c:
        yield c


@pytest.fixture
def page(fake: FakeNotion, client: NotionClient) -> str:
    _, (ds,) = fake.add_database("D")
    created = client.create_page({"parent": {"data_source_id": ds},
                                  "properties": {"Name": {"title": [{"text": {"content": "P"}}]}}})
    return str(created["id"])


def shape(nodes: list[dict[str, Any]]) -> list[Any]:
    return [(n["type"], n.get("text"), n.get("cells"), shape(n["children"])) for n in nodes]


def expected_shape(md: str, fake: FakeNotion, client: NotionClient) -> list[Any]:
    """What a fresh page holds after writing `md`: the reference for updates."""
    _, (ds,) = fake.add_database("Ref")
    ref = client.create_page({"parent": {"data_source_id": ds}, "properties": {}})
    BodyWriter(client).write_body(ref["id"], markdown_to_blocks(md), known_prefix=0)
    return shape(fake.tree(ref["id"]))


def test_a_250_block_document_arrives_whole_in_batches(fake: FakeNotion, client: NotionClient, page: str) -> None:
    md = "\n\n".join(f"Paragraph number {i}" for i in range(250))
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(md), known_prefix=0)
    assert [n["text"] for n in fake.tree(page)] == [f"Paragraph number {i}" for i in range(250)]
    assert writer.stats.append_requests == 3


def test_a_5000_character_code_block_arrives_whole(fake: FakeNotion, client: NotionClient, page: str) -> None:
    code = ("abcdefghij" * 500)[:5000]
    BodyWriter(client).write_body(page, markdown_to_blocks(f"```sql\n{code}\n```\n"), known_prefix=0)
    (node,) = fake.tree(page)
    assert (node["type"], node["language"], node["text"]) == ("code", "sql", code)


def test_nesting_deeper_than_one_request_allows_arrives_in_follow_ups(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    md = "- level 1\n  - level 2\n    - level 3\n      - level 4\n        - level 5\n- [ ] task\n  1. sub\n"
    BodyWriter(client).write_body(page, markdown_to_blocks(md), known_prefix=0)
    tree = fake.tree(page)
    node, depth = tree[0], 1
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert (depth, node["text"]) == (5, "level 5")
    assert tree[1]["type"] == "to_do" and tree[1]["children"][0]["type"] == "numbered_list_item"


def test_a_table_with_more_rows_than_one_request_arrives_whole(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    md = "| n | sq |\n|---|---|\n" + "".join(f"| {i} | {i * i} |\n" for i in range(150))
    BodyWriter(client).write_body(page, markdown_to_blocks(md), known_prefix=0)
    (table,) = fake.tree(page)
    assert [row["cells"] for row in table["children"]] == [["n", "sq"]] + [[str(i), str(i * i)] for i in range(150)]


def test_an_update_that_appends_at_the_end_deletes_nothing(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "# Log\n\n- one\n  - detail\n\nText.\n"
    after = before + "\nA new closing paragraph.\n"
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(after))
    assert (writer.stats.deleted, writer.stats.append_requests) == (0, 1)
    assert shape(fake.tree(page)) == expected_shape(after, fake, client)


def test_an_edit_in_the_middle_replaces_only_from_the_edit_on(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "\n\n".join(f"p{i}" for i in range(10))
    after = before.replace("p6", "p6 edited")
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(after))
    assert writer.stats.deleted == 4
    assert [n["text"] for n in fake.tree(page)] == after.split("\n\n")


def test_an_edit_inside_a_nested_list_keeps_the_top_level_item(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "- a\n  - b\n  - c\n- d\n"
    after = "- a\n  - b\n  - c changed\n- d\n"
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    top_ids = [n["id"] for n in fake.tree(page)]
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(after))
    assert writer.stats.deleted == 1
    assert [n["id"] for n in fake.tree(page)] == top_ids
    assert shape(fake.tree(page)) == expected_shape(after, fake, client)


def test_an_append_that_timed_out_after_landing_is_not_sent_twice(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    md = "\n\n".join(f"para {i}" for i in range(230))
    fake.inject("PATCH", "/children$", delay=1.5, skip=1)  # the second batch lands, its answer is lost
    impatient = NotionClient(fake.token, base_url=fake.base_url, limiter=TokenBucket(1000, 1000),
                             policy=RetryPolicy(max_attempts=4, backoff_base_s=0.01, timeout_s=0.5))
    with impatient:
        writer = BodyWriter(impatient)
        writer.write_body(page, markdown_to_blocks(md), known_prefix=0)
    assert [n["text"] for n in fake.tree(page)] == [f"para {i}" for i in range(230)]
    assert writer.stats.restarts == 1 and writer.stats.listed == 1


@pytest.mark.parametrize(("status", "apply"), [(500, False), (500, True), (529, True), (503, False)])
def test_a_failed_append_is_followed_by_a_listing_and_completes_exactly_once(
        fake: FakeNotion, client: NotionClient, page: str, status: int, apply: bool) -> None:
    md = "# T\n\n" + "\n".join(f"- item {i}\n  - sub {i}\n    - deep {i}" for i in range(5))
    fake.inject("PATCH", "/children$", status=status, apply=apply, skip=2, retry_after="0.01")
    BodyWriter(client).write_body(page, markdown_to_blocks(md), known_prefix=0)
    assert shape(fake.tree(page)) == expected_shape(md, fake, client)
    texts = [n.get("text") for n in iter_tree(fake.tree(page))]
    assert len(texts) == len(set(texts))
    # after the failure the page was listed before anything was appended again
    routes = [r.route for r in fake.requests]
    failed_at = next(i for i, r in enumerate(fake.requests) if r.status == status)
    assert routes[failed_at + 1] == "list"
