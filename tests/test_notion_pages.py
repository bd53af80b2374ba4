"""Writing page bodies: whole arrival within the limits, minimal updates, recovery from failed appends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lib.notion import pages
from lib.notion.client import NotionClient, RetryPolicy
from lib.notion.limiter import TokenBucket
from lib.notion.markdown import markdown_to_blocks
from lib.notion.pages import BodyWriter
from support.fakenotion import FakeNotion, iter_tree

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


def update_cost(fake: FakeNotion, client: NotionClient, page: str, before: str, after: str) -> BodyWriter:
    """Write `before`, then update to `after`; check the result equals a fresh write of `after`."""
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(after))
    assert shape(fake.tree(page)) == expected_shape(after, fake, client)
    return writer


def test_a_paragraph_edited_in_the_middle_is_updated_in_place(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "\n\n".join(f"p{i}" for i in range(10))
    writer = update_cost(fake, client, page, before, before.replace("p6", "p6 **edited**"))
    assert (writer.stats.updated, writer.stats.deleted, writer.stats.append_requests) == (1, 0, 0)


def test_a_paragraph_removed_from_the_middle_costs_one_delete_and_keeps_the_rest(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "\n\n".join(f"p{i}" for i in range(10))
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    kept = [n["id"] for n in fake.tree(page) if n["text"] != "p4"]
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(before.replace("p4\n\n", "")))
    assert (writer.stats.updated, writer.stats.deleted, writer.stats.append_requests) == (0, 1, 0)
    assert [n["id"] for n in fake.tree(page)] == kept


def test_an_insertion_in_the_middle_shifts_what_follows(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "\n\n".join(f"p{i}" for i in range(10))
    writer = update_cost(fake, client, page, before, before.replace("p7", "new\n\np7"))
    # three blocks take the text of their predecessor, the last one is appended: no delete
    assert (writer.stats.updated, writer.stats.deleted, writer.stats.append_requests) == (3, 0, 1)


def test_a_block_that_changes_type_replaces_the_blocks_from_there(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "\n\n".join(f"p{i}" for i in range(10))
    writer = update_cost(fake, client, page, before, before.replace("p7", "## p7"))
    assert (writer.stats.deleted, writer.stats.append_requests) == (3, 1)


def test_an_edit_inside_a_nested_list_keeps_the_top_level_item(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "- a\n  - b\n  - c\n- d\n"
    after = "- a\n  - b\n  - c changed\n- d\n"
    BodyWriter(client).write_body(page, markdown_to_blocks(before), known_prefix=0)
    top_ids = [n["id"] for n in fake.tree(page)]
    writer = BodyWriter(client)
    writer.write_body(page, markdown_to_blocks(after))
    assert (writer.stats.updated, writer.stats.deleted) == (1, 0)
    assert [n["id"] for n in fake.tree(page)] == top_ids
    assert shape(fake.tree(page)) == expected_shape(after, fake, client)


def test_a_checked_task_and_a_changed_code_language_are_updated_in_place(
        fake: FakeNotion, client: NotionClient, page: str) -> None:
    before = "- [ ] task\n\n```sh\nls\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    after = "- [x] task\n\n```python\nls\n```\n\n| a | b |\n|---|---|\n| 1 | 3 |\n"
    writer = update_cost(fake, client, page, before, after)
    assert (writer.stats.updated, writer.stats.deleted, writer.stats.append_requests) == (3, 0, 0)


TOKENS = st.sampled_from(["p a", "p b", "p c", "## h", "- x", "- y\n  - z", "- [ ] t", "> q", "---",
                          "```py\nc\n```", "| a |\n|---|\n| r |"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(TOKENS, max_size=8), after=st.lists(TOKENS, max_size=8), exact=st.booleans())
def test_any_update_ends_equal_to_a_fresh_write(
        fake: FakeNotion, client: NotionClient, monkeypatch: pytest.MonkeyPatch,
        before: list[str], after: list[str], exact: bool) -> None:
    # exact: the full alignment; else the position-by-position fallback used for huge pages
    monkeypatch.setattr(pages, "ALIGN_CELLS", 250_000 if exact else 0)
    _, (ds,) = fake.add_database("Prop")
    target = client.create_page({"parent": {"data_source_id": ds}, "properties": {}})["id"]
    old, new = "\n\n".join(before), "\n\n".join(after)
    BodyWriter(client).write_body(target, markdown_to_blocks(old), known_prefix=0)
    BodyWriter(client).write_body(target, markdown_to_blocks(new))
    assert shape(fake.tree(target)) == expected_shape(new, fake, client)


def response_blocks(md: str) -> list[dict[str, Any]]:
    """The blocks of `md` as the API would list them (ids, response shape), without a server."""
    out = []
    for i, block in enumerate(markdown_to_blocks(md)):
        data = {**block.data, "rich_text": [{"type": "text", "text": {"content": o["text"]["content"]},
                                             "annotations": o.get("annotations", {}),
                                             "plain_text": o["text"]["content"]}
                                            for o in block.data.get("rich_text", [])]}
        out.append({"id": f"b{i}", "type": block.type, block.type: data, "has_children": bool(block.children)})
    return out


@pytest.mark.parametrize(("before", "after", "cost"), [
    ("a\n\nb\n\nc", "a\n\nb\n\nc\n\nd", 1),             # append at the end
    ("a\n\nb\n\nc", "a\n\nB\n\nc", 1),                    # edit in place
    ("a\n\nb\n\nc", "a\n\nc", 1),                          # remove from the middle
    ("a\n\nb\n\nc\n\nd", "a\n\nc\n\nd\n\ne", 2),          # remove one, add one at the end
    ("a\n\nb\n\nc\n\nd", "a\n\nx\n\nb\n\nc\n\nd", 4),      # insert mid-page: 3 shifted + 1 append
    ("a\n\nb", "# a\n\nb", 3),                               # a type change at the top: replace both
])
def test_alignment_costs(before: str, after: str, cost: int) -> None:
    edit = pages.align(response_blocks(before), markdown_to_blocks(after))
    assert edit.cost() == cost


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
