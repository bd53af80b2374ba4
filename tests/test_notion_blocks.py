"""Markdown -> Notion blocks: what maps to what, splitting long text, and the request plan."""

from __future__ import annotations

import json
from typing import Any

from lib.notion import blocks as nb
from lib.notion.blocks import Block
from lib.notion.markdown import markdown_to_blocks


def texts(block: Block) -> str:
    return "".join(o["text"]["content"] for o in block.data.get("rich_text", []))


def test_headings_paragraphs_and_inline_styles_map_to_notion_blocks() -> None:
    out = markdown_to_blocks("# One\n\n## Two\n\n#### Four\n\nSome **bold**, *italic*, `code`, ~~gone~~ and "
                             "[a link](https://example.com/x).\n")
    assert [b.type for b in out] == ["heading_1", "heading_2", "heading_3", "paragraph"]
    rich = out[3].data["rich_text"]
    styled = {o["text"]["content"]: (o.get("annotations", {}), o["text"].get("link")) for o in rich}
    assert styled["bold"] == ({"bold": True}, None)
    assert styled["italic"] == ({"italic": True}, None)
    assert styled["code"] == ({"code": True}, None)
    assert styled["gone"] == ({"strikethrough": True}, None)
    assert styled["a link"] == ({}, {"url": "https://example.com/x"})


def test_a_relative_link_keeps_its_text_and_target_as_plain_text() -> None:
    (para,) = markdown_to_blocks("See [the plan](../plans/x.md).")
    assert texts(para) == "See the plan (../plans/x.md)."
    assert all("link" not in o["text"] for o in para.data["rich_text"])


def test_lists_nest_to_any_depth_and_task_items_become_to_dos() -> None:
    out = markdown_to_blocks("- a\n  - b\n    - c\n      - d\n- [ ] open\n- [x] done\n\n1. first\n2. second\n")
    assert [b.type for b in out] == ["bulleted_list_item", "to_do", "to_do", "numbered_list_item",
                                     "numbered_list_item"]
    depth, node = 1, out[0]
    while node.children:
        depth, node = depth + 1, node.children[0]
    assert depth == 4 and texts(node) == "d"
    assert out[1].data["checked"] is False and texts(out[1]) == "open"
    assert out[2].data["checked"] is True and texts(out[2]) == "done"


def test_code_keeps_its_language_mapped_to_notion_names() -> None:
    out = markdown_to_blocks("```py\nprint(1)\n```\n\n```weird-lang\nx\n```\n\n```\nplain\n```\n\n    indented\n")
    assert [(b.type, b.data["language"]) for b in out] == [
        ("code", "python"), ("code", "plain text"), ("code", "plain text"), ("code", "plain text")]
    assert texts(out[0]) == "print(1)"


def test_quotes_dividers_and_tables() -> None:
    out = markdown_to_blocks("> first\n>\n> second\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n")
    assert [b.type for b in out] == ["quote", "divider", "table"]
    assert texts(out[0]) == "first\nsecond"
    table = out[2]
    assert table.data == {"table_width": 2, "has_column_header": True, "has_row_header": False}
    cells = [["".join(o["text"]["content"] for o in c) for c in row.data["cells"]] for row in table.children]
    assert cells == [["a", "b"], ["1", "2"], ["3", ""]]


def test_content_without_a_mapping_becomes_a_plain_paragraph() -> None:
    out = markdown_to_blocks("<details>\n<summary>More</summary>\nhidden text\n</details>\n")
    assert [b.type for b in out] == ["paragraph"]
    assert "hidden text" in texts(out[0]) and "<details>" in texts(out[0])


def test_text_over_2000_characters_is_split_never_truncated() -> None:
    code = "".join(f"line {i:05d}\n" for i in range(500))[:-1]  # 5,499 characters
    (block,) = markdown_to_blocks(f"```python\n{code}\n```\n")
    pieces = [o["text"]["content"] for o in block.data["rich_text"]]
    assert all(nb.utf16_len(p) <= 2000 for p in pieces)
    assert "".join(pieces) == code


