"""What the console shows, as plain data: the API returns it as JSON and the pages render it.

Every read goes through the library: notes through the store view (`lib.store.frontmatter`), chains
through the chain registry (`lib.chains.registry`), live sessions through `lib.telemetry.state`, the
decision log through `lib.failures.decisions`, figures through `lib.failures.insights`. Stopping a chain calls
`lib.chains.runner.request_stop`, the function behind `chains.py stop`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lib.console.storeview import Note, StoreView
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR
from lib.failures import decisions as decision_log
from lib.failures import insights
from lib.telemetry import state as hookstate

TOKEN_FILE = "serve.token"
SESSION_STATUSES = ("claimed", "written")
SESSION_OUTCOMES = ("done", "incomplete", "blocked")
CHAIN_STATUSES = ("running", "done", "max_sessions", "failed", "budget_exhausted", "circuit_open", "stopped")
MAX_LIMIT = 500


class NotFound(BatonError):
    """An id that names nothing (HTTP 404)."""


class BadRequest(BatonError):
    """A parameter the console cannot use (HTTP 400)."""


class Conflict(BatonError):
    """A request that does not fit the current state, such as stopping a finished chain (HTTP 409)."""


class Unavailable(BatonError):
    """Something the request needs is missing or did not answer in time (HTTP 503)."""


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
    # Where the chain registry lives (None: $BATON_STATE_HOME, as chains.py).
    registry_home: Path | None = None
    # A note body larger than this (UTF-8 bytes) is shown cut, with a link to the whole note as text:
    # rendering markdown costs ~2 s and ~80 MB per MB of note.
    max_body_bytes: int = 256 * 1024


# Bad input is quoted in error text up to this many characters; the rest is counted, not echoed.
QUOTE_LIMIT = 100


def quote_input(value: object, limit: int = QUOTE_LIMIT) -> str:
    """repr() of untrusted input for an error message, at most `limit` characters of it."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def clip_input(value: str, limit: int = QUOTE_LIMIT) -> str:
    """Untrusted input shown as is (an id in a path), at most `limit` characters of it."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


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


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: {quote_input(value)} is not a date (YYYY-MM-DD)") from None


def _parse_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}: {quote_input(value)} is not a whole number") from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name}: {clip_input(value)} is out of range ({lo}-{hi})")
    return number


def _choice(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    if value is None or value == "":
        return None
    options = tuple(allowed)
    if value not in options:
        raise BadRequest(f"{name}: {quote_input(value)} is not one of {', '.join(options)}")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


@dataclass
class SessionQuery:
    project: str | None = None
    operator: str | None = None
    workstream: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    status: str | None = None
    outcome: str | None = None
    chain: str | None = None
    limit: int = 50
    offset: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SessionQuery:
        query = cls(
            project=_text(params.get("project")),
            operator=_text(params.get("operator")),
            workstream=_text(params.get("workstream")),
            since=_parse_date(params.get("since"), "since"),
            until=_parse_date(params.get("until"), "until"),
            status=_choice(params.get("status"), "status", SESSION_STATUSES),
            outcome=_choice(params.get("outcome"), "outcome", SESSION_OUTCOMES),
            chain=_text(params.get("chain")),
            limit=_parse_int(params.get("limit"), "limit", 50, 1, MAX_LIMIT),
            offset=_parse_int(params.get("offset"), "offset", 0, 0, 10_000_000),
        )
        if query.since and query.until and query.since > query.until:
            raise BadRequest(f"since {query.since} is after until {query.until}")
        return query

    def matches(self, note: Note) -> bool:
        return bool(self.filter([note]))

    def filter(self, notes: list[Note]) -> list[Note]:
        """The notes that match, in their order. `notes` newest first (by day), as the store view gives them."""
        if self.since is not None or self.until is not None:
            low = self.since.isoformat() if self.since else ""
            high = self.until.isoformat() if self.until else "~"
            # Newest first by day: the range is one run of the list; notes without a day come last.
            lo = _first(notes, lambda n: n.date <= high)
            hi = _first(notes, lambda n: n.date < low or not n.date, start=lo)
            notes = notes[lo:hi]
        if self.status is not None:
            notes = [n for n in notes if n.meta.get("status") == self.status]
        else:
            # A claim stub is "no session yet" to every reader unless asked for.
            notes = [n for n in notes if n.meta.get("status") != "claimed"]
        for key, value in (("operator", self.operator), ("workstream", self.workstream), ("outcome", self.outcome),
                           ("chain_id", self.chain)):
            if value is not None:
                notes = [n for n in notes if n.meta.get(key) == value]
        return notes


def _first(notes: list[Note], test: Callable[[Note], bool], start: int = 0) -> int:
    """The index of the first note from `start` that passes `test` (len when none): a bisection, as
    `test` turns true once and stays true along the list."""
    lo, hi = start, len(notes)
    while lo < hi:
        mid = (lo + hi) // 2
        if test(notes[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo


def session_row(project: Project, note: Note) -> dict[str, Any]:
    meta = note.meta
    return {
        "project": project.name,
        "id": note.external_id,
        "path": note.relpath,
        "title": _text(meta.get("title")),
        "operator": _text(meta.get("operator")),
        "date": note.date or None,
        "status": _text(meta.get("status")),
        "outcome": _text(meta.get("outcome")),
        "workstream": _text(meta.get("workstream")),
        "summary": _text(meta.get("summary")),
        "model": _text(meta.get("model")),
        "cost_usd": _number(meta.get("cost_usd")),
        "chain_id": _text(meta.get("chain_id")),
        "tool_calls": int(_number(meta.get("tool_calls_count")) or 0),
        "failures": insights.failure_total(meta),
        "synthetic": meta.get("synthetic") is True,
        "error": note.error,
    }


class Console:
    """The console's data: several projects, one chain registry, this machine's live state."""

    def __init__(self, roots: Iterable[Path], settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        root_list = [Path(r).resolve() for r in roots]
        if not root_list:
            raise BadRequest("no project to serve")
        self.projects = [
            Project(name, root, StoreView(root, full_scan_s=self.settings.full_scan_s))
            for name, root in zip(project_names(root_list), root_list, strict=True)
        ]
        self._by_name = {p.name: p for p in self.projects}
        self._by_root = {os.path.realpath(p.root): p for p in self.projects}
        self._cache_lock = threading.Lock()
        self._insights_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._session_cache: dict[tuple[Any, ...], list[tuple[Project, Note]]] = {}

    # -- projects ----------------------------------------------------------------

    def warm(self) -> int:
        """Bring every project's store index up to date now (before the server's threads start, so a cold
        store is parsed in parallel); the number of notes."""
        from lib.console.storeview import warm

        return sum(warm(project.root) for project in self.projects)

    def close(self) -> None:
        """Let go of the store indexes (their connections and threads)."""
        for project in self.projects:
            project.view.close()

    def project(self, name: str | None) -> Project:
        if name is None:
            return self.projects[0]
        found = self._by_name.get(name)
        if found is None:
            raise NotFound(f"no project {quote_input(name)} (served: {', '.join(self._by_name)})")
        return found

    def selected(self, name: str | None) -> list[Project]:
        """One project when named, else all of them."""
        return [self.project(name)] if name else list(self.projects)

    def project_of_dir(self, project_dir: str | None) -> Project | None:
        if not project_dir:
            return None
        return self._by_root.get(os.path.realpath(project_dir))

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "projects": [{"name": p.name, "root": str(p.root)} for p in self.projects],
            "chains_available": chains_available(),
            "poll_interval_s": self.settings.poll_interval_s,
        }

    # -- sessions ----------------------------------------------------------------

    def sessions(self, query: SessionQuery) -> dict[str, Any]:
        projects = self.selected(query.project)
        notes = [(project, project.view.notes("session")) for project in projects]
        # The filtered list is kept per store generation, so paging through it costs a slice.
        key = (tuple((p.name, p.view.generation) for p in projects), query.operator, query.workstream,
               query.since, query.until, query.status, query.outcome, query.chain)
        with self._cache_lock:
            matched = self._session_cache.get(key)
        if matched is None:
            matched = []
            for project, found in notes:
                matched.extend((project, n) for n in query.filter(found))
            if len(projects) > 1:
                matched.sort(key=lambda pn: pn[1].sort_key(), reverse=True)
            with self._cache_lock:
                if len(self._session_cache) > 32:
                    self._session_cache.clear()
                self._session_cache[key] = matched
        page = matched[query.offset: query.offset + query.limit]
        end = query.offset + len(page)
        return {
            "total": len(matched),
            "offset": query.offset,
            "limit": query.limit,
            "next_offset": end if end < len(matched) else None,
            "sessions": [session_row(p, n) for p, n in page],
        }

    def find_session(self, session_id: str, project: str | None = None) -> tuple[Project, Note]:
        for proj in self.selected(project):
            note = proj.view.get("session", session_id)
            if note is not None:
                return proj, note
        raise NotFound(f"no session {clip_input(session_id)}")

    def session(self, session_id: str, project: str | None = None,
                render: Callable[[str], str] | None = None) -> dict[str, Any]:
        proj, note = self.find_session(session_id, project)
        try:
            body = proj.view.body(note)
        except BatonError as exc:
            body = ""
            note = dataclasses.replace(note, error=note.error or str(exc))
        out = session_row(proj, note)
        out["frontmatter"] = note.meta
        shown, cut = cut_body(body, self.settings.max_body_bytes)
        out["body_markdown"] = shown
        out["body_html"] = render(shown) if render else None
        out["body_truncated"] = cut
        out["body_bytes"] = len(body.encode("utf-8")) if cut else len(shown.encode("utf-8"))
        out["raw_url"] = f"/sessions/{quote(note.external_id, safe='')}/raw?project={quote(proj.name, safe='')}"
        return out

    def session_file(self, session_id: str, project: str | None = None) -> Path:
        """The note's file, for the raw view: inside its project, and not a symlink."""
        proj, note = self.find_session(session_id, project)
        path = proj.root / note.relpath
        if path.is_symlink() or not path.resolve().is_relative_to(proj.root.resolve()):
            raise NotFound(f"no session {clip_input(session_id)} (its file is a symlink)")
        return path

    # -- workstreams and operators -----------------------------------------------

    def workstreams(self, *, project: str | None = None, owner: str | None = None,
                    status: str | None = None) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for proj in self.selected(project):
            activity = _last_activity(proj.view.notes("session"))
            for note in proj.view.notes("workstream"):
                meta = note.meta
                if owner is not None and meta.get("owner") != owner:
                    continue
                if status is not None and meta.get("status") != status:
                    continue
                last = activity.get(note.external_id)
                rows.append({
                    "project": proj.name,
                    "id": note.external_id,
                    "path": note.relpath,
                    "title": _text(meta.get("title")),
                    "owner": _text(meta.get("owner")),
                    "status": _text(meta.get("status")),
                    "priority": meta.get("priority") if isinstance(meta.get("priority"), str) else None,
                    "summary": _text(meta.get("summary")),
                    "updated": _text(meta.get("updated")),
                    "sessions": last[2] if last else 0,
                    "last_session": last[1] if last else None,
                    "last_activity": last[0] if last else None,
                    "error": note.error,
                })
        rows.sort(key=lambda r: (r["owner"] or "~", r["last_activity"] or "", r["id"]))
        owners: dict[str, list[str]] = {}
        for row in rows:
            owners.setdefault(row["owner"] or "(unowned)", []).append(row["id"])
        return {"workstreams": rows, "owners": owners}

    def operators(self, project: str | None = None) -> dict[str, Any]:
        people: dict[str, dict[str, Any]] = {}
        for proj in self.selected(project):
            for op in _roster(proj.root):
                entry = people.setdefault(op["slug"], _operator_entry(op["slug"]))
                entry.update(name=op.get("name"), initials=op.get("initials"), in_roster=True)
                if proj.name not in entry["projects"]:
                    entry["projects"].append(proj.name)
            for note in proj.view.notes("session"):
                meta = note.meta
                slug = meta.get("operator")
                if not isinstance(slug, str) or not slug or meta.get("status") == "claimed":
                    continue
                entry = people.setdefault(slug, _operator_entry(slug))
                if proj.name not in entry["projects"]:
                    entry["projects"].append(proj.name)
                entry["sessions"] += 1
                entry["cost_usd"] = round(entry["cost_usd"] + (_number(meta.get("cost_usd")) or 0.0), 6)
                day = note.date
                if day and (entry["last_session_date"] is None or day > entry["last_session_date"]):
                    entry["last_session_date"] = day
                    entry["last_session"] = note.external_id
        rows = sorted(people.values(), key=lambda e: (-e["sessions"], e["slug"]))
        return {"operators": rows}

    # -- chains ------------------------------------------------------------------

    def chains(self, *, project: str | None = None, status: str | None = None) -> dict[str, Any]:
        if not chains_available():
            return {"chains": [], "available": False}
        registry = open_registry(self.settings.registry_home)
        wanted = {p.name for p in self.selected(project)}
        rows = []
        for chain in reversed(registry.chains(archived=True)):
            proj = self.project_of_dir(chain.project_dir)
            if proj is None or proj.name not in wanted:
                continue
            if status is not None and chain.status != status:
                continue
            rows.append(chain_summary(proj, chain.to_dict(), alive=_alive(registry, chain)))
        return {"chains": rows, "available": True}

    def _chain_record(self, chain_id: str) -> tuple[Project, Any]:
        if not chains_available():
            raise NotFound(f"no chain {clip_input(chain_id)} (the chain runner is not installed)")
        from lib.chains import registry as reg

        if not reg.is_chain_id(chain_id):
            raise BadRequest(f"{quote_input(chain_id)} is not a chain id (YYYYMMDD-HHMMSS-xxxx)")
        chain = open_registry(self.settings.registry_home).get(chain_id)
        proj = self.project_of_dir(chain.project_dir) if chain is not None else None
        if chain is None or proj is None:
            # A chain of a project this console does not serve is not shown.
            raise NotFound(f"no chain {chain_id}")
        return proj, chain

    def chain(self, chain_id: str) -> dict[str, Any]:
        proj, record = self._chain_record(chain_id)
        registry = open_registry(self.settings.registry_home)
        data = record.to_dict()
        out = chain_summary(proj, data, alive=_alive(registry, record))
        out["mission_full"] = data.get("mission") or ""
        out["settings"] = data.get("settings") or {}
        out["totals"] = data.get("totals") or {}
        sessions = []
        for s in data.get("sessions") or []:
            note = proj.view.get("session", s.get("id") or "")
            handoff = s.get("handoff") or {}
            sessions.append({
                "id": s.get("id"),
                "index": s.get("index"),
                "status": s.get("status"),
                "started_at": s.get("started_at"),
                "ended_at": s.get("ended_at"),
                "cost_usd": _number(s.get("cost_usd")) or 0.0,
                "turns": s.get("turns") or 0,
                "model": s.get("model"),
                "result_subtype": s.get("result_subtype"),
                "reason": s.get("reason"),
                "error_kind": s.get("error_kind"),
                "failure_class": s.get("failure_class"),
                "error": s.get("error"),
                "attempts": len(s.get("attempts") or []),
                "handoff": {
                    "status": handoff.get("status"),
                    "path": handoff.get("path"),
                    "outcome": handoff.get("outcome"),
                    "problems": list(handoff.get("problems") or []),
                },
                "note": _note_brief(note),
            })
        out["sessions"] = sessions
        budget = _number((data.get("settings") or {}).get("budget_usd"))
        spent = out["cost_usd"]
        out["costs"] = {
            "total_usd": spent,
            "budget_usd": budget,
            "remaining_usd": round(max(budget - spent, 0.0), 6) if budget is not None else None,
            "per_session": [{"id": s["id"], "cost_usd": s["cost_usd"]} for s in sessions],
        }
        recorded = [_decision(d, "registry") for d in data.get("decisions") or [] if isinstance(d, Mapping)]
        # The runner writes each decision to the chain's record and to the decision log: a log line that
        # mirrors a recorded decision (same type and session, within two seconds) is not shown twice.
        seen = [(d["type"], d["session"], _epoch(d["at"]) or 0.0) for d in recorded]
        logged = []
        for entry in decision_log.read_decisions(root=proj.root):
            if entry.get("chain") != chain_id:
                continue
            item = _decision(entry, "log")
            at = _epoch(item["at"]) or 0.0
            if not any(t == item["type"] and s == item["session"] and abs(a - at) <= 2.0 for t, s, a in seen):
                logged.append(item)
        out["decisions"] = sorted(recorded + logged, key=lambda d: _epoch(d["at"]) or 0.0)
        out["failures"] = [
            {"session": s["id"], "failure_class": s["failure_class"], "reason": s["reason"],
             "error_kind": s["error_kind"], "error": s["error"]}
            for s in sessions if s["status"] == "failed" or s["failure_class"]
        ]
        return out

    def stop_chain(self, chain_id: str) -> dict[str, Any]:
        """Stop a chain exactly as `chains.py stop` does; the chain as it is afterwards."""
        proj, record = self._chain_record(chain_id)
        if record.status != "running":
            raise Conflict(f"chain {chain_id} is {record.status}: nothing to stop")
        from lib.chains import runner as chain_runner

        registry = open_registry(self.settings.registry_home)
        try:
            chain = chain_runner.request_stop(registry, chain_id, timeout_s=self.settings.stop_timeout_s)
        except BatonError as exc:
            raise Unavailable(str(exc)) from None
        return chain_summary(proj, chain.to_dict(), alive=_alive(registry, chain))

    # -- insights and live telemetry ---------------------------------------------

    def insights(self, *, project: str | None = None, since: dt.date | None = None,
                 until: dt.date | None = None, operator: str | None = None,
                 workstream: str | None = None) -> dict[str, Any]:
        projects = self.selected(project)
        for proj in projects:
            proj.view.refresh()
        chain_dicts = [c for c in self._chain_dicts() if {p.name for p in projects} & {c.get("_project")}]
        key = (tuple((p.name, p.view.generation) for p in projects), since, until, operator, workstream,
               _registry_stamp(self.settings.registry_home), tuple(_decisions_stamp(p) for p in projects))
        with self._cache_lock:
            cached = self._insights_cache.get(key)
        if cached is not None:
            return cached
        # Cut by day first (a string comparison) so a month's figures do not walk every note's fields.
        window = SessionQuery(since=since, until=until)
        metas = [n.meta for p in projects for n in window.filter(p.view.notes("session"))]
        records = [d for p in projects for d in decision_log.read_decisions(root=p.root)]
        result = insights.compute(
            metas, chains=chain_dicts, decisions=records,
            filters=insights.Filters(since=since, until=until, operator=operator, workstream=workstream),
        )
        result["projects"] = [p.name for p in projects]
        with self._cache_lock:
            if len(self._insights_cache) > 32:
                self._insights_cache.clear()
            self._insights_cache[key] = result
        return result

    def _chain_dicts(self) -> list[dict[str, Any]]:
        if not chains_available():
            return []
        out = []
        for chain in open_registry(self.settings.registry_home).chains(archived=True):
            proj = self.project_of_dir(chain.project_dir)
            if proj is not None:
                out.append({**chain.to_dict(), "_project": proj.name})
        return out

    def telemetry(self, *, project: str | None = None, include_ended: bool = False) -> dict[str, Any]:
        now = time.time()
        rows = []
        for proj in self.selected(project):
            for session_id, state in live_states(proj.state_dir):
                row = telemetry_row(proj, session_id, state, now, self.settings.stale_after_s)
                if include_ended or row["in_progress"]:
                    rows.append(row)
        rows.sort(key=lambda r: r["last_event_at"] or "", reverse=True)
        return {"sessions": rows, "stale_after_s": self.settings.stale_after_s}


