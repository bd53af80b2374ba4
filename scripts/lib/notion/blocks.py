"""Markdown -> Notion blocks, and the request plan that keeps every append within the API's limits.

What maps (docs/notion-sync.md): headings (h4-h6 become heading_3), paragraphs with
bold / italic / strikethrough / inline code / links, bulleted, numbered and to-do
lists nested to any depth, fenced and indented code with its language, quotes,
dividers and tables. Anything else (raw HTML, an unknown construct) becomes a
plain paragraph holding its source text: nothing is dropped.

Limits honoured here rather than discovered as 400s:
- a text object holds at most 2,000 characters (counted in UTF-16 units, as the
  API counts), so long text is split across text objects, never truncated;
- a rich_text array holds at most 100 objects, so a longer text continues in a
  following block;
- an append carries at most 100 children, 1,000 block elements, 500 KB, and two
  levels of nesting; deeper or wider content is sent in follow-up requests
  (`plan_append`), addressed to the block ids the previous request returned.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 2000            # UTF-16 units per text.content
MAX_RICH_TEXT = 100        # objects per rich_text array
MAX_CHILDREN = 100         # blocks per children array
MAX_ELEMENTS = 1000        # block elements per request
MAX_REQUEST_BYTES = 450_000  # under the documented 500 KB, leaving room for the envelope
MAX_BLOCK_TEXT_BYTES = 120_000  # keeps one block (and so one request) far under the size limit
MAX_URL = 2000

CODE_LANGUAGES = frozenset({
    "abap", "abc", "agda", "arduino", "ascii art", "assembly", "bash", "basic", "bnf", "c", "c#", "c++",
    "clojure", "coffeescript", "coq", "css", "dart", "dhall", "diff", "docker", "ebnf", "elixir", "elm",
    "erlang", "f#", "flow", "fortran", "gherkin", "glsl", "go", "graphql", "groovy", "haskell", "hcl",
    "html", "idris", "java", "javascript", "json", "julia", "kotlin", "latex", "less", "lisp",
    "livescript", "llvm ir", "lua", "makefile", "markdown", "markup", "matlab", "mathematica",
    "mermaid", "nix", "notion formula", "objective-c", "ocaml", "pascal", "perl", "php", "plain text",
    "powershell", "prolog", "protobuf", "purescript", "python", "r", "racket", "reason", "ruby", "rust",
    "sass", "scala", "scheme", "scss", "shell", "smalltalk", "solidity", "sql", "swift", "toml",
    "typescript", "vb.net", "verilog", "vhdl", "visual basic", "webassembly", "xml", "yaml",
    "java/c/c++/c#",
})

LANGUAGE_ALIASES = {
    "py": "python", "python3": "python", "py3": "python", "pycon": "python", "ipython": "python",
    "sh": "shell", "zsh": "shell", "console": "shell", "shell-session": "shell", "shellsession": "shell",
    "fish": "shell", "ksh": "shell",
    "js": "javascript", "jsx": "javascript", "node": "javascript", "mjs": "javascript", "cjs": "javascript",
    "ts": "typescript", "tsx": "typescript", "yml": "yaml", "md": "markdown", "dockerfile": "docker",
    "rs": "rust", "rb": "ruby", "kt": "kotlin", "kts": "kotlin", "cs": "c#", "csharp": "c#",
    "cpp": "c++", "cxx": "c++", "cc": "c++", "hpp": "c++", "h": "c", "golang": "go", "tf": "hcl",
    "terraform": "hcl", "ps1": "powershell", "pwsh": "powershell", "text": "plain text",
    "txt": "plain text", "plaintext": "plain text", "plain": "plain text", "jsonc": "json",
    "json5": "json", "htm": "html", "svg": "xml", "objc": "objective-c", "ml": "ocaml",
    "hs": "haskell", "ex": "elixir", "exs": "elixir", "erl": "erlang", "proto": "protobuf",
    "tex": "latex", "make": "makefile", "mk": "makefile", "vb": "visual basic", "wasm": "webassembly",
    "sol": "solidity", "patch": "diff", "gql": "graphql", "pl": "perl", "clj": "clojure",
    "fsharp": "f#", "fs": "f#", "jl": "julia", "gradle": "groovy", "tsql": "sql", "postgresql": "sql",
    "postgres": "sql", "mysql": "sql", "sqlite": "sql", "html+jinja": "html", "jinja": "markup",
}

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-16 units, never inside a surrogate pair."""
    if len(text) <= limit // 2 or utf16_len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    if utf16_len(text) == len(text):  # only BMP characters: units == code points
        return [text[i:i + limit] for i in range(0, len(text), limit)]
    start = 0
    units = 0
    for i, ch in enumerate(text):
        width = 2 if ord(ch) > 0xFFFF else 1
        if units + width > limit:
            pieces.append(text[start:i])
            start, units = i, 0
        units += width
    pieces.append(text[start:])
    return pieces


