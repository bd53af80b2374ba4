"""Writing a page's body: append block trees within the limits, and bring an existing body up to date.

The API can only append at the end of a block's children (the sync never sends
`after`/`position`), so an update keeps the longest prefix of blocks that are
already right, recursing into children of kept blocks, deletes the rest (one
request per deleted top-level block; its children go with it) and appends the
new tail. A typical edit (a line added at the end, a typo fixed near the end)
deletes little or nothing.

Appends are not idempotent: when one fails with an unknown outcome, `write_body`
starts over from a fresh listing of the children, so nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .blocks import Block, api_fingerprint, block_fingerprint, plan_append
from .client import AmbiguousWrite, APIResponseError, NotionClient, NotionError

# Blocks someone may have added under a mirrored page that hold their own content:
# never deleted, never compared.
PRESERVED_TYPES = frozenset({"child_page", "child_database"})


@dataclass
class BodyStats:
    listed: int = 0
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

    def converge(self, parent_id: str, desired: Sequence[Block],
                 existing: list[dict[str, Any]] | None = None) -> None:
        """Make the children of `parent_id` equal `desired` with as few deletes as the API allows."""
        if existing is None:
            existing = self.client.list_children(parent_id)
            self.stats.listed += 1
        current = [blk for blk in existing if blk.get("type") not in PRESERVED_TYPES]
        keep = 0
        while keep < len(current) and keep < len(desired):
            have = api_fingerprint(current[keep])
            if have is None or have != block_fingerprint(desired[keep]):
                break
            keep += 1
        for have_blk, want in zip(current[:keep], desired[:keep], strict=True):
            if want.children or have_blk.get("has_children"):
                self.converge(str(have_blk["id"]), want.children, None if have_blk.get("has_children") else [])
        for stale in current[keep:]:
            self.delete(str(stale["id"]))
        self.append_tree(parent_id, desired[keep:])

    def write_body(self, page_id: str, desired: Sequence[Block], *, known_prefix: int | None = None) -> None:
        """Bring the page body to `desired`.

        known_prefix: the page was just created with exactly the first `known_prefix` blocks (no
        listing needed); None: the body is unknown and is listed first.
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                if attempt == 1 and known_prefix is not None:
                    self.append_tree(page_id, desired[known_prefix:])
                else:
                    self.converge(page_id, desired)
                return
            except AmbiguousWrite:
                if attempt >= self.max_attempts:
                    raise
                # The failed append may or may not have landed: look before sending again.
                self.stats.restarts += 1
