"""Notion blocks and rich text, and the request plan that keeps every append within the API's limits.

lib/notion/markdown.py turns a note's markdown into these blocks.

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

import json
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


def text_object(text: str, span: Span) -> dict[str, Any]:
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
            out.append(text_object(piece, span))
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