def notion_language(info: str) -> str:
    """The Notion code language for a fence's info string ('plain text' when unknown)."""
    word = info.strip().split()[0].lower() if info.strip() else ""
    word = word.strip("{}.")
    if word in CODE_LANGUAGES:
        return word
    return LANGUAGE_ALIASES.get(word, "plain text")


# ------------------------------------------------------------------ rich text

@dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    strikethrough: bool = False
    code: bool = False
    link: str | None = None

    def style(self) -> tuple[bool, bool, bool, bool, str | None]:
        return (self.bold, self.italic, self.strikethrough, self.code, self.link)


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if out and out[-1].style() == span.style():
            prev = out[-1]
            out[-1] = Span(prev.text + span.text, *prev.style())
        else:
            out.append(span)
    return out


def _text_object(text: str, span: Span) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "text", "text": {"content": text}}
    if span.link:
        obj["text"]["link"] = {"url": span.link}
    ann = {k: True for k, v in (("bold", span.bold), ("italic", span.italic),
                                 ("strikethrough", span.strikethrough), ("code", span.code)) if v}
    if ann:
        obj["annotations"] = ann
    return obj


def rich_text(spans: Iterable[Span]) -> list[dict[str, Any]]:
    """Text objects for spans, each at most 2,000 UTF-16 units (may exceed 100 objects: see chunk_rich_text)."""
    out: list[dict[str, Any]] = []
    for span in _merge(spans):
        for piece in split_text(span.text):
            out.append(_text_object(piece, span))
    return out


def plain(text: str) -> list[dict[str, Any]]:
    return rich_text([Span(text)])


