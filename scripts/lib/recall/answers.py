"""The answers of baton's MCP tools, as compact text within a token budget.

Every answer is built from the store index (refreshed by stat first, so it matches the
working tree) and is cut to a token budget: items are added whole until the next would
not fit, and a last line says what was left out and how to ask for it. Tokens are
estimated at four characters each, the usual rule for English text.

The layers follow what a model needs: `search_notes` gives compact hits (id, kind,
title, date, operator, a one-line snippet: at most about 100 tokens each); `get_note`
gives the sections asked for; `decisions` the decisions sections that match a query.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lib.core.errors import BatonError
from lib.core.paths import KINDS
from lib.store import fulltext, markdown
from lib.store.index import Index
from lib.store.queries import IndexedNote
from lib.store.rows import split

CHARS_PER_TOKEN = 4
DEFAULT_BUDGET = 2000
MAX_BUDGET = 20_000
HIT_TOKENS = 100
CLOSED_WORKSTREAM_STATUSES = ("done", "superseded", "archived")


class Budget:
    """Lines of an answer, up to a number of (estimated) tokens."""

    def __init__(self, tokens: int) -> None:
        self.limit = max(50, min(int(tokens), MAX_BUDGET)) * CHARS_PER_TOKEN
        self.used = 0
        self.lines: list[str] = []

    def add(self, text: str) -> bool:
        """Add a block of text if it fits; False (and nothing added) when it does not."""
        cost = len(text) + 1
        if self.used + cost > self.limit:
            return False
        self.lines.append(text)
        self.used += cost
        return True

    def text(self, cut: str | None = None) -> str:
        lines = list(self.lines)
        if cut:
            lines.append(f"[cut: {cut}]")
        return "\n".join(lines)


def tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _shorten(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _head(note: IndexedNote) -> str:
    bits = [note.id, note.kind or "?", note.date or "-", note.operator or "-"]
    return " | ".join(bits) + f" | {_shorten(note.title or '', 120)}"


def search_notes(index: Index, query: str, *, kind: str | None = None, operator: str | None = None,
                 workstream: str | None = None, since: str | None = None, limit: int = 10,
                 budget: int = DEFAULT_BUDGET) -> str:
    """Compact hits, best first: `id | kind | date | operator | title` and a one-line snippet."""
    _check_kind(kind)
    hits = fulltext.search(index, query, kind=kind, operator=operator, workstream=workstream, since=since,
                           limit=max(1, min(limit, 50)))
    if not hits:
        return f"no notes match {query!r}"
    out = Budget(budget)
    out.add(f"{len(hits)} notes match {query!r}, best first (get_note ID for more):")
    shown = 0
    for hit in hits:
        line = _head(hit.note)
        snippet = _shorten(hit.plain_snippet("**", "**"), HIT_TOKENS * CHARS_PER_TOKEN - len(line) - 8)
        if not out.add(f"- {line}\n  {snippet}" if snippet else f"- {line}"):
            break
        shown += 1
    cut = None if shown == len(hits) else f"{len(hits) - shown} more hits; raise budget or narrow the query"
    return out.text(cut)


def get_note(index: Index, note_id: str, *, sections: Sequence[str] | None = None,
             budget: int = DEFAULT_BUDGET * 2) -> str:
    """A note's key fields and body sections (all, or those named: matched case-insensitively)."""
    note = find(index, note_id)
    if note is None:
        raise BatonError(f"no note with id {note_id!r} (search_notes finds ids)")
    every = _read_sections(index.root, note.path)
    wanted = [markdown.heading_key(s) for s in sections or () if s.strip()]
    chosen = [(name, text) for name, text in every.items()
              if not wanted or any(markdown.heading_key(name).startswith(w) for w in wanted)]
    out = Budget(budget)
    out.add(f"{_head(note)}\npath: {note.path}")
    facts = [f"{k}: {v}" for k, v in (("status", note.status), ("outcome", note.outcome),
                                       ("workstream", note.workstream), ("confidence", note.confidence)) if v]
    if facts:
        out.add(" | ".join(facts))
    if note.summary:
        out.add(f"summary: {_shorten(note.summary, 600)}")
    missing: list[str] = []
    for name, text in chosen:
        block = f"\n## {name}\n{text}"
        if out.add(block):
            continue
        room = out.limit - out.used - len(name) - 40
        if room > 200:  # a long section: its beginning
            out.add(f"\n## {name}\n{text[:room].rstrip()}…")
            missing.append(f"the rest of {name!r}")
        else:
            missing.append(repr(name))
    if wanted and not chosen:
        names = ", ".join(every) or "none"
        out.add(f"(no section named {', '.join(sections or ())}; this note has: {names})")
    cut = None
    if missing:
        cut = f"{', '.join(missing)} not shown; ask get_note with sections=[...] or a larger budget"
    return out.text(cut)