# ------------------------------------------------------------------ helpers


def _operator_entry(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": None, "initials": None, "in_roster": False, "projects": [], "sessions": 0,
            "cost_usd": 0.0, "last_session": None, "last_session_date": None}


def _roster(root: Path) -> list[dict[str, Any]]:
    """operators.yaml through `lib.store.operators`; a missing or invalid roster reads as empty (the sessions
    still name their operators)."""
    from lib.store import operators

    try:
        roster = operators.load(root)
    except BatonError:
        return []
    return [{"slug": op.slug, "name": op.name, "initials": op.initials} for op in roster.operators]


def _last_activity(sessions: list[Note]) -> dict[str, tuple[str, str, int]]:
    """workstream -> (date of its newest session, that session's id, number of sessions)."""
    out: dict[str, tuple[str, str, int]] = {}
    for note in sessions:  # newest first
        ws = note.meta.get("workstream")
        if not isinstance(ws, str) or note.meta.get("status") == "claimed":
            continue
        if ws in out:
            day, sid, n = out[ws]
            out[ws] = (day, sid, n + 1)
        else:
            out[ws] = (note.date, note.external_id, 1)
    return out


def _note_brief(note: Note | None) -> dict[str, Any] | None:
    if note is None:
        return None
    return {"id": note.external_id, "path": note.relpath, "title": _text(note.meta.get("title")),
            "summary": _text(note.meta.get("summary")), "outcome": _text(note.meta.get("outcome")),
            "status": _text(note.meta.get("status")), "synthetic": note.meta.get("synthetic") is True}