def test_splitting_counts_utf16_units_and_never_cuts_a_surrogate_pair() -> None:
    text = "😀" * 1500  # 3,000 UTF-16 units
    pieces = nb.split_text(text)
    assert [nb.utf16_len(p) for p in pieces] == [2000, 1000]
    assert "".join(pieces) == text


def test_text_needing_more_than_100_rich_text_objects_continues_in_more_blocks() -> None:
    body = "x" * (2000 * 150)
    out = markdown_to_blocks(body)
    assert all(len(b.data["rich_text"]) <= 100 for b in out)
    assert "".join(texts(b) for b in out) == body


def test_a_long_list_item_keeps_its_overflow_inside_the_item() -> None:
    out = markdown_to_blocks("- " + "y" * (2000 * 120) + "\n")
    assert len(out) == 1 and out[0].type == "bulleted_list_item"
    assert texts(out[0]) + "".join(texts(c) for c in out[0].children) == "y" * (2000 * 120)


def payload_depth(children: list[dict[str, Any]]) -> int:
    deepest = 0
    for child in children:
        nested = child[child["type"]].get("children") or []
        deepest = max(deepest, 1 + payload_depth(nested) if nested else 1)
    return deepest


def test_the_append_plan_stays_within_every_per_request_limit() -> None:
    md = "\n".join(f"- item {i}\n  - sub {i}\n    - deeper {i}" for i in range(120)) + "\n\n"
    md += "\n".join(f"Paragraph {i}\n" for i in range(250))
    batches = nb.plan_append(markdown_to_blocks(md))
    for batch in batches:
        payload = [item.payload for item in batch]
        assert len(payload) <= 100
        assert payload_depth(payload) <= 2
        assert sum(item.elements for item in batch) <= 1000
        assert len(json.dumps({"children": payload}).encode()) <= 500 * 1024
    # the deep lists are sent bare and their children follow
    assert any(item.deferred for batch in batches for item in batch)
    assert sum(len(b) for b in batches) == 120 + 250


def test_a_wide_list_item_sends_100_children_inline_and_the_rest_after() -> None:
    item = Block("bulleted_list_item", {"rich_text": nb.plain("parent")},
                 [Block("paragraph", {"rich_text": nb.plain(str(i))}) for i in range(130)])
    planned = nb.append_item(item)
    assert len(planned.payload["bulleted_list_item"]["children"]) == 100
    assert len(planned.deferred) == 30


def test_only_blocks_needing_no_follow_up_ride_in_the_create_request() -> None:
    out = markdown_to_blocks("para\n\n- a\n  - b\n    - c\n\nafter\n")
    assert nb.create_prefix(out) == 1
    flat = markdown_to_blocks("\n\n".join(f"p{i}" for i in range(150)))
    assert nb.create_prefix(flat) == 100


def test_fingerprints_match_between_request_and_response_shapes() -> None:
    (block,) = markdown_to_blocks("Hello **big** [w](https://x.y)")
    response: dict[str, Any] = {"type": "paragraph", "paragraph": {"rich_text": [
        {"type": "text", "text": {"content": "Hello ", "link": None},
         "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                         "code": False, "color": "default"}, "plain_text": "Hello ", "href": None},
        {"type": "text", "text": {"content": "big", "link": None},
         "annotations": {"bold": True, "italic": False, "strikethrough": False, "underline": False,
                         "code": False, "color": "default"}, "plain_text": "big", "href": None},
        {"type": "text", "text": {"content": " ", "link": None},
         "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                         "code": False, "color": "default"}, "plain_text": " ", "href": None},
        {"type": "text", "text": {"content": "w", "link": {"url": "https://x.y"}},
         "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                         "code": False, "color": "default"}, "plain_text": "w", "href": "https://x.y"},
    ], "color": "default"}}
    assert nb.api_fingerprint(response) == nb.block_fingerprint(block)
    response["paragraph"]["rich_text"][1]["annotations"]["bold"] = False
    assert nb.api_fingerprint(response) != nb.block_fingerprint(block)
    assert nb.api_fingerprint({"type": "child_page", "child_page": {"title": "x"}}) is None
