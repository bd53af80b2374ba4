"""Figures across projects: what needs attention now, cost and failures per project per week, and the
same numbers in the Prometheus text format for a team's existing dashboards."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from lib.console.chainview import epoch
from lib.console.queries import CHAIN_STATUSES, SessionQuery, number_or_none
from lib.failures import insights

if TYPE_CHECKING:
    from lib.console.data import Console

DEFAULT_COOLDOWN_S = 900.0
BLOCKED_STATUSES = ("circuit_open", "failed", "budget_exhausted")


def _link(path: str, project: str | None, **params: Any) -> str:
    query = {k: v for k, v in {"project": project, **params}.items() if v not in (None, "", False)}
    return path + ("?" + urlencode(query) if query else "")


def attention(console: Console, project: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """What needs someone now: running chains, open breakers and blocked chains with their cause and the
    command that resumes them, and failures since yesterday by class; each with the list it summarises."""
    now = now or dt.datetime.now(dt.UTC)
    chains = console.chains(project=project)["chains"]
    running = [c for c in chains if c["status"] == "running"]
    blocked = []
    for c in chains:
        if c["status"] not in BLOCKED_STATUSES and c["breaker"]["state"] != "open":
            continue
        if c["status"] == "running" and c["breaker"]["state"] != "open":
            continue
        cooldown_until = None
        opened = epoch(c["breaker"].get("opened_at"))
        if c["breaker"]["state"] == "open" and opened is not None:
            until = opened + (c.get("breaker_cooldown_s") or DEFAULT_COOLDOWN_S)
            if until > now.timestamp():
                cooldown_until = dt.datetime.fromtimestamp(until, dt.UTC).isoformat(timespec="seconds")
        blocked.append({**c, "cause": c["end_reason"] or c["status"], "cooldown_until": cooldown_until})
    # Only the chains that still wait for someone: the newest per project and status is enough.
    blocked = blocked[:10]
    yesterday = (now - dt.timedelta(days=1)).date()
    figures = console.insights(project=project, since=yesterday)
    classes = [
        {"failure_class": row["failure_class"], "failures": row["failures"], "sessions": row["sessions"],
         "href": _link("/sessions", project, since=yesterday.isoformat(), failure_class=row["failure_class"])}
        for row in figures["by_class"] if row["failures"]
    ]
    failed = figures["totals"]["failed_sessions"]
    return {
        "running": running,
        "blocked": blocked,
        "failures_since": yesterday.isoformat(),
        "failures_by_class": classes,
        "failed_sessions": failed,
        "failed_href": _link("/sessions", project, since=yesterday.isoformat(), failed="1"),
        "running_href": _link("/chains", project, status="running"),
        "count": len(running) + len(blocked) + len(classes) + (1 if failed else 0),
    }


def _week(day: str) -> str | None:
    try:
        date = dt.date.fromisoformat(day[:10])
    except ValueError:
        return None
    return (date - dt.timedelta(days=date.weekday())).isoformat()


def team(console: Console, project: str | None = None, weeks: int = 8,
         today: dt.date | None = None) -> dict[str, Any]:
    """Cost, sessions and failed sessions per project per week (weeks start on Monday), newest first."""
    today = today or dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    chained = console.chained()
    rows = []
    for proj in console.selected(project):
        per: dict[str, dict[str, Any]] = {}
        window = SessionQuery(since=first)
        for note in window.filter(proj.view.notes("session")):
            week = _week(note.date)
            if week is None:
                continue
            link = chained.get(note.external_id)
            cost = number_or_none(note.meta.get("cost_usd"))
            if cost is None and link is not None:
                cost = number_or_none(link.get("cost_usd"))
            entry = per.setdefault(week, {"sessions": 0, "cost_usd": 0.0, "failed_sessions": 0, "failures": 0})
            entry["sessions"] += 1
            entry["cost_usd"] = round(entry["cost_usd"] + (cost or 0.0), 6)
            entry["failures"] += insights.failure_total(note.meta)
            if note.meta.get("outcome") in insights.FAILED_OUTCOMES or (link and link.get("status") == "failed"):
                entry["failed_sessions"] += 1
        for week in sorted(per, reverse=True):
            rows.append({"project": proj.name, "week": week, **per[week]})
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        t = totals.setdefault(row["project"], {"project": row["project"], "sessions": 0, "cost_usd": 0.0,
                                               "failed_sessions": 0, "failures": 0})
        for key in ("sessions", "failed_sessions", "failures"):
            t[key] += row[key]
        t["cost_usd"] = round(t["cost_usd"] + row["cost_usd"], 6)
    return {"since": first.isoformat(), "weeks": weeks, "rows": rows, "projects": list(totals.values())}


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
    number = repr(float(value)) if isinstance(value, float) else str(value)
    return f"{name}{{{inner}}} {number}" if inner else f"{name} {number}"


def metrics(console: Console) -> str:
    """The Prometheus text exposition format (version 0.0.4): chains by status, sessions, cost and
    failures by class, per project; counts cover everything the store and the registry hold."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(_sample(name, labels, value) for labels, value in samples)

    chains = console.chains()["chains"]
    by_status = Counter((c["project"], c["status"]) for c in chains)
    family("baton_chains", "gauge", "Chains in the registry by project and status.",
           (({"project": p.name, "status": s}, by_status.get((p.name, s), 0))
            for p in console.projects for s in CHAIN_STATUSES))
    family("baton_chain_cost_usd", "gauge", "Cost of the chains in the registry, in US dollars.",
           (({"project": p.name}, round(sum(c["cost_usd"] for c in chains if c["project"] == p.name), 6))
            for p in console.projects))
    sessions, cost, failed, classes = [], [], [], []
    for proj in console.projects:
        figures = console.insights(project=proj.name)
        totals = figures["totals"]
        sessions.append(({"project": proj.name}, totals["sessions"]))
        cost.append(({"project": proj.name}, float(totals["cost_usd"])))
        failed.append(({"project": proj.name}, totals["failed_sessions"]))
        classes += [({"project": proj.name, "class": row["failure_class"]}, row["failures"])
                    for row in figures["by_class"]]
    family("baton_sessions_total", "counter", "Session notes written.", sessions)
    family("baton_session_cost_usd_total", "counter", "Cost of the sessions, in US dollars.", cost)
    family("baton_failed_sessions_total", "counter", "Sessions that failed (blocked, or failed in a chain).",
           failed)
    family("baton_tool_failures_total", "counter", "Tool failures by class.", classes)
    live = console.telemetry()["sessions"]
    family("baton_sessions_in_progress", "gauge", "Sessions in progress on this machine.",
           (({"project": p.name}, sum(1 for r in live if r["project"] == p.name)) for p in console.projects))
    return "\n".join(lines) + "\n"
