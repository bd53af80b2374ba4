"""The sync's audit log, docs/sync/LAST_SYNC.md: what the last `--apply` run did, note by note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lib.core import atomic
from lib.notion.sync import AUDIT_LOG, SyncReport


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_audit(report: SyncReport) -> str:
    counts = report.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no notes"
    lines = [
        "# Last Notion sync",
        "",
        "Written by `scripts/sync_to_notion_oneshot.py --apply`; the repository is the source of truth and Notion",
        "a read-only mirror of it.",
        "",
        f"- When: {report.started_at}",
        f"- Who: {report.who}",
        f"- Mode: {report.mode}",
        f"- Duration: {report.duration_s:.1f} s",
        f"- Notes: {summary}",
        f"- Requests: {report.requests} ({report.writes} writes, {report.retries} retries, "
        f"{report.rate_limited} rate-limited, {report.waited_s:.1f} s waited; limit {report.rate_per_s:g}/s)",
    ]
    if report.aborted:
        lines.append(f"- Stopped early: {report.aborted}")
    lines += ["", "| Note | Action | Outcome | Notion page | Requests | Detail |", "|---|---|---|---|---|---|"]
    for o in report.outcomes:
        lines.append(f"| {_cell(o.rel)} | {o.action} | {o.outcome} | {o.page_id or ''} | {o.requests} | "
                     f"{_cell(o.detail)} |")
    return "\n".join(lines) + "\n"


def write_audit(root: Path, report: SyncReport, redact: Callable[[str], str]) -> Path:
    path = root / AUDIT_LOG
    atomic.write_text(path, redact(render_audit(report)))
    return path
