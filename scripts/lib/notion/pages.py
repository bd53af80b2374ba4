"""Writing a page's body: append block trees within the limits, and bring an existing body up to date.

The API can only append at the end of a block's children (the sync never sends
`after`/`position`), so an update (`align`) keeps the blocks that are already
right, edits changed blocks of the same type in place (one request each), deletes
what is gone (one request per deleted block; its children go with it) and appends
what is new at the end, choosing the cheapest such edit. A line added at the end
costs one append, a fixed typo one block update, a removed paragraph one delete;
a block inserted mid-page costs one update per block after it.

Appends are not idempotent: when one fails with an unknown outcome, `write_body`
starts over from a fresh listing of the children, so nothing is sent twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lib.notion import memo
from lib.notion.blocks import MAX_CHILDREN, Block, api_fingerprint, block_fingerprint, plan_append
from lib.notion.client import AmbiguousWrite, APIResponseError, NotionClient, NotionError

# Blocks someone may have added under a mirrored page that hold their own content:
# never deleted, never compared.
PRESERVED_TYPES = frozenset({"child_page", "child_database"})
# Types whose content can be edited in place (PATCH /v1/blocks/{id}) when the type stays the same.
UPDATABLE = frozenset({"paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
                       "numbered_list_item", "to_do", "quote", "code", "table", "table_row"})


def _same(have: dict[str, Any], want: Block) -> bool:
    fingerprint = api_fingerprint(have)
    return fingerprint is not None and fingerprint == block_fingerprint(want)


def _updatable(have: dict[str, Any], want: Block) -> bool:
    if have.get("type") != want.type or want.type not in UPDATABLE:
        return False
    if want.type == "table":
        return bool(have.get("table", {}).get("table_width") == want.data.get("table_width"))
    return True


@dataclass
class Edit:
    """How to turn existing children into wanted ones: keep, edit in place, delete, append at the end."""

    kept: list[tuple[dict[str, Any], Block]]
    updates: list[tuple[dict[str, Any], Block]]
    stale: list[dict[str, Any]]
    new: list[Block]

    def cost(self) -> int:
        return len(self.updates) + len(self.stale) + math.ceil(len(self.new) / MAX_CHILDREN)


# Past this many (existing x wanted) pairs left after the common prefix, the exact
# alignment would take too long: fall back to editing position by position.
ALIGN_CELLS = 250_000

_KEEP, _UPDATE, _DELETE, _REPLACE = 0, 1, 2, 3


def align(have: Sequence[dict[str, Any]], desired: Sequence[Block]) -> Edit:
    """The cheapest edit under the API's rule that a block can only be added at the end.

    Each wanted block is either an existing block that stays (same content), an existing block
    of the same type edited in place (1 request), or appended after every block that stays
    (1 request per 100). Existing blocks not used are deleted (1 request each). Among edits
    with the same number of requests the one with fewer deletes wins, since a deleted block
    loses its identity (links and comments on it). Dynamic programming over the part after the
    common prefix.
    """
    prefix = 0
    while prefix < min(len(have), len(desired)) and _same(have[prefix], desired[prefix]):
        prefix += 1
    kept = list(zip(have[:prefix], desired[:prefix], strict=True))
    rest_have, rest_want = list(have[prefix:]), list(desired[prefix:])
    a, b = len(rest_have), len(rest_want)
    if a * b > ALIGN_CELLS:
        return _positional(kept, rest_have, rest_want)

    fh = [api_fingerprint(x) for x in rest_have]
    fw = [block_fingerprint(x) for x in rest_want]
    # cost[j] for the row i+1 (below) and the row i being computed; a cost is (requests, deletes)
    choice = [bytearray(b + 1) for _ in range(a + 1)]
    below: list[tuple[int, int]] = [(math.ceil((b - j) / MAX_CHILDREN), 0) for j in range(b + 1)]
    for j in range(b + 1):
        choice[a][j] = _REPLACE
    for i in range(a - 1, -1, -1):
        row: list[tuple[int, int]] = [(0, 0)] * (b + 1)
        for j in range(b, -1, -1):
            deletes_left = a - i
            best = (deletes_left + math.ceil((b - j) / MAX_CHILDREN), deletes_left)
            pick = _REPLACE
            req, dels = below[j]
            if (req + 1, dels + 1) <= best:
                best, pick = (req + 1, dels + 1), _DELETE
            if j < b:
                req, dels = below[j + 1]
                if fh[i] is not None and fh[i] == fw[j]:
                    if (req, dels) <= best:
                        best, pick = (req, dels), _KEEP
                elif _updatable(rest_have[i], rest_want[j]) and (req + 1, dels) <= best:
                    best, pick = (req + 1, dels), _UPDATE
            row[j] = best
            choice[i][j] = pick
        below = row

    updates: list[tuple[dict[str, Any], Block]] = []
    stale: list[dict[str, Any]] = []
    i = j = 0
    while True:
        pick = choice[i][j]
        if pick == _KEEP:
            kept.append((rest_have[i], rest_want[j]))
            i, j = i + 1, j + 1
        elif pick == _UPDATE:
            updates.append((rest_have[i], rest_want[j]))
            i, j = i + 1, j + 1
        elif pick == _DELETE:
            stale.append(rest_have[i])
            i += 1
        else:
            stale.extend(rest_have[i:])
            return Edit(kept, updates, stale, rest_want[j:])


def _positional(kept: list[tuple[dict[str, Any], Block]], have: list[dict[str, Any]],
                desired: list[Block]) -> Edit:
    """Position by position: keep or edit in place while the types agree, then replace the rest."""
    updates: list[tuple[dict[str, Any], Block]] = []
    for k in range(min(len(have), len(desired))):
        if _same(have[k], desired[k]):
            kept.append((have[k], desired[k]))
        elif _updatable(have[k], desired[k]):
            updates.append((have[k], desired[k]))
        else:
            return Edit(kept, updates, have[k:], desired[k:])
    common = min(len(have), len(desired))
    return Edit(kept, updates, have[common:], desired[common:])


@dataclass
class BodyStats:
    listed: int = 0
    updated: int = 0
    deleted: int = 0
    appended_blocks: int = 0
    append_requests: int = 0
    restarts: int = 0


class BodyWriter:
    def __init__(self, client: NotionClient, *, max_attempts: int = 3) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.stats = BodyStats()

    def append_tree(self, parent_id: str, blocks: Sequence[Block]) -> None:
        for batch in plan_append(blocks):
            results = self.client.append_children(parent_id, [item.payload for item in batch])
            self.stats.append_requests += 1
            self.stats.appended_blocks += sum(item.elements for item in batch)
            if len(results) != len(batch):
                raise NotionError(f"append to {parent_id} returned {len(results)} blocks for {len(batch)} sent")
            for item, created in zip(batch, results, strict=True):
                if item.deferred:
                    self.append_tree(str(created["id"]), item.deferred)

    def delete(self, block_id: str) -> None:
        try:
            self.client.delete_block(block_id)
        except APIResponseError as exc:
            # Already gone (a retried delete whose first try went through): the goal is reached.
            if exc.status == 404 or (exc.code == "validation_error" and "archived" in str(exc)):
                return
            raise
        self.stats.deleted += 1

    def update(self, existing: dict[str, Any], want: Block) -> None:
        data = dict(want.data)
        if want.type == "table":
            data = {k: v for k, v in data.items() if k != "table_width"}  # the width cannot change
        self.client.update_block(str(existing["id"]), {want.type: data})
        self.stats.updated += 1

    def converge(self, parent_id: str, desired: Sequence[Block],
                 existing: list[dict[str, Any]] | None = None,
                 known: Sequence[tuple[str, str]] | None = None) -> None:
        """Make the children of `parent_id` equal `desired` with as few requests as the API allows.

        known: what the sync last left here (memo.top_of), one (content, children) digest pair per
        block; used only if the blocks listed now match it, to skip re-reading unchanged children.
        """
        if existing is None:
            existing = self.client.list_children(parent_id)
            self.stats.listed += 1
        have = [blk for blk in existing if blk.get("type") not in PRESERVED_TYPES]
        children_known: dict[str, str] = {}
        if known is not None and len(known) == len(have) and all(
                memo.digest(api_fingerprint(blk)) == own for blk, (own, _) in zip(have, known, strict=True)):
            children_known = {str(blk["id"]): kids for blk, (_, kids) in zip(have, known, strict=True)}
        edit = align(have, desired)
        for old, want in edit.updates:
            self.update(old, want)
        for old, want in edit.kept + edit.updates:
            if children_known.get(str(old["id"])) == memo.children_digest(want.children):
                continue  # its children are as the last sync left them and as wanted
            if want.children or old.get("has_children"):
                self.converge(str(old["id"]), want.children, None if old.get("has_children") else [])
        for old in edit.stale:
            self.delete(str(old["id"]))
        self.append_tree(parent_id, edit.new)

    def write_body(self, page_id: str, desired: Sequence[Block], *, known_prefix: int | None = None,
                   known: Sequence[tuple[str, str]] | None = None) -> None:
        """Bring the page body to `desired`.

        known_prefix: the page was just created with exactly the first `known_prefix` blocks (no
        listing needed); None: the body is unknown and is listed first. known: see `converge`.
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                if attempt == 1 and known_prefix is not None:
                    self.append_tree(page_id, desired[known_prefix:])
                else:
                    # after a failed attempt the memo no longer describes the page
                    self.converge(page_id, desired, known=known if attempt == 1 else None)
                return
            except AmbiguousWrite:
                if attempt >= self.max_attempts:
                    raise
                # The failed append may or may not have landed: look before sending again.
                self.stats.restarts += 1
