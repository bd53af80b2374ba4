"""Markdown -> Notion blocks (lib/notion/blocks.py), through markdown-it's syntax tree.

What maps (docs/notion-sync.md): headings (h4-h6 become heading_3), paragraphs with
bold / italic / strikethrough / inline code / links, bulleted, numbered and to-do
lists nested to any depth, fenced and indented code with its language, quotes,
dividers and tables. Anything else (raw HTML, an unknown construct) becomes a
plain paragraph holding its source text: nothing is dropped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from lib.notion.blocks import (
    MAX_RICH_TEXT,
    MAX_URL,
    Block,
    Span,
    code_blocks,
    notion_language,
    paragraph,
    rich_text,
    text_blocks,
    text_object,
    utf16_len,
)

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def _safe_url(url: str) -> bool:
    return url.lower().startswith(_SAFE_SCHEMES) and utf16_len(url) <= MAX_URL and not any(
        c.isspace() for c in url)


def _inline_spans(tokens: Sequence[Any]) -> list[Span]:
    spans: list[Span] = []
    bold = italic = strike = 0
    links: list[tuple[str | None, str, int]] = []  # (usable url, raw target, index of first span)

    def link() -> str | None:
        return links[-1][0] if links else None

    def add(text: str, code: bool = False) -> None:
        spans.append(Span(text, bold > 0, italic > 0, strike > 0, code, link()))

    for tok in tokens:
        t = tok.type
        if t == "text":
            add(tok.content)
        elif t == "code_inline":
            add(tok.content, code=True)
        elif t == "softbreak":
            add(" ")
        elif t == "hardbreak":
            add("\n")
        elif t == "strong_open":
            bold += 1
        elif t == "strong_close":
            bold -= 1
        elif t == "em_open":
            italic += 1
        elif t == "em_close":
            italic -= 1
        elif t == "s_open":
            strike += 1
        elif t == "s_close":
            strike -= 1
        elif t == "link_open":
            target = str(tok.attrs.get("href", ""))
            links.append((target if _safe_url(target) else None, target, len(spans)))
        elif t == "link_close":
            if links:
                url, target, first = links.pop()
                shown = "".join(s.text for s in spans[first:])
                # A target Notion cannot link (a relative path in the repo) is kept as text.
                if url is None and target and target != shown:
                    add(f" ({target})")
        elif t == "image":
            src = str(tok.attrs.get("src", ""))
            alt = tok.content or src
            if _safe_url(src):
                spans.append(Span(alt or src, bold > 0, italic > 0, strike > 0, False, src))
            else:
                add(f"{alt} ({src})" if src and src != alt else alt)
        elif t == "html_inline":
            add(tok.content)
        else:
            add(tok.content)
    return spans


class _Converter:
    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()

    def source_of(self, node: Any) -> str:
        if node.map:
            start, end = node.map
            return "\n".join(self.lines[start:end]).strip("\n")
        return str(getattr(node, "content", "") or "")

    def inline_objects(self, node: Any) -> list[dict[str, Any]]:
        inline = node.children[0] if node.children else None
        if inline is None or inline.type != "inline":
            return []
        return rich_text(_inline_spans(inline.token.children or [] if inline.token else []))

    def convert(self, nodes: Iterable[Any]) -> list[Block]:
        out: list[Block] = []
        for node in nodes:
            out.extend(self.block(node))
        return out

    def block(self, node: Any) -> list[Block]:
        t = node.type
        if t == "heading":
            level = min(int(node.tag[1]), 3)
            return text_blocks(f"heading_{level}", self.inline_objects(node))
        if t == "paragraph":
            return text_blocks("paragraph", self.inline_objects(node))
        if t in ("bullet_list", "ordered_list"):
            kind = "bulleted_list_item" if t == "bullet_list" else "numbered_list_item"
            items: list[Block] = []
            for item in node.children:
                items.extend(self.list_item(item, kind))
            return items
        if t in ("fence", "code_block"):
            code = node.content[:-1] if node.content.endswith("\n") else node.content
            language = notion_language(node.info or "") if t == "fence" else "plain text"
            return code_blocks(code, language)
        if t == "blockquote":
            return self.quote(node)
        if t == "hr":
            return [Block("divider", {})]
        if t == "table":
            return self.table(node)
        # html_block and anything the converter has no mapping for: keep the source as text.
        text = self.source_of(node)
        return paragraph(text) if text else []

    def list_item(self, item: Any, kind: str) -> list[Block]:
        children = list(item.children)
        objects: list[dict[str, Any]] = []
        if children and children[0].type == "paragraph":
            objects = self.inline_objects(children[0])
            children = children[1:]
        extra: dict[str, Any] = {}
        block_type = kind
        if kind == "bulleted_list_item" or kind == "numbered_list_item":
            checked = _task_marker(objects)
            if checked is not None:
                block_type = "to_do"
                extra = {"checked": checked}
        return text_blocks(block_type, objects, extra, self.convert(children))

    def quote(self, node: Any) -> list[Block]:
        children = list(node.children)
        objects: list[dict[str, Any]] = []
        while children and children[0].type == "paragraph":
            if objects:
                objects.append(text_object("\n", Span("\n")))
            objects.extend(self.inline_objects(children[0]))
            children = children[1:]
        return text_blocks("quote", objects, None, self.convert(children))

    def table(self, node: Any) -> list[Block]:
        rows: list[list[list[dict[str, Any]]]] = []
        for section in node.children:  # thead, tbody
            for tr in section.children:
                cells = [rich_text(_inline_spans(cell.children[0].token.children or []))
                         if cell.children else [] for cell in tr.children]
                rows.append(cells)
        if not rows:
            return paragraph(self.source_of(node))
        width = max(len(r) for r in rows)
        row_blocks: list[Block] = []
        for cells in rows:
            cells = cells + [[] for _ in range(width - len(cells))]
            if any(len(c) > MAX_RICH_TEXT for c in cells):
                # A cell too long for one rich_text array: keep the table's text as a paragraph.
                return paragraph(self.source_of(node))
            row_blocks.append(Block("table_row", {"cells": cells}))
        return [Block("table", {"table_width": width, "has_column_header": True, "has_row_header": False},
                      row_blocks)]


def _task_marker(objects: list[dict[str, Any]]) -> bool | None:
    """`[ ] ` / `[x] ` at the start of a list item: strip it and return its state."""
    if not objects or objects[0].get("annotations", {}).get("code"):
        return None
    content = objects[0]["text"]["content"]
    match = re.match(r"^\[( |x|X)\](?:\s+|$)", content)
    if not match:
        return None
    rest = content[match.end():]
    if rest:
        objects[0]["text"]["content"] = rest
    else:
        del objects[0]
    return match.group(1) != " "


def markdown_to_blocks(text: str) -> list[Block]:
    """The blocks for a markdown body (no frontmatter)."""
    from markdown_it.tree import SyntaxTreeNode

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tree = SyntaxTreeNode(_parser().parse(text))
    return _Converter(text).convert(tree.children)
