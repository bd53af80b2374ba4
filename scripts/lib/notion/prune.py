"""Retiring Notion pages whose notes are gone from the repository.

A page is retired (moved to Notion's trash, where it can be restored for 30 days) only when it
carries an external_id that no note of its kind has any more: pages people made by hand in the
database (no external_id) are never touched, nor are pages of notes that still exist but fail to
sync. Listing is read-only; archiving happens only when the caller asks for it (`--apply`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lib.core.errors import BatonError
from lib.notion.client import APIResponseError, NotionClient, NotionError, normalize_id
from lib.notion.sync import DataSource, FilePlan, Syncer

PAGE_SIZE = 100


@dataclass
class Orphan:
    """A Notion page of `kind` whose note (`external_id`) is no longer in the repository."""

    kind: str
    page_id: str
    external_id: str
    title: str
    outcome: str = "planned"  # planned | archived | error
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "page_id": self.page_id, "external_id": self.external_id, "title": self.title,
                "outcome": self.outcome, "detail": self.detail}


def _plain(value: Any) -> str:
    """The text of a title or rich_text property value."""
    if not isinstance(value, dict):
        return ""
    parts = value.get(value.get("type", "")) if value.get("type") in ("title", "rich_text") else None
    if not isinstance(parts, list):
        return ""
    return "".join(str(p.get("plain_text") or (p.get("text") or {}).get("content") or "")
                   for p in parts if isinstance(p, dict)).strip()


def _title(properties: dict[str, Any]) -> str:
    for value in properties.values():
        if isinstance(value, dict) and value.get("type") == "title":
            return _plain(value)
    return ""


def pages(client: NotionClient, source: DataSource) -> Iterator[dict[str, Any]]:
    """Every live page of a data source, following Notion's pagination."""
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"page_size": PAGE_SIZE}
        if cursor:
            body["start_cursor"] = cursor
        data = client.query_data_source(source.id, body)
        for page in data.get("results") or []:
            if isinstance(page, dict) and not page.get("in_trash") and not page.get("archived"):
                yield page
        cursor = data.get("next_cursor") if data.get("has_more") else None
        if not cursor:
            return


def in_repository(plans: Iterable[FilePlan]) -> dict[str, set[str]]:
    """The external_ids the repository's notes still have, by kind (whatever their sync state)."""
    have: dict[str, set[str]] = {}
    for plan in plans:
        external_id = plan.external_id
        if not external_id:
            raw = plan.metadata.get("external_id") if plan.metadata else None
            external_id = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
        if external_id:
            have.setdefault(plan.kind, set()).add(external_id)
    return have


def find(syncer: Syncer, kinds: Iterable[str], plans: Iterable[FilePlan]) -> list[Orphan]:
    """Pages in the databases of `kinds` whose external_id no note has any more (reads only)."""
    plans = list(plans)
    have = in_repository(plans)
    orphans: list[Orphan] = []
    for kind in kinds:
        unreadable = [p.rel for p in plans if p.kind == kind and p.action == "error" and not p.metadata]
        if unreadable:
            # Its external_id is unknown, so its page would look like a deleted note's.
            raise BatonError(f"{unreadable[0]}: cannot be read, so its Notion page cannot be told apart from a "
                             "deleted note's; fix it, then run --prune again")
        source = syncer.resolve(kind)
        prop = source.kind.external_id.property
        try:
            for page in pages(syncer.client, source):
                properties = page.get("properties") or {}
                external_id = _plain(properties.get(prop))
                if external_id and external_id not in have.get(kind, set()):
                    orphans.append(Orphan(kind, normalize_id(str(page["id"])), external_id, _title(properties)))
        except APIResponseError as exc:
            if exc.status in (401, 403):
                raise syncer.refused(exc) from None
            raise BatonError(f"cannot list the {kind} database: {exc}") from None
        except NotionError as exc:
            raise BatonError(f"cannot list the {kind} database: {exc}") from None
    return orphans


def archive(client: NotionClient, orphans: Iterable[Orphan],
            on_done: Callable[[Orphan], None] | None = None) -> None:
    """Move each orphan's page to Notion's trash; a failure is recorded on the orphan, the rest go on."""
    for orphan in orphans:
        try:
            client.update_page(orphan.page_id, {"in_trash": True})
            orphan.outcome = "archived"
        except NotionError as exc:
            orphan.outcome, orphan.detail = "error", client.redact(str(exc))
        if on_done is not None:
            on_done(orphan)
