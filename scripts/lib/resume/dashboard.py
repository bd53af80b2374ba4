"""Where an operator left off: last session, workstreams, peers' activity, stale claims, from the index.

Used by `scripts/resume_helpers.py` (the `/resume` dashboard) and the SessionStart
hook. Everything here reads the store index (lib.store.index); nothing writes notes.
Imports stay light (standard library and lib.store.index; lib.store.fulltext when there is a
workstream to find related notes for) because the hook loads this.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR
from lib.store.index import Index, IndexedNote

CACHE_FILE = "resume-cache.json"
CACHE_VERSION = 1
PAYLOAD_VERSION = 1
# Workstreams in these states are finished; every other state (or none) is live work.
CLOSED_WORKSTREAM_STATUSES = frozenset({"done", "superseded", "archived"})
DEFAULT_PEER_DAYS = 7
DEFAULT_STALE_HOURS = 24.0
DEFAULT_MAX_ITEMS = 20
RELATED_NOTES = 3


class OperatorRef(NamedTuple):
    slug: str
    initials: str | None = None
    name: str | None = None
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "initials": self.initials, "name": self.name, "source": self.source}


def resolve_operator(root: Path, explicit: str | None = None,
                     env: Mapping[str, str] | None = None) -> OperatorRef | None:
    """Who is asking. `explicit` (--operator: a slug or initials) wins; else lib.store.operators' chain
    ($OPERATOR -> $CLAUDE_USER_EMAIL -> git config user.email, docs/conventions/operators.md).

    Without `.claude/operators.yaml` only a name given outright (--operator, $OPERATOR) can
    say who it is, and a slug is taken as it is; otherwise None (the team view). Raises
    BatonError when a source names nobody (lib.store.operators' messages, with the entry to add).
    """
    from lib.store import operators

    env = os.environ if env is None else env
    has_roster = (root / operators.OPERATORS_PATH).exists()
    if explicit is not None and explicit.strip():
        return _named(root, explicit.strip(), "--operator", has_roster)
    if not has_roster:
        token = env.get("OPERATOR", "").strip()
        return _named(root, token, operators.SOURCE_OPERATOR_ENV, False) if token else None
    found = operators.resolve(root, env=env)
    op = found.operator
    return OperatorRef(op.slug, op.initials, op.name, found.source)


def _named(root: Path, value: str, source: str, has_roster: bool) -> OperatorRef:
    """An operator named outright: through the roster when there is one, else a slug as it is."""
    from lib.store import operators

    if not (operators.is_slug(value.lower()) or operators.is_initials(value.upper())):
        raise BatonError(f"{source}: {value!r} is neither an operator slug nor initials")
    if has_roster:
        op = operators.load(root).by_name(value)
        if op is not None:
            return OperatorRef(op.slug, op.initials, op.name, source)
    # Not (or no longer) in operators.yaml: the sessions may still be there under this slug.
    return OperatorRef(value.lower(), None, None, source)


# ---------------------------------------------------------------- queries

def sessions(index: Index, operator: str | None = None, limit: int | None = None) -> list[IndexedNote]:
    """Written sessions (claim stubs skipped), newest first by date then sequence; both naming schemes."""
    return index.notes("session", operator=operator, not_status="claimed", limit=limit)


def no_sessions_message(operator: str | None) -> str:
    return f"no prior sessions for {operator}" if operator else "no prior sessions in this store"


def last_session(index: Index, operator: str | None) -> dict[str, Any] | None:
    found = sessions(index, operator, limit=1)
    if not found:
        return None
    note = found[0]
    sections = index.sections(note.path)
    out = note.as_dict()
    out["summary_section"] = sections.get("Summary")
    out["resume_prompt"] = sections.get("Resume Prompt")
    out["open_questions"] = sections.get("Open questions")
    out["next_steps"] = sections.get("Next steps")
    return out


def related_notes(index: Index, last: Mapping[str, Any] | None, limit: int = RELATED_NOTES) -> list[dict[str, Any]]:
    """Up to `limit` notes about the workstream the last session belongs to (its title and slug, by full
    text), best first; the workstream's own note and sessions are left out (the dashboard shows them)."""
    slug = last.get("workstream") if last else None
    if not slug or not last:
        return []
    from lib.store import fulltext  # only this part of the dashboard searches

    rows = index.select("SELECT path, title FROM notes WHERE kind = 'workstream' AND external_id = ?", (slug,))
    words = " ".join(str(x) for x in (slug, rows[0][1] if rows else None, last.get("title")) if x)
    exclude = [last["path"], *(r[0] for r in rows)]
    try:
        hits = fulltext.search_related(index, words, workstream=slug, exclude=exclude, limit=limit)
    except fulltext.QueryError:
        return []
    return [{"id": h.note.id, "kind": h.note.kind, "title": h.note.title, "date": h.note.date,
             "operator": h.note.operator, "path": h.note.path, "snippet": h.plain_snippet()} for h in hits]


def _workstream_entry(note: IndexedNote, activity: IndexedNote | None, index: Index, with_next: bool) -> dict[str, Any]:
    last = note.date
    entry: dict[str, Any] = {
        "slug": note.id, "path": note.path, "title": note.title, "owner": note.operator,
        "status": note.status or "active", "summary": note.summary,
        "last_activity": last, "last_session": None,
    }
    if activity is not None:
        entry["last_session"] = {"id": activity.id, "date": activity.date, "operator": activity.operator,
                                 "title": activity.title, "outcome": activity.outcome}
        if activity.date and (last is None or activity.date > last):
            entry["last_activity"] = activity.date
    if with_next:
        entry["whats_next"] = index.sections(note.path).get("What's Next")
    return entry


def partition_workstreams(index: Index, operator: str | None) -> dict[str, list[dict[str, Any]]]:
    """Live workstreams split by owner: mine / peers' / unowned, each most recently active first."""
    activity = index.latest_by("workstream")
    out: dict[str, list[dict[str, Any]]] = {"mine": [], "peers": [], "unowned": []}
    for note in index.notes("workstream", order="path"):
        if (note.status or "active") in CLOSED_WORKSTREAM_STATUSES:
            continue
        if not note.operator:
            group = "unowned"
        elif operator is not None and note.operator == operator:
            group = "mine"
        else:
            group = "peers"
        out[group].append(_workstream_entry(note, activity.get(note.id), index, group == "mine"))
    for entries in out.values():
        entries.sort(key=lambda e: (e["last_activity"] or "", e["slug"]), reverse=True)
    return out


def peers(index: Index, operator: str | None, days: int, today: dt.date,
          limit: int = 10) -> dict[str, Any]:
    """Other operators' recent sessions: per operator a count within `days` and their last session."""
    since = (today - dt.timedelta(days=days)).isoformat()
    counts = index.counts_by_operator(since=since)
    latest = index.latest_by("operator")
    operators: list[dict[str, Any]] = []
    for slug, note in latest.items():
        if slug == operator:
            continue
        operators.append({
            "operator": slug, "sessions_in_window": counts.get(slug, 0),
            "last_session": {"id": note.id, "date": note.date, "title": note.title, "outcome": note.outcome,
                             "workstream": note.workstream, "path": note.path},
        })
    operators.sort(key=lambda o: (o["last_session"]["date"] or "", o["operator"]), reverse=True)
    recent = [n.as_dict() for n in index.notes("session", not_operator=operator, not_status="claimed",
                                               since=since, limit=limit)]
    if operator is None:
        recent = [r for r in recent if r["operator"]]
    else:
        recent = [r for r in recent if r["operator"] and r["operator"] != operator]
    return {"days": days, "since": since, "operators": operators, "recent": recent}


def stale_claims(index: Index, now: dt.datetime, hours: float) -> list[dict[str, Any]]:
    """Claim stubs older than `hours` (never turned into a note): safe to remove or reuse."""
    out = []
    for note in index.notes("session", status="claimed"):
        claimed = _parse_time(note.claimed_at)
        if claimed is None or (now - claimed).total_seconds() >= hours * 3600:
            age = None if claimed is None else round((now - claimed).total_seconds() / 3600, 1)
            out.append({"id": note.id, "path": note.path, "operator": note.operator,
                        "claimed_at": note.claimed_at, "age_hours": age})
    return out


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def dashboard(index: Index, operator: OperatorRef | None, *, today: dt.date, now: dt.datetime,
              days: int = DEFAULT_PEER_DAYS, stale_hours: float = DEFAULT_STALE_HOURS,
              max_items: int | None = DEFAULT_MAX_ITEMS) -> dict[str, Any]:
    """Everything `/resume` shows, as one JSON-ready mapping (refresh the index first).

    Lists hold at most `max_items` entries (None: all); `totals` gives their full lengths.
    """
    slug = operator.slug if operator else None
    last = last_session(index, slug)
    problems, files = index.problem_count()
    workstreams = partition_workstreams(index, slug)
    peer_data = peers(index, slug, days, today, limit=max_items or 1_000_000)
    claims = stale_claims(index, now, stale_hours)
    totals = {f"workstreams_{k}": len(v) for k, v in workstreams.items()}
    totals["stale_claims"] = len(claims)
    if max_items is not None:
        workstreams = {k: v[:max_items] for k, v in workstreams.items()}
        claims = claims[:max_items]
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "operator": operator.as_dict() if operator else None,
        "view": "operator" if operator else "team",
        "today": today.isoformat(),
        "last_session": last,
        "related": related_notes(index, last),
        "message": None if last else no_sessions_message(slug),
        "workstreams": workstreams,
        "peers": peer_data,
        "stale_claims": claims,
        "totals": totals,
        "validation": {"problems": problems, "files": files, "notes": index.count()},
        "counts": {kind: index.count(kind) for kind in ("session", "workstream", "plan", "adr", "learning")},
    }
    return payload