def recent_sessions(index: Index, *, operator: str | None = None, limit: int = 10,
                    budget: int = DEFAULT_BUDGET) -> str:
    """The newest written sessions (an operator's or the team's), one line each with its summary."""
    notes = index.notes("session", operator=operator, not_status=("claimed",), limit=max(1, min(limit, 100)))
    if not notes:
        return f"no sessions by {operator}" if operator else "no sessions yet"
    out = Budget(budget)
    out.add(f"{len(notes)} newest sessions{' by ' + operator if operator else ''}:")
    shown = 0
    for note in notes:
        extra = " | ".join(x for x in (note.outcome, note.workstream) if x)
        line = f"- {_head(note)}" + (f" | {extra}" if extra else "")
        if note.summary:
            line += f"\n  {_shorten(note.summary, 240)}"
        if not out.add(line):
            break
        shown += 1
    return out.text(None if shown == len(notes) else f"{len(notes) - shown} more sessions; raise budget")


def list_workstreams(index: Index, *, include_closed: bool = False, budget: int = DEFAULT_BUDGET) -> str:
    """Workstreams (live ones unless `include_closed`): slug, status, owner, title, last session."""
    streams = index.notes("workstream", order="path")
    if not include_closed:
        streams = [n for n in streams if n.status not in CLOSED_WORKSTREAM_STATUSES]
    if not streams:
        return "no workstreams"
    activity = index.latest_by("workstream")
    out = Budget(budget)
    out.add(f"{len(streams)} workstreams (slug | status | owner | title | last session):")
    shown = 0
    for note in streams:
        last = activity.get(note.id)
        line = (f"- {note.id} | {note.status or '-'} | {note.operator or '-'} | {_shorten(note.title or '', 100)}"
                f" | {f'{last.id} ({last.date})' if last else '-'}")
        if not out.add(line):
            break
        shown += 1
    return out.text(None if shown == len(streams) else f"{len(streams) - shown} more workstreams; raise budget")


def decisions(index: Index, query: str, *, limit: int = 10, budget: int = DEFAULT_BUDGET) -> str:
    """The decisions sections that match a query, best first, matches between ** and **."""
    hits = fulltext.search(index, query, columns=("decisions",), limit=max(1, min(limit, 50)))
    if not hits:
        return f"no decisions match {query!r}"
    out = Budget(budget)
    out.add(f"{len(hits)} notes decided something matching {query!r}, best first:")
    shown = 0
    for hit in hits:
        text = fulltext.column_text(index, hit.note.path, "decisions", query)
        text = text.replace(fulltext.MARK_START, "**").replace(fulltext.MARK_END, "**").strip()
        block = f"\n{_head(hit.note)}\n{text}"
        if not out.add(block):
            if shown == 0:  # at least the start of the best one
                out.add(block[: out.limit - out.used - 80].rstrip() + "…")
            break
        shown += 1
    return out.text(None if shown == len(hits) else f"{len(hits) - shown} more notes; raise budget")


def find(index: Index, note_id: str) -> IndexedNote | None:
    """A note by its id (external id or file name without .md) or its path."""
    text = note_id.strip()
    if not text or len(text) > 300:
        return None
    if text.endswith(".md") and "/" in text:
        return index.note(text, with_metadata=False)
    rows = index.select("SELECT path FROM notes WHERE external_id = ? ORDER BY kind LIMIT 1", (text,))
    if not rows:
        rows = index.select("SELECT path FROM notes WHERE path LIKE ? ESCAPE '\\' ORDER BY kind LIMIT 1",
                            ("%/" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".md",))
    return index.note(rows[0][0], with_metadata=False) if rows else None


def _read_sections(root: Path, rel: str) -> dict[str, str]:
    """The body sections of the note at `rel`, read now from the working tree (never through a symlink)."""
    try:
        fd = os.open(root / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise BatonError(f"{rel}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read()
    try:
        _, body = split(raw.decode("utf-8"), rel)
    except (UnicodeDecodeError, BatonError) as exc:
        raise BatonError(f"{rel}: cannot read ({exc})") from None
    lines = body.splitlines()
    found: dict[str, str] = {}
    seen: set[str] = set()
    for section in markdown.find_sections(lines):  # headings as written; the first of a repeated one wins
        if section.key not in seen:
            seen.add(section.key)
            text = markdown.section_text(lines, section)
            if text:
                found[section.heading] = text
    return found


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise BatonError(f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")