def _decision(entry: Mapping[str, Any], source: str) -> dict[str, Any]:
    kind = entry.get("type") if source == "registry" else entry.get("kind")
    at = entry.get("at") if source == "registry" else entry.get("ts")
    skip = {"type", "kind", "at", "ts", "session", "session_id", "pid"}
    return {
        "at": at if isinstance(at, str) else None,
        "type": kind if isinstance(kind, str) else "unknown",
        "session": entry.get("session") or entry.get("session_id"),
        "source": source,
        "detail": {str(k): v for k, v in entry.items() if k not in skip},
    }


def chain_summary(project: Project, data: Mapping[str, Any], *, alive: bool | None = None) -> dict[str, Any]:
    sessions = [s for s in data.get("sessions") or [] if isinstance(s, Mapping)]
    settings = data.get("settings") or {}
    breaker = data.get("breaker") or {}
    running = [s for s in sessions if s.get("status") == "running"]
    cost = round(sum(_number(s.get("cost_usd")) or 0.0 for s in sessions), 6)
    budget = _number(settings.get("budget_usd"))
    max_sessions = settings.get("max_sessions")
    mission = str(data.get("mission") or "")
    return {
        "id": data.get("id"),
        "project": project.name,
        "project_dir": data.get("project_dir"),
        "status": data.get("status"),
        "mission": (mission.strip().splitlines() or [""])[0][:200],
        "operator": data.get("operator"),
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
        "ended_at": data.get("ended_at"),
        "end_reason": data.get("end_reason"),
        "sessions_count": len(sessions),
        "sessions_ok": sum(1 for s in sessions if s.get("status") == "ok"),
        "sessions_failed": sum(1 for s in sessions if s.get("status") == "failed"),
        "max_sessions": max_sessions if isinstance(max_sessions, int) else None,
        "cost_usd": cost,
        "budget_usd": budget,
        "current_session": running[-1].get("id") if running else None,
        "breaker": {
            "state": breaker.get("state") or "closed",
            "consecutive_failures": breaker.get("consecutive_failures") or 0,
            "opened_at": breaker.get("opened_at"),
        },
        "runner_alive": alive,
    }


