"""The one-shot sync: plan what each note needs, push it, record the result in the note.

Plan (no request): a note is `skip` when the content hash recomputed from the file as
it is now equals its `synced_hash`, its `sync_status` is `synced` and its
`notion_page_id` is a Notion id; `update` when it has a Notion id; `create`
otherwise (a marker such as `pending-reconcile` means "find it by external_id").

Apply, per note, in order:
- update: PATCH the properties, then bring the body up to date (pages.BodyWriter);
  a page that is gone (deleted or in the trash) is looked up by external_id and,
  failing that, created again;
- create: query the data source by external_id first and adopt a page found there;
  else create it with as many blocks as fit and append the rest. A create that timed out or got a 5xx is never sent again
  blindly: the data source is queried by external_id first.
- write-back through the round-trip writer: notion_page_id, sync_status: synced,
  synced_at, synced_hash (the hash of the content that was pushed); a failure
  writes sync_status: error and a one-line sync_error. Nothing else in the note
  changes, and each note is written as soon as it is done, so a run killed at any
  point loses nothing: the next run picks up exactly the notes not yet synced.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import git
from lib.core.errors import BatonError, ConfigError
from lib.core.paths import KINDS, Store
from lib.notion import blocks as nblocks
from lib.notion import memo
from lib.notion.client import (
    AmbiguousWrite,
    APIResponseError,
    NotionClient,
    NotionError,
    is_notion_id,
    normalize_id,
)
from lib.notion.config import KindConfig, NotionConfig
from lib.notion.markdown import markdown_to_blocks
from lib.notion.pages import BodyWriter
from lib.notion.properties import build_properties, check_mapping, property_types
from lib.security import redact
from lib.store import frontmatter

AUDIT_LOG = "docs/sync/LAST_SYNC.md"
LOCK_FILE = ".claude/state/notion-sync.lock"

ACTIONS = ("create", "update", "skip", "error", "defer")


@dataclass
class FilePlan:
    path: Path
    rel: str
    kind: str
    action: str
    reason: str = ""
    external_id: str | None = None
    page_id: str | None = None
    content_hash: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    blocks: list[nblocks.Block] = field(default_factory=list)
    known_page: str | None = None   # a page this run created or found for the note


@dataclass
class FileOutcome:
    rel: str
    kind: str
    action: str
    outcome: str           # created | updated | adopted | unchanged | error | planned | deferred
    external_id: str | None = None
    page_id: str | None = None
    detail: str = ""
    requests: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"path": self.rel, "kind": self.kind, "external_id": self.external_id, "action": self.action,
                "outcome": self.outcome, "page_id": self.page_id, "detail": self.detail,
                "requests": self.requests}


@dataclass
class SyncReport:
    mode: str
    started_at: str
    who: str
    outcomes: list[FileOutcome]
    duration_s: float = 0.0
    requests: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0
    rate_per_s: float = 0.0
    aborted: str | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def counts(self) -> dict[str, int]:
        keys = ("created", "updated", "adopted", "unchanged", "error", "planned", "deferred")
        return {k: self.count(k) for k in keys if self.count(k)}

    def planned_counts(self) -> dict[str, int]:
        return {a: sum(1 for o in self.outcomes if o.action == a) for a in ACTIONS
                if any(o.action == a for o in self.outcomes)}

    @property
    def failed(self) -> bool:
        return self.aborted is not None or any(o.outcome == "error" or o.action == "error" for o in self.outcomes)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1, "mode": self.mode, "started_at": self.started_at, "who": self.who,
            "duration_s": round(self.duration_s, 3), "aborted": self.aborted,
            "plan": self.planned_counts(), "totals": self.counts(),
            "requests": {"total": self.requests, "writes": self.writes, "retries": self.retries,
                         "rate_limited": self.rate_limited, "waited_s": round(self.waited_s, 3),
                         "limit_per_s": self.rate_per_s},
            "files": [o.as_json() for o in self.outcomes],
        }


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def who_runs(root: Path) -> str:
    """The operator (lib.store.operators), else $OPERATOR, git's user.name or the login name: for the audit log."""
    from lib.store import operators

    try:
        return operators.resolve(root).operator.slug
    except (BatonError, OSError, ValueError):
        pass  # an audit line never stops a sync
    name = os.environ.get("OPERATOR", "").strip()
    if name:
        return name
    out = git.config(root, "user.name") or ""
    if out:
        return out
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ---------------------------------------------------------------- plan

