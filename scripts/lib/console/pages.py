"""The console's HTML pages: what each one shows, as a template and its context.

A filter value a page cannot use never makes an error page: it becomes a message beside its field
(`errors`), the form keeps what was typed (`form`), and the page shows what the other filters select.
Unknown parameters are ignored here (the API refuses them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from lib.console import formatting, render, summaries
from lib.console.data import Console
from lib.console.queries import (
    CHAIN_STATUSES,
    BadRequest,
    NotFound,
    SessionQuery,
    choice,
    parse_date,
    parse_int,
    slug,
)
from lib.store import markdown as note_markdown

HERE = Path(__file__).resolve().parent
WORKSTREAM_STATUSES = ("active", "paused", "blocked", "done", "superseded", "archived")
# Frontmatter fields a note page shows up front; the rest are folded behind a toggle.
HEADLINE_FIELDS = ("title", "operator", "date", "outcome", "status", "workstream", "model", "cost_usd",
                   "chain_id", "summary")

Page = tuple[str, dict[str, Any]]


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = formatting.money
    env.filters["when"] = formatting.when
    env.filters["utc"] = formatting.utc
    env.filters["duration"] = formatting.duration
    env.filters["pct"] = formatting.pct
    return env


def _forgiving(parse: Callable[[], Any], name: str, errors: dict[str, str]) -> Any:
    try:
        return parse()
    except BadRequest as exc:
        errors[name] = str(exc)
        return None


def _project(console: Console, params: Mapping[str, str], errors: dict[str, str]) -> str | None:
    name = (params.get("project") or "").strip() or None
    if name is None:
        return None
    try:
        console.project(name)
    except NotFound as exc:
        errors["project"] = str(exc)
        return None
    return name


def insight_args(console: Console, params: Mapping[str, str], errors: dict[str, str] | None) -> dict[str, Any]:
    """The insights filters; with `errors`, values that cannot be used are left out and explained there."""
    sink: dict[str, str] = {} if errors is None else errors
    args = {
        "project": _project(console, params, sink),
        "since": _forgiving(lambda: parse_date(params.get("since"), "since"), "since", sink),
        "until": _forgiving(lambda: parse_date(params.get("until"), "until"), "until", sink),
        "operator": _forgiving(lambda: console.resolve_operator(params.get("operator")), "operator", sink),
        "workstream": _forgiving(lambda: slug(params.get("workstream"), "workstream"), "workstream", sink),
    }
    if args["since"] and args["until"] and args["since"] > args["until"]:
        sink["until"] = f"until: {args['until']} is before since {args['since']}"
        args["until"] = None
    if errors is None and sink:
        raise BadRequest(next(iter(sink.values())))
    return args


def dashboard(console: Console, params: Mapping[str, str]) -> Page:
    project = _project(console, params, {})
    chains = console.chains(project=project)["chains"]
    month_ago = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=29)
    figures = console.insights(project=project, since=month_ago)
    return "dashboard.html", {
        "attention": summaries.attention(console, project),
        "running": [c for c in chains if c["status"] == "running"],
        "recent_chains": [c for c in chains if c["status"] != "running"][:5],
        "breakers": [c for c in chains if c["breaker"]["state"] == "open"],
        "sessions": console.sessions(SessionQuery(project=project, limit=12))["sessions"],
        "by_class": figures["by_class"],
        "totals": figures["totals"],
        "since": month_ago.isoformat(),
        "live": console.telemetry(project=project)["sessions"],
        "live_page": True,
    }


def chains(console: Console, params: Mapping[str, str]) -> Page:
    errors: dict[str, str] = {}
    project = _project(console, params, errors)
    status = _forgiving(lambda: choice(params.get("status"), "status", CHAIN_STATUSES), "status", errors)
    return "chains.html", {
        "chains": console.chains(project=project, status=status)["chains"],
        "status": status, "statuses": CHAIN_STATUSES, "live_page": True, "errors": errors,
        "roster": console.roster(project),
    }


def chain(console: Console, chain_id: str) -> Page:
    detail = console.chain(chain_id)
    handoffs = []
    for s in detail["sessions"]:
        note = s["note"]
        if note is None or note["status"] == "claimed":
            continue
        try:
            found = console.session(s["id"], detail["project"])
        except NotFound:
            continue
        sections = note_markdown.select(found["body_markdown"], ("Summary", "Next steps", "Resume Prompt"))
        handoffs.append({"session": s, "note": note,
                         "html": Markup(render.markdown_html(sections)) if sections else None})
    return "chain.html", {"chain": detail, "handoffs": handoffs, "live_page": True,
                          "roster": console.roster(detail["project"])}


def sessions(console: Console, params: Mapping[str, str]) -> Page:
    errors: dict[str, str] = {}
    query = console.session_query(params, errors)
    keep = {k: v for k, v in params.items() if k != "offset" and k not in errors}
    return "sessions.html", {"page": console.sessions(query), "q": query, "params": keep, "errors": errors,
                             "form": dict(params), "roster": console.roster(query.project)}


def session(console: Console, session_id: str, params: Mapping[str, str]) -> Page:
    detail = console.session(session_id, _project(console, params, {}), render=render.markdown_html)
    detail["body_html"] = Markup(detail["body_html"])
    meta = detail["frontmatter"]
    headline = [(k, meta[k]) for k in HEADLINE_FIELDS if k in meta]
    rest = sorted((k, v) for k, v in meta.items() if k not in HEADLINE_FIELDS)
    return "session.html", {"s": detail, "headline": headline, "more": rest}


def workstreams(console: Console, params: Mapping[str, str]) -> Page:
    errors: dict[str, str] = {}
    project = _project(console, params, errors)
    status = _forgiving(lambda: choice(params.get("status"), "status", WORKSTREAM_STATUSES), "status", errors)
    owner = _forgiving(lambda: console.resolve_operator(params.get("owner"), "owner"), "owner", errors)
    data = console.workstreams(project=project, status=status, owner=owner)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in data["workstreams"]:
        groups.setdefault(row["owner"] or "(unowned)", []).append(row)
    return "workstreams.html", {"groups": groups, "status": status or "", "statuses": WORKSTREAM_STATUSES,
                                "errors": errors, "form": dict(params), "roster": console.roster(project)}


def insights(console: Console, params: Mapping[str, str]) -> Page:
    errors: dict[str, str] = {}
    args = insight_args(console, params, errors)
    figures = console.insights(**args)
    failures_svg, classes = render.failures_over_time(figures["failures_per_day"])
    return "insights.html", {
        "f": figures, "args": args, "errors": errors, "form": dict(params), "roster": console.roster(args["project"]),
        "cost_svg": Markup(render.cost_per_day(figures["cost_per_day"])),
        "failures_svg": Markup(failures_svg), "failures_legend": Markup(render.legend(classes)),
        "retries_svg": Markup(render.retries_per_day(figures["retries"]["per_day"])),
        "retries_legend": Markup(render.legend(render.RETRY_SERIES, render.RETRY_CLASSES)),
    }


def team(console: Console, params: Mapping[str, str]) -> Page:
    errors: dict[str, str] = {}
    project = _project(console, params, errors)
    weeks = _forgiving(lambda: parse_int(params.get("weeks"), "weeks", 8, 1, 104), "weeks", errors) or 8
    return "team.html", {"t": summaries.team(console, project, weeks=weeks), "errors": errors,
                         "form": dict(params)}


def search(console: Console, params: Mapping[str, str]) -> Page:
    from lib.console import search as fulltext
    from lib.core.paths import KINDS

    kind = params.get("kind") or None
    result = fulltext.search(console, params.get("q") or "", project=params.get("project") or None, kind=kind)
    return "search.html", {"result": result, "kinds": KINDS, "search_q": result["query"]}
