"""The console's records: its settings, a served project, and one session as a list shows it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.console.queries import number_or_none, text_or_none
from lib.console.storeview import NoteView, StoreView
from lib.core.paths import STATE_DIR
from lib.failures import insights
from lib.security import redact


@dataclass(frozen=True)
class Settings:
    # How often the event watcher looks for changes (seconds).
    poll_interval_s: float = 0.25
    # A note edited in place (not renamed) is seen within this many seconds.
    full_scan_s: float = 5.0
    # A telemetry state with no event for this long is not "in progress" any more.
    stale_after_s: float = 6 * 3600.0
    # How long the kill switch waits for the runner to stop the chain.
    stop_timeout_s: float = 20.0
    # How long a launch waits for the new chain to reach the registry.
    launch_timeout_s: float = 20.0
    # Where the chain registry lives (None: $BATON_STATE_HOME, as chains.py).
    registry_home: Path | None = None
    # A note body larger than this (UTF-8 bytes) is shown cut, with a link to the whole note as text:
    # rendering markdown costs ~2 s and ~80 MB per MB of note.
    max_body_bytes: int = 256 * 1024


def cut_body(body: str, limit: int) -> tuple[str, bool]:
    """The body's first `limit` UTF-8 bytes, ended at a paragraph or line break when one is near."""
    if len(body) <= limit // 4:  # at most 4 bytes a character: certainly short enough
        return body, False
    raw = body.encode("utf-8")
    if len(raw) <= limit:
        return body, False
    head = raw[:limit].decode("utf-8", "ignore")
    for mark in ("\n\n", "\n"):
        cut = head.rfind(mark)
        if cut >= len(head) // 2:
            return head[: cut + 1], True
    return head, True


@dataclass
class Project:
    name: str
    root: Path
    view: StoreView

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


def project_names(roots: Iterable[Path]) -> list[str]:
    """A short, unique, URL-safe name per project: its folder name, numbered when two clash."""
    names: list[str] = []
    for root in roots:
        base = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in root.name).strip(".-") or "project"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def _redacted(value: str | None) -> str | None:
    return redact.redact(value) if value else value


def session_row(project: Project, note: NoteView, chained: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One session for a list. `chained` is the registry's record of it when a chain ran it: the note
    of a chain session may carry no cost, and only the registry knows that it failed."""
    meta = note.meta
    cost = number_or_none(meta.get("cost_usd"))
    if cost is None and chained is not None:
        cost = number_or_none(chained.get("cost_usd"))
    chain_status = chained.get("status") if chained else None
    return {
        "project": project.name,
        "id": note.external_id,
        "path": note.relpath,
        "title": _redacted(text_or_none(meta.get("title"))),
        "operator": text_or_none(meta.get("operator")),
        "date": note.date or None,
        "status": text_or_none(meta.get("status")),
        "outcome": text_or_none(meta.get("outcome")),
        "workstream": text_or_none(meta.get("workstream")),
        "summary": _redacted(text_or_none(meta.get("summary"))),
        "model": text_or_none(meta.get("model")),
        "cost_usd": cost,
        "chain_id": text_or_none(meta.get("chain_id")) or (chained.get("chain") if chained else None),
        "chain_status": chain_status,
        "failed": meta.get("outcome") in insights.FAILED_OUTCOMES or chain_status == "failed",
        "tool_calls": int(number_or_none(meta.get("tool_calls_count")) or 0),
        "failures": insights.failure_total(meta),
        "synthetic": meta.get("synthetic") is True,
        "error": note.error,
    }
