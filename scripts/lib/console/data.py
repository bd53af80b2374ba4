"""What the console shows, as plain data: the API returns it as JSON and the pages render it.

Every read goes through the library: notes through the store view (`lib.store.frontmatter`), chains
through the chain registry (`lib.chains.registry`, shaped by `lib.console.chainview`), live sessions
through `lib.telemetry.state` (`lib.console.live`), the decision log through `lib.failures.decisions`,
figures through `lib.failures.insights`. Stopping a chain calls `lib.chains.runner.request_stop`, the
function behind `chains.py stop`; starting one runs `chains.py run --detach` (`lib.console.launch`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lib.console import chainview, launch
from lib.console.chainview import (
    chain_summary,
    chains_available,
    open_registry,
    registry_paths,
)
from lib.console.live import live_states, telemetry_row
from lib.console.model import Project, Settings, cut_body, project_names, session_row
from lib.console.people import last_activity, operator_entry, roster_of, session_owners
from lib.console.queries import (
    CHAIN_STATUSES,
    MAX_LIMIT,
    SESSION_OUTCOMES,
    SESSION_STATUSES,
    BadRequest,
    Conflict,
    NotFound,
    Person,
    SessionQuery,
    Unavailable,
    clip_input,
    number_or_none,
    quote_input,
    resolve_operator,
    text_or_none,
)
from lib.console.storeview import NoteView, StoreView
from lib.core.errors import BatonError
from lib.failures import decisions as decision_log
from lib.failures import insights
from lib.security import redact

__all__ = ["CHAIN_STATUSES", "MAX_LIMIT", "SESSION_OUTCOMES", "SESSION_STATUSES", "BadRequest", "Conflict",
           "Console", "NotFound", "Project", "SessionQuery", "Settings", "Unavailable", "chains_available",
           "clip_input", "cut_body", "project_names", "quote_input", "registry_paths", "session_row"]

TOKEN_FILE = "serve.token"


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
        self._session_cache: dict[tuple[Any, ...], list[tuple[Project, NoteView]]] = {}
        self._roster_cache: dict[str, tuple[tuple[int, int], list[Person]]] = {}
        self._chained_cache: tuple[tuple[int, ...], dict[str, dict[str, Any]]] | None = None

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

    # -- people ------------------------------------------------------------------

    def roster(self, project: str | None = None) -> list[Person]:
        """Everyone in the operators.yaml of the selected projects (read again when a file changes)."""
        people: dict[str, Person] = {}
        for proj in self.selected(project):
            for person in self._project_roster(proj):
                people.setdefault(person.slug, person)
        return sorted(people.values(), key=lambda p: (p.name or p.slug).lower())

    def _project_roster(self, proj: Project) -> list[Person]:
        from lib.store import operators

        try:
            st = os.stat(proj.root / operators.OPERATORS_PATH)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (-1, -1)
        with self._cache_lock:
            cached = self._roster_cache.get(proj.name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        people = [Person(op["slug"], op.get("name"), op.get("initials")) for op in roster_of(proj.root)]
        with self._cache_lock:
            self._roster_cache[proj.name] = (stamp, people)
        return people

    def names(self) -> dict[str, str]:
        """slug -> the person's name, for every served roster."""
        return {p.slug: p.name for p in self.roster() if p.name}

    def resolve_operator(self, value: str | None, name: str = "operator") -> str | None:
        return resolve_operator(value, self.roster(), name)

    # -- sessions ----------------------------------------------------------------

    def chained(self) -> dict[str, dict[str, Any]]:
        """session id -> {chain, status, cost_usd} for every chain session the registry knows."""
        if not chains_available():
            return {}
        stamp = chainview.registry_stamp(self.settings.registry_home)
        cached = self._chained_cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        out: dict[str, dict[str, Any]] = {}
        for chain in open_registry(self.settings.registry_home).chains(archived=True):
            for s in chain.sessions:
                out[s.id] = {"chain": chain.id, "status": s.status, "cost_usd": s.cost_usd}
        self._chained_cache = (stamp, out)
        return out

    def session_query(self, params: Mapping[str, str], errors: dict[str, str] | None = None) -> SessionQuery:
        """The query in these parameters, operators resolved against the served rosters."""
        query = SessionQuery.from_params(params, self.roster(), errors=errors)
        if query.project is not None:
            try:
                self.project(query.project)
            except NotFound as exc:
                if errors is None:
                    raise
                errors["project"] = str(exc)
                query.project = None
        if query.failed:
            query.failed_ids = frozenset(k for k, v in self.chained().items() if v["status"] == "failed")
        return query

    def sessions(self, query: SessionQuery) -> dict[str, Any]:
        projects = self.selected(query.project)
        notes = [(project, project.view.notes("session")) for project in projects]
        # The filtered list is kept per store generation, so paging through it costs a slice.
        key = (tuple((p.name, p.view.generation) for p in projects), *query.cache_key())
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
        chained = self.chained()
        return {
            "total": len(matched),
            "offset": query.offset,
            "limit": query.limit,
            "next_offset": end if end < len(matched) else None,
            "sessions": [session_row(p, n, chained.get(n.external_id)) for p, n in page],
        }

    def find_session(self, session_id: str, project: str | None = None) -> tuple[Project, NoteView]:
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
        out = session_row(proj, note, self.chained().get(note.external_id))
        out["frontmatter"] = redact.redact_data(note.meta)
        body = redact.redact(body)
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
            activity = last_activity(proj.view.notes("session"))
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
                    "title": text_or_none(meta.get("title")),
                    "owner": text_or_none(meta.get("owner")),
                    "status": text_or_none(meta.get("status")),
                    "priority": meta.get("priority") if isinstance(meta.get("priority"), str) else None,
                    "summary": text_or_none(meta.get("summary")),
                    "updated": text_or_none(meta.get("updated")),
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
            for op in roster_of(proj.root):
                entry = people.setdefault(op["slug"], operator_entry(op["slug"]))
                entry.update(name=op.get("name"), initials=op.get("initials"), in_roster=True)
                if proj.name not in entry["projects"]:
                    entry["projects"].append(proj.name)
            for note in proj.view.notes("session"):
                meta = note.meta
                slug = meta.get("operator")
                if not isinstance(slug, str) or not slug or meta.get("status") == "claimed":
                    continue
                entry = people.setdefault(slug, operator_entry(slug))
                if proj.name not in entry["projects"]:
                    entry["projects"].append(proj.name)
                entry["sessions"] += 1
                entry["cost_usd"] = round(entry["cost_usd"] + (number_or_none(meta.get("cost_usd")) or 0.0), 6)
                day = note.date
                if day and (entry["last_session_date"] is None or day > entry["last_session_date"]):
                    entry["last_session_date"] = day
                    entry["last_session"] = note.external_id
        rows = sorted(people.values(), key=lambda e: (-e["sessions"], e["slug"]))
        return {"operators": rows}

    # -- chains ------------------------------------------------------------------

    def _summary(self, proj: Project, chain: Any, registry: Any) -> dict[str, Any]:
        stopped = chainview.read_stop(self.settings.registry_home, chain.id) if chain.status == "stopped" else None
        return chain_summary(proj.name, chain.to_dict(), alive=chainview.alive(registry, chain), stopped=stopped)

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
            rows.append(self._summary(proj, chain, registry))
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
        out = self._summary(proj, record, registry)
        out["mission_full"] = data.get("mission") or ""
        out["settings"] = data.get("settings") or {}
        out["totals"] = data.get("totals") or {}
        sessions = chainview.chain_sessions(data, lambda sid: proj.view.get("session", sid))
        out["sessions"] = sessions
        budget = number_or_none((data.get("settings") or {}).get("budget_usd"))
        spent = out["cost_usd"]
        out["costs"] = {
            "total_usd": spent,
            "budget_usd": budget,
            "remaining_usd": round(max(budget - spent, 0.0), 6) if budget is not None else None,
            "per_session": [{"id": s["id"], "cost_usd": s["cost_usd"]} for s in sessions],
        }
        out["decisions"] = chainview.merged_decisions(data, decision_log.read_decisions(root=proj.root))
        out["failures"] = redact.redact_data([
            {"session": s["id"], "failure_class": s["failure_class"], "reason": s["reason"],
             "error_kind": s["error_kind"], "error": s["error"]}
            for s in sessions if s["status"] == "failed" or s["failure_class"]
        ])
        return out

    def stop_chain(self, chain_id: str, operator: str | None = None) -> dict[str, Any]:
        """Stop a chain exactly as `chains.py stop` does, noting who asked; the chain as it is afterwards."""
        proj, record = self._chain_record(chain_id)
        if record.status != "running":
            raise Conflict(f"chain {chain_id} is {record.status}: nothing to stop")
        who = self.resolve_operator(operator) if operator else None
        from lib.chains import lifecycle as chain_runner

        registry = open_registry(self.settings.registry_home)
        chainview.record_stop(self.settings.registry_home, chain_id, who)
        try:
            chain = chain_runner.request_stop(registry, chain_id, timeout_s=self.settings.stop_timeout_s)
        except BatonError as exc:
            raise Unavailable(str(exc)) from None
        return self._summary(proj, chain, registry)

    def launch_chain(self, request: launch.LaunchRequest, project: str | None = None) -> dict[str, Any]:
        """Start a detached chain in a served project (`chains.py run --detach`); the new chain."""
        if not chains_available():
            raise Unavailable("the chain runner is not installed")
        proj = self.project(project)
        if request.operator:
            request = dataclasses.replace(request, operator=self.resolve_operator(request.operator))
        chain_id = launch.start(proj.root, request, registry_home=self.settings.registry_home,
                                timeout_s=self.settings.launch_timeout_s)
        return self.chain(chain_id)

    # -- insights and live telemetry ---------------------------------------------

    def insights(self, *, project: str | None = None, since: dt.date | None = None,
                 until: dt.date | None = None, operator: str | None = None,
                 workstream: str | None = None) -> dict[str, Any]:
        projects = self.selected(project)
        for proj in projects:
            proj.view.refresh()
        chain_dicts = [c for c in self._chain_dicts() if {p.name for p in projects} & {c.get("_project")}]
        key = (tuple((p.name, p.view.generation) for p in projects), since, until, operator, workstream,
               chainview.registry_stamp(self.settings.registry_home), tuple(_decisions_stamp(p) for p in projects))
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
            owners = session_owners(proj, self._chain_dicts())
            for session_id, state in live_states(proj.state_dir):
                row = telemetry_row(proj.name, session_id, state, now, self.settings.stale_after_s)
                row["operator"] = row["operator"] or owners.get(session_id)
                if include_ended or row["in_progress"]:
                    rows.append(row)
        rows.sort(key=lambda r: r["last_event_at"] or "", reverse=True)
        return {"sessions": rows, "stale_after_s": self.settings.stale_after_s}


# ------------------------------------------------------------------ helpers


def _decisions_stamp(project: Project) -> tuple[int, int]:
    try:
        st = os.stat(decision_log.decisions_path(project.root))
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)