def plan_files(root: Path, config: NotionConfig, *, only: str | None = None,
               limit: int | None = None) -> list[FilePlan]:
    """What each note needs, from the files alone (no request)."""
    if only is not None and only not in config.kinds:
        configured = ", ".join(config.kinds) or "none"
        raise ConfigError(f"{config.path}: no database is configured for kind {only!r} (configured: {configured})")
    kinds = tuple(k for k in KINDS if k in config.kinds and (only is None or k == only))
    store = Store(root)
    plans: list[FilePlan] = []
    for path in store.note_paths(kinds):
        kind = store.kind_of(path) or "?"
        plans.append(_plan_one(path, path.relative_to(root).as_posix(), kind))
    # Two notes with one external_id would fight over one page: push neither.
    owners: dict[tuple[str, str], list[FilePlan]] = {}
    for plan in plans:
        if plan.external_id and plan.action != "error":
            owners.setdefault((plan.kind, plan.external_id), []).append(plan)
    for (_, external_id), same in owners.items():
        if len(same) > 1:
            for plan in same:
                others = ", ".join(p.rel for p in same if p is not plan)
                plan.action, plan.reason = "error", f"external_id {external_id} is also used by {others}"
    pushing = 0
    for plan in plans:
        if plan.action in ("create", "update"):
            if limit is not None and pushing >= limit:
                plan.action, plan.reason = "defer", "over --limit"
            else:
                pushing += 1
    return plans


def _plan_one(path: Path, rel: str, kind: str) -> FilePlan:
    try:
        metadata, body = frontmatter.read(path)
    except BatonError as exc:
        return FilePlan(path, rel, kind, "error", one_line(str(exc)))
    if kind == "session" and metadata.get("status") == "claimed":
        # a claim stub is "no session yet": there is nothing to mirror until its handoff is written
        return FilePlan(path, rel, kind, "skip", "claim stub (no handoff written yet)", metadata=metadata)
    raw_id = metadata.get("external_id")
    external_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
    if not external_id:
        return FilePlan(path, rel, kind, "error", "no external_id in the frontmatter", metadata=metadata)
    try:
        digest = frontmatter.content_hash(metadata, body)
    except frontmatter.FrontmatterError as exc:  # .inf/.nan: no JSON form, so nothing to mirror
        return FilePlan(path, rel, kind, "error", one_line(exc.reason), metadata=metadata)
    page = metadata.get("notion_page_id")
    page_id = normalize_id(page) if isinstance(page, str) and is_notion_id(page) else None
    plan = FilePlan(path, rel, kind, "create", external_id=external_id, page_id=page_id, content_hash=digest,
                    metadata=metadata, body=body)
    if page_id is None:
        plan.reason = f"find by external_id ({page})" if page else "new"
        return plan
    status = metadata.get("sync_status")
    if status == "synced" and metadata.get("synced_hash") == digest:
        plan.action = "skip"
    else:
        plan.action = "update"
        plan.reason = "previous sync failed" if status == "error" else "changed"
    return plan


# ---------------------------------------------------------------- apply

@dataclass
class DataSource:
    id: str
    types: dict[str, str]
    kind: KindConfig


def _gone(exc: APIResponseError) -> bool:
    """The page was deleted or moved to the trash in Notion."""
    return exc.status == 404 or (exc.code == "validation_error" and "archived" in str(exc).lower())


