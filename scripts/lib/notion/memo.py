"""What the sync last left on each Notion page, so an update need not re-read what it already knows.

One small JSON file per page under `.claude/state/notion-pages/` (machine-local,
gitignored, safe to delete: without it an update lists and compares the page's
blocks, which costs more requests but gives the same result).

A memo is trusted only when the note's `synced_hash` equals the one recorded with
it (so the last sync of this note at this content was this machine's), and, for
the body, only when the page's top-level blocks as listed now still match it.
The memo is deleted before any write to its page and written again only after
the note records success, so a run that dies half-way leaves no memo to mislead
the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.notion.blocks import Block, block_fingerprint
from lib.notion.client import is_notion_id, normalize_id

MEMO_DIR = ".claude/state/notion-pages"
VERSION = 1


def digest(value: Any) -> str:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:24]


def subtree_digest(block: Block) -> str:
    return digest([digest(block_fingerprint(block)), [subtree_digest(c) for c in block.children]])


def children_digest(blocks: Sequence[Block]) -> str:
    return digest([subtree_digest(b) for b in blocks])


def top_of(blocks: Sequence[Block]) -> list[tuple[str, str]]:
    """(own content, children) digests of each top-level block, in order."""
    return [(digest(block_fingerprint(b)), children_digest(b.children)) for b in blocks]


@dataclass
class PageMemo:
    page_id: str
    synced_hash: str
    body: str                       # children_digest of the whole body
    top: list[tuple[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {"version": VERSION, "page_id": self.page_id, "synced_hash": self.synced_hash,
                "body": self.body, "top": [list(t) for t in self.top]}


class MemoStore:
    def __init__(self, root: Path) -> None:
        self.folder = root / MEMO_DIR

    def _path(self, page_id: str) -> Path | None:
        if not is_notion_id(page_id):
            return None
        return self.folder / f"{normalize_id(page_id)}.json"

    def load(self, page_id: str, synced_hash: object) -> PageMemo | None:
        """The memo of a page, if it was written for the note's current synced_hash."""
        path = self._path(page_id)
        if path is None or not isinstance(synced_hash, str):
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            memo = PageMemo(str(data["page_id"]), str(data["synced_hash"]), str(data["body"]),
                            [(str(a), str(b)) for a, b in data["top"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if data.get("version") != VERSION or memo.synced_hash != synced_hash:
            return None
        if normalize_id(memo.page_id) != normalize_id(page_id):
            return None
        return memo

    def forget(self, page_id: str) -> None:
        path = self._path(page_id)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def save(self, page_id: str, synced_hash: str, blocks: Sequence[Block]) -> None:
        path = self._path(page_id)
        if path is None:
            return
        memo = PageMemo(normalize_id(page_id), synced_hash, children_digest(blocks), top_of(blocks))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic (temp + rename) but not fsync'd: a memo lost in a crash only costs requests.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(memo.as_json(), separators=(",", ":")) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