def chains_available() -> bool:
    try:
        importlib.import_module("lib.chains.registry")
    except ImportError:
        return False
    return True


def open_registry(home: Path | None) -> Any:
    """The chain registry `chains.py` uses (home None: $BATON_STATE_HOME)."""
    from lib.chains.registry import Registry

    return Registry(home)


def _alive(registry: Any, chain: Any) -> bool | None:
    if chain.status != "running":
        return None
    from lib.chains import runner as chain_runner

    return bool(chain_runner.runner_alive(registry, chain))


def registry_paths(home: Path | None) -> list[Path]:
    """The registry files a watcher stats (the same files `Registry` reads)."""
    if not chains_available():
        return []
    registry = open_registry(home)
    return [registry.path, registry.archive_path]


def _registry_stamp(home: Path | None) -> tuple[int, ...]:
    stamp: list[int] = []
    for path in registry_paths(home):
        try:
            st = os.stat(path)
            stamp += [st.st_mtime_ns, st.st_size, st.st_ino]
        except OSError:
            stamp += [-1, -1, -1]
    return tuple(stamp)


def _decisions_stamp(project: Project) -> tuple[int, int]:
    try:
        st = os.stat(decision_log.decisions_path(project.root))
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def live_states(state_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(session id, normalised state) of every telemetry state file in a state folder."""
    out = []
    try:
        entries = list(os.scandir(state_dir))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith("session-") and name.endswith(".json")) or name.endswith(".usage.json"):
            continue
        session_id = name[len("session-"):-len(".json")]
        if not hookstate.is_valid_session_id(session_id):
            continue
        state = hookstate.read_state(str(state_dir), session_id)
        if state is not None:
            out.append((session_id, state))
    return out


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def telemetry_row(project: Project, session_id: str, state: Mapping[str, Any], now: float,
                  stale_after_s: float) -> dict[str, Any]:
    last = _epoch(state.get("last_event_at"))
    ended = state.get("ended_at")
    in_progress = not ended and last is not None and now - last <= stale_after_s
    return {
        "project": project.name,
        "session_id": session_id,
        "started_at": state.get("started_at"),
        "last_event_at": state.get("last_event_at"),
        "ended_at": ended,
        "end_reason": state.get("end_reason"),
        "in_progress": in_progress,
        "idle_s": round(now - last, 1) if last is not None else None,
        "tool_calls_count": state.get("tool_calls_count", 0),
        "tool_failures_count": state.get("tool_failures_count", 0),
        "failures_breakdown": dict(state.get("failures_breakdown") or {}),
        "tool_calls_breakdown": dict(state.get("tool_calls_breakdown") or {}),
        "subagents_dispatched": state.get("subagents_dispatched", 0),
        "tokens": dict(state.get("tokens") or {}),
        "cost_usd": state.get("cost_usd", 0.0),
        "unpriced_models": list(state.get("unpriced_models") or []),
    }