def chunk_rich_text(objects: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a rich_text array into arrays of <= 100 objects and a bounded size; [] stays one empty chunk."""
    if not objects:
        return [[]]
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for obj in objects:
        obj_size = len(obj["text"]["content"].encode("utf-8")) + 64
        if chunks[-1] and (len(chunks[-1]) >= MAX_RICH_TEXT or size + obj_size > MAX_BLOCK_TEXT_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(obj)
        size += obj_size
    return chunks


# ------------------------------------------------------------------ blocks

@dataclass
class Block:
    """A block to create: its type, its type-specific object (without children), its children."""

    type: str
    data: dict[str, Any]
    children: list[Block] = field(default_factory=list)

    def to_api(self, children: Sequence[Block] | None = None) -> dict[str, Any]:
        body = dict(self.data)
        if children:
            body["children"] = [child.to_api() for child in children]
        return {"object": "block", "type": self.type, self.type: body}

    def elements(self) -> int:
        return 1 + sum(child.elements() for child in self.children)


TEXT_TYPES = ("paragraph", "heading_1", "heading_2", "heading_3", "quote",
              "bulleted_list_item", "numbered_list_item", "to_do")


def text_blocks(block_type: str, objects: list[dict[str, Any]], extra: dict[str, Any] | None = None,
                children: list[Block] | None = None) -> list[Block]:
    """One block of `block_type`, continued in paragraphs when its text needs more than one rich_text array.

    For list items and quotes the continuation goes first among the block's own children, so the
    text stays inside the item it belongs to.
    """
    chunks = chunk_rich_text(objects)
    first = Block(block_type, {"rich_text": chunks[0], **(extra or {})}, list(children or []))
    rest = [Block("paragraph", {"rich_text": chunk}) for chunk in chunks[1:]]
    if rest and block_type in ("bulleted_list_item", "numbered_list_item", "to_do", "quote"):
        first.children[:0] = rest
        return [first]
    return [first, *rest]


def code_blocks(code: str, language: str) -> list[Block]:
    chunks = chunk_rich_text(plain(code))
    return [Block("code", {"rich_text": chunk, "language": language}) for chunk in chunks]


def paragraph(text: str) -> list[Block]:
    return text_blocks("paragraph", plain(text))


# ------------------------------------------------------------------ markdown

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
                objects.append(_text_object("\n", Span("\n")))
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


# ------------------------------------------------------------------ comparing

def _runs(objects: Any) -> tuple[tuple[Any, ...], ...]:
    """A rich_text array (request or response shape) as merged (text, style) runs."""
    runs: list[list[Any]] = []
    for obj in objects or []:
        if not isinstance(obj, dict):
            continue
        text_obj = obj.get("text") or {}
        content = text_obj.get("content")
        if content is None:
            content = obj.get("plain_text", "")
        link = text_obj.get("link")
        url = link.get("url") if isinstance(link, dict) else None
        ann = obj.get("annotations") or {}
        style = (bool(ann.get("bold")), bool(ann.get("italic")), bool(ann.get("strikethrough")),
                 bool(ann.get("underline")), bool(ann.get("code")), ann.get("color", "default") or "default",
                 url)
        if runs and runs[-1][1] == style:
            runs[-1][0] += content
        elif content:
            runs.append([content, style])
    return tuple((text, style) for text, style in runs)


def fingerprint(block_type: str, data: dict[str, Any]) -> tuple[Any, ...] | None:
    """What must be equal for an existing block to stand for a wanted one (children aside).

    None for block types the sync never writes: such a block never matches.
    """
    if block_type in ("paragraph", "heading_1", "heading_2", "heading_3", "quote",
                      "bulleted_list_item", "numbered_list_item"):
        return (block_type, _runs(data.get("rich_text")))
    if block_type == "to_do":
        return (block_type, _runs(data.get("rich_text")), bool(data.get("checked")))
    if block_type == "code":
        return (block_type, _runs(data.get("rich_text")), data.get("language"))
    if block_type == "divider":
        return (block_type,)
    if block_type == "table":
        return (block_type, data.get("table_width"), bool(data.get("has_column_header")),
                bool(data.get("has_row_header")))
    if block_type == "table_row":
        return (block_type, tuple(_runs(cell) for cell in data.get("cells") or []))
    return None


def block_fingerprint(block: Block) -> tuple[Any, ...] | None:
    return fingerprint(block.type, block.data)


def api_fingerprint(obj: dict[str, Any]) -> tuple[Any, ...] | None:
    block_type = str(obj.get("type", ""))
    data = obj.get(block_type)
    return fingerprint(block_type, data if isinstance(data, dict) else {})


# ------------------------------------------------------------------ request plan

@dataclass
class AppendItem:
    """One top-level block of an append request, and the children to send after it exists."""

    block: Block
    payload: dict[str, Any]
    deferred: list[Block]
    elements: int
    size: int


def _payload_size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def append_item(block: Block) -> AppendItem:
    """How a block goes into an append: with its children inline when that stays within one request.

    Inline children must be leaves (a third level is refused) and at most 100; a block whose
    children have children of their own is sent bare and its children follow in their own
    request, which may nest two levels again.
    """
    if not block.children:
        payload = block.to_api()
        return AppendItem(block, payload, [], 1, _payload_size(payload))
    if all(not child.children for child in block.children):
        inline = block.children[:MAX_CHILDREN]
        payload = block.to_api(inline)
        size = _payload_size(payload)
        if size <= MAX_REQUEST_BYTES and len(inline) + 1 <= MAX_ELEMENTS:
            return AppendItem(block, payload, block.children[MAX_CHILDREN:], 1 + len(inline), size)
    if block.type == "table":
        # A table must be created with rows: send what fits (rows are small), the rest follows.
        inline = block.children[:MAX_CHILDREN]
        while len(inline) > 1 and _payload_size(block.to_api(inline)) > MAX_REQUEST_BYTES:
            inline = inline[: len(inline) // 2]
        payload = block.to_api(inline)
        return AppendItem(block, payload, block.children[len(inline):], 1 + len(inline), _payload_size(payload))
    payload = block.to_api()
    return AppendItem(block, payload, list(block.children), 1, _payload_size(payload))


def plan_append(blocks: Sequence[Block]) -> list[list[AppendItem]]:
    """Group top-level blocks into requests of <= 100 children, <= 1,000 elements, bounded size."""
    batches: list[list[AppendItem]] = []
    current: list[AppendItem] = []
    elements = size = 0
    for block in blocks:
        item = append_item(block)
        if current and (len(current) >= MAX_CHILDREN or elements + item.elements > MAX_ELEMENTS
                        or size + item.size > MAX_REQUEST_BYTES):
            batches.append(current)
            current, elements, size = [], 0, 0
        current.append(item)
        elements += item.elements
        size += item.size
    if current:
        batches.append(current)
    return batches


def create_prefix(blocks: Sequence[Block]) -> int:
    """How many leading blocks can ride in the page-create request itself.

    A create does not return block ids, so only blocks that need no follow-up request qualify.
    """
    count = elements = size = 0
    for block in blocks:
        item = append_item(block)
        if item.deferred or count >= MAX_CHILDREN or elements + item.elements > MAX_ELEMENTS \
                or size + item.size > MAX_REQUEST_BYTES:
            break
        count += 1
        elements += item.elements
        size += item.size
    return count