class Syncer:
    def __init__(self, root: Path, config: NotionConfig, client: NotionClient) -> None:
        self.root = root
        self.config = config
        self.client = client
        self.sources: dict[str, DataSource] = {}
        self.memos = memo.MemoStore(root)

    # -- data sources

    def refused(self, exc: APIResponseError) -> ConfigError:
        return ConfigError(self.client.redact(
            f"Notion refused the token ({exc.status} {exc.code}); check $NOTION_TOKEN and that the "
            "databases are shared with the integration"))

    def resolve(self, kind: str) -> DataSource:
        """The data source mirroring `kind`, its property types checked against the mapping (reads only)."""
        try:
            return self._resolve(kind)
        except APIResponseError as exc:
            if exc.status in (401, 403):
                raise self.refused(exc) from None
            raise BatonError(f"cannot read the {kind} database: {exc}") from None
        except NotionError as exc:
            raise BatonError(f"cannot read the {kind} database: {exc}") from None

    def _resolve(self, kind: str) -> DataSource:
        if kind in self.sources:
            return self.sources[kind]
        spec = self.config.kinds[kind]
        where = f"{self.config.path}: kinds.{kind}"
        try:
            database = self.client.retrieve_database(spec.database_id)
        except APIResponseError as exc:
            if exc.status in (400, 404):
                raise ConfigError(f"{where}.database_id: database {spec.database_id} was not found or is not "
                                  f"shared with the integration ({exc.code})") from None
            raise
        sources = [s for s in database.get("data_sources") or [] if isinstance(s, dict)]
        chosen: dict[str, Any] | None = None
        if spec.data_source:
            wanted = spec.data_source
            for source in sources:
                same_id = is_notion_id(wanted) and normalize_id(wanted) == normalize_id(str(source.get("id")))
                if same_id or source.get("name") == wanted:
                    chosen = source
            if chosen is None:
                names = ", ".join(repr(s.get("name")) for s in sources) or "none"
                raise ConfigError(f"{where}.data_source: {wanted!r} is not a data source of database "
                                  f"{spec.database_id} (it has: {names})")
        elif len(sources) == 1:
            chosen = sources[0]
        elif not sources:
            raise ConfigError(f"{where}.database_id: database {spec.database_id} has no data source")
        else:
            names = ", ".join(repr(s.get("name")) for s in sources)
            raise ConfigError(f"{where}: database {spec.database_id} has {len(sources)} data sources ({names}); "
                              "name the one to use with `data_source:`")
        ds_id = str(chosen["id"])
        types = property_types(self.client.retrieve_data_source(ds_id))
        check_mapping(spec, types, str(self.config.path))
        resolved = DataSource(ds_id, types, spec)
        self.sources[kind] = resolved
        return resolved

    def find_page(self, source: DataSource) -> Callable[[str], str | None]:
        mapping = source.kind.external_id
        filter_type = "title" if source.types.get(mapping.property) == "title" else "rich_text"

        def lookup(external_id: str) -> str | None:
            data = self.client.query_data_source(source.id, {
                "filter": {"property": mapping.property, filter_type: {"equals": external_id}},
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
                "page_size": 2,
            })
            results = [r for r in data.get("results") or [] if isinstance(r, dict) and not r.get("in_trash")]
            # Several pages with one external_id (left by an older tool): keep to the oldest.
            return normalize_id(str(results[0]["id"])) if results else None

        return lookup

    # -- one note

    def push(self, plan: FilePlan) -> tuple[str, str]:
        """Make Notion match the note; returns (outcome, page id)."""
        source = self.resolve(plan.kind)
        assert plan.external_id is not None and plan.content_hash is not None
        fallback = plan.path.stem
        props = redact.redact_data(build_properties(source.kind, source.types, plan.metadata, fallback))
        body = markdown_to_blocks(redact.redact(plan.body))
        plan.blocks = body
        writer = BodyWriter(self.client, max_attempts=self.config.file_attempts)
        lookup = self.find_page(source)

        if plan.page_id is not None:
            known = self.memos.load(plan.page_id, plan.metadata.get("synced_hash"))
            self.memos.forget(plan.page_id)  # from here on the page may differ from any memo
            try:
                self.client.update_page(plan.page_id, {"properties": props})
            except APIResponseError as exc:
                if not _gone(exc):
                    raise
            else:
                if known is None or known.body != memo.children_digest(body):
                    writer.write_body(plan.page_id, body, known=known.top if known else None)
                return "updated", plan.page_id

        found = lookup(plan.external_id)
        if found is not None:
            self.memos.forget(found)
            plan.known_page = found
            self.client.update_page(found, {"properties": props})
            writer.write_body(found, body)
            return "adopted", found

        inline = nblocks.create_prefix(body)
        request = {"parent": {"type": "data_source_id", "data_source_id": source.id}, "properties": props,
                   "children": [nblocks.append_item(b).payload for b in body[:inline]]}
        for attempt in range(1, self.config.file_attempts + 1):
            try:
                page = self.client.create_page(request)
            except AmbiguousWrite:
                # The page may exist now: look before creating again.
                found = lookup(plan.external_id)
                if found is not None:
                    plan.known_page = found
                    writer.write_body(found, body)
                    return "created", found
                if attempt >= self.config.file_attempts:
                    raise
                continue
            page_id = normalize_id(str(page["id"]))
            plan.known_page = page_id
            writer.write_body(page_id, body, known_prefix=inline)
            return "created", page_id
        raise NotionError("create failed")  # pragma: no cover - the loop returns or raises

    # -- write-back

    def mark_synced(self, plan: FilePlan, page_id: str) -> None:
        doc = frontmatter.load_document(plan.path)
        doc.update({"notion_page_id": page_id, "sync_status": "synced", "synced_at": utc_now(),
                    "synced_hash": plan.content_hash})
        doc.delete("sync_error")
        doc.save()

    def mark_error(self, plan: FilePlan, message: str) -> None:
        doc = frontmatter.load_document(plan.path)
        values: dict[str, Any] = {"sync_status": "error", "sync_error": message}
        if plan.known_page and not is_notion_id(doc.get("notion_page_id")):
            # The page exists (its body may be incomplete): the next run updates it by id.
            values["notion_page_id"] = plan.known_page
        doc.update(values)
        doc.save()

    # -- the run

    def run(self, plans: Sequence[FilePlan], *, on_done: Callable[[FileOutcome], None] | None = None,
            report: SyncReport) -> SyncReport:
        # Resolve every data source that has work before writing anything: a configuration
        # mistake stops the run with nothing half done.
        for kind in dict.fromkeys(p.kind for p in plans if p.action in ("create", "update")):
            self.resolve(kind)
        for plan in plans:
            before = self.client.stats.requests
            outcome = self._apply_one(plan)
            outcome.requests = self.client.stats.requests - before
            report.outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
        return report

    def _apply_one(self, plan: FilePlan) -> FileOutcome:
        base = FileOutcome(plan.rel, plan.kind, plan.action, "", plan.external_id, plan.page_id)
        if plan.action == "skip":
            base.outcome = "unchanged"
            return base
        if plan.action == "defer":
            base.outcome, base.detail = "deferred", plan.reason
            return base
        if plan.action == "error":
            base.outcome, base.detail = "error", plan.reason
            return base
        try:
            outcome, page_id = self.push(plan)
        except APIResponseError as exc:
            if exc.status in (401, 403):
                # Every later note would fail the same way: stop, leaving this note as it was.
                raise self.refused(exc) from None
            return self._failed(plan, base, exc)
        except (NotionError, ValueError) as exc:
            return self._failed(plan, base, exc)
        base.page_id = page_id
        base.outcome = outcome
        try:
            self.mark_synced(plan, page_id)
        except (BatonError, OSError) as exc:
            base.outcome, base.detail = "error", one_line(f"pushed, but the note could not be updated: {exc}")
            return base
        try:
            self.memos.save(page_id, plan.content_hash or "", plan.blocks)
        except OSError:
            pass  # only an optimisation: the next update lists the page instead
        return base

    def _failed(self, plan: FilePlan, base: FileOutcome, exc: Exception) -> FileOutcome:
        message = one_line(self.client.redact(str(exc)))
        base.outcome, base.detail = "error", message
        try:
            self.mark_error(plan, message)
        except (BatonError, OSError) as write_exc:
            base.detail = one_line(f"{message}; the note could not be updated: {write_exc}")
        return base


def start_report(mode: str, root: Path) -> tuple[SyncReport, float]:
    return SyncReport(mode=mode, started_at=utc_now(), who=who_runs(root), outcomes=[]), time.monotonic()


def finish_report(report: SyncReport, started: float, client: NotionClient | None, rate: float) -> None:
    report.duration_s = time.monotonic() - started
    report.rate_per_s = rate
    if client is not None:
        stats = client.stats
        report.requests, report.writes, report.retries = stats.requests, stats.writes, stats.retries
        report.rate_limited, report.waited_s = stats.rate_limited, stats.waited_s