# ---------------------------------------------------------------- resume cache

def cache_path(root: Path) -> Path:
    return root / STATE_DIR / CACHE_FILE


def cache_key(operator: OperatorRef | None) -> str:
    return operator.slug if operator else "*team*"


def write_cache(root: Path, operator: OperatorRef | None, fingerprint: str, payload: dict[str, Any]) -> Path:
    """Store a dashboard payload for `operator`, tagged with the index fingerprint it was built from."""
    from lib.core import atomic

    path = cache_path(root)
    with atomic.locked(path.with_name(CACHE_FILE + ".lock")):
        entries = _read_entries(path)
        entries[cache_key(operator)] = {
            "fingerprint": fingerprint, "today": payload.get("today"),
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "payload": payload,
        }
        data = {"version": CACHE_VERSION, "entries": entries}
        atomic.write_text(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return path


def read_cache(root: Path, operator: OperatorRef | None, fingerprint: str,
               today: dt.date) -> tuple[dict[str, Any] | None, str]:
    """(payload, "") when the cache is fresh for this store state and day, else (None, why not)."""
    entry = _read_entries(cache_path(root)).get(cache_key(operator))
    if not isinstance(entry, dict) or not isinstance(entry.get("payload"), dict):
        return None, f"no resume cache for {cache_key(operator)}"
    if entry.get("fingerprint") != fingerprint:
        return None, "the store changed since the cache was written"
    if entry.get("today") != today.isoformat():
        return None, "the cache was written on another day"
    payload: dict[str, Any] = entry["payload"]
    return payload, ""


def _read_entries(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {}
    entries: dict[str, Any] = data["entries"]
    return entries
