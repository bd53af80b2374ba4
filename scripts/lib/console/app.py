"""The console's ASGI application (Starlette): JSON API, HTML pages, the event stream, the kill switch.

Security model (docs/console.md):
- Bound to loopback by default; reads need no token there, so every request whose Host header is
  not the console's own address is refused (a DNS-rebinding page cannot read the API).
- With --allow-remote every request needs the token: `X-Baton-Token`, `Authorization: Bearer`, or
  HTTP Basic with the token as password (so a browser can open the pages).
- The one mutation, `POST /api/chains/{id}/stop`, needs the token in `X-Baton-Token` or
  `Authorization: Bearer` whatever the bind: credentials a browser attaches by itself (cookies,
  Basic) are not accepted for it, so another site cannot make a browser stop a chain.
- Every response (pages, JSON, errors, static files, the event stream, refusals) carries a strict
  Content-Security-Policy with `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff` and
  `Cache-Control: no-store`; notes are rendered with raw HTML disabled, and only their first
  `max_body_bytes` (the rest is behind a link to the note as plain text).
- Another site cannot make a browser fetch anything from the console: a request whose
  `Sec-Fetch-Site` is not `same-origin` or `none` (or, from a browser without fetch metadata, whose
  `Origin` is not the console's) is refused, except a top-level navigation to a page that the user
  clicked (a link to the console from a chat or a wiki keeps working; it cannot read what it opens).
- Error text quotes at most 100 characters of the input it complains about.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.console import openapi, render
from lib.console.data import (
    CHAIN_STATUSES,
    BadRequest,
    Conflict,
    Console,
    NotFound,
    SessionQuery,
    Unavailable,
    _choice,
    _parse_date,
    _parse_int,
    clip_input,
    quote_input,
)
from lib.console.events import HEARTBEAT_S, EventHub, Watcher
from lib.core.errors import BatonError
from lib.store import markdown as note_markdown

HERE = Path(__file__).resolve().parent
TOKEN_HEADER = "x-baton-token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
# Added to every response that does not set its own value.
_SECURITY_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in PAGE_HEADERS.items()]
# The note as plain text: nothing in it may run or load, whatever a browser makes of it.
RAW_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
# Sec-Fetch-Dest values of a top-level page load.
_PAGE_DESTS = ("document", "")
WORKSTREAM_STATUSES = ("active", "paused", "blocked", "done", "superseded", "archived")
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Security:
    token: str
    # Host header values accepted (lowercase host:port); None accepts any (a wildcard bind, token-guarded).
    allowed_hosts: frozenset[str] | None
    # Every request needs the token (any bind other than loopback).
    remote: bool = False

    def token_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())


def allowed_hosts_for(host: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str] | None:
    """The Host header values that name a console bound to host:port."""
    if host in ("0.0.0.0", "::", ""):
        return frozenset(h.lower() for h in extra) if extra else None
    names = {host, "localhost"} if _is_loopback(host) else {host}
    out: set[str] = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        out.add(f"{shown}:{port}".lower())
        if port == 80:
            out.add(shown.lower())
    out.update(h.lower() for h in extra)
    return frozenset(out)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None


def header_token(headers: Mapping[str, str], *, allow_basic: bool) -> str | None:
    """The token a request presents: X-Baton-Token, Bearer, or (when allowed) Basic's password."""
    direct = headers.get(TOKEN_HEADER)
    if direct:
        return direct.strip()
    auth = headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_basic and scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class Guard:
    """Refuses a foreign Host header; with a remote bind, refuses any request without the token."""

    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app = app
        self.security = security
        self.hub: EventHub | None = None
        self.console: Console | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                # Server-Timing: what the console spent before answering (the benchmark reads it).
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        host = (_header(scope, b"host") or "").lower()
        allowed = self.security.allowed_hosts
        if allowed is not None and host not in allowed:
            await _json_error(400, f"Host {quote_input(host or '(none)')} is not this console's address")(
                scope, receive, guarded_send)
            return
        foreign = cross_site(scope, host)
        if foreign is not None:
            await _json_error(403, f"refused: a request from another site ({foreign})")(scope, receive, guarded_send)
            return
        if self.security.remote:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            token = header_token(headers, allow_basic=True)
            if token is None:
                response = _json_error(401, "this console needs its token (X-Baton-Token, Bearer, or Basic)")
                response.headers["WWW-Authenticate"] = 'Basic realm="baton console", charset="UTF-8"'
                await response(scope, receive, guarded_send)
                return
            if not self.security.token_ok(token):
                await _json_error(403, "wrong token")(scope, receive, guarded_send)
                return
        await self.app(scope, receive, guarded_send)


def cross_site(scope: Scope, host: str) -> str | None:
    """Why a request looks sent by another site's page, or None.

    Fetch metadata first: `same-origin` and `none` (typed, bookmarked) pass; any other site (other
    ports of localhost are `same-site`, and refused too) passes only for a page the user clicked
    through to. Browsers without fetch metadata still send `Origin` on cross-origin fetches and
    forms. Clients that are not browsers send neither and pass (the Host check and the token
    guard them).
    """
    site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
    if site:
        if site in ("same-origin", "none"):
            return None
        path = scope.get("path") or ""
        if (scope.get("method") in ("GET", "HEAD")
                and (_header(scope, b"sec-fetch-mode") or "").lower() == "navigate"
                and (_header(scope, b"sec-fetch-dest") or "").lower() in _PAGE_DESTS
                and (_header(scope, b"sec-fetch-user") or "") == "?1"
                and not path.startswith(("/api/", "/static/", "/openapi")) and not path.endswith("/raw")):
            return None
        return f"Sec-Fetch-Site: {quote_input(site, 20)}"
    origin = _header(scope, b"origin")
    if origin is not None:
        _scheme, sep, rest = origin.strip().lower().partition("://")
        if not sep or rest.rstrip("/") != host:
            return f"Origin: {quote_input(origin)}"
    return None


def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _error_status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, BadRequest):
        return 400
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Unavailable):
        return 503
    return 500


Handler = Callable[[Request], Awaitable[Response]]


def _api(fn: Callable[[Request], Any]) -> Handler:
    """A JSON endpoint: the data function runs in a worker thread; its errors become 4xx answers."""
    async def endpoint(request: Request) -> Response:
        try:
            payload = await asyncio.to_thread(fn, request)
        except BatonError as exc:
            return _json_error(_error_status(exc), str(exc))
        return JSONResponse(payload)
    return endpoint


def _bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"{name}: {quote_input(value)} is not true or false")


def _slug(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not set(value) <= _SLUG_CHARS or value[0] in "-_":
        raise BadRequest(f"{name}: {quote_input(value)} is not a slug (lowercase letters, digits, - and _)")
    return value


def _known(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown parameter {quote_input(unknown[0])} (known: {', '.join(allowed) or 'none'})")


SESSION_PARAMS = ("project", "operator", "workstream", "since", "until", "status", "outcome", "chain", "limit",
                  "offset")


def _session_query(params: Mapping[str, str]) -> SessionQuery:
    _known(params, SESSION_PARAMS)
    _slug(params.get("operator"), "operator")
    _slug(params.get("workstream"), "workstream")
    return SessionQuery.from_params(params)


def _insight_args(params: Mapping[str, str]) -> dict[str, Any]:
    since = _parse_date(params.get("since"), "since")
    until = _parse_date(params.get("until"), "until")
    if since and until and since > until:
        raise BadRequest(f"since {since} is after until {until}")
    return {"project": params.get("project") or None, "since": since, "until": until,
            "operator": _slug(params.get("operator"), "operator"),
            "workstream": _slug(params.get("workstream"), "workstream")}


# ------------------------------------------------------------------ templates


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.filters["pct"] = lambda v: f"{float(v) * 100:.0f}%" if isinstance(v, (int, float)) else "–"
    return env


def _money(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


def _when(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "–"
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if stamp.tzinfo is None:
        return stamp.strftime("%Y-%m-%d %H:%M")
    return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------ the application


def create_app(console: Console, security: Security) -> Guard:
    env = _templates()
    hub = EventHub(Watcher(console), interval_s=console.settings.poll_interval_s)
    doc = openapi.document()

    def page(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        project = request.query_params.get("project") or None
        body = env.get_template(template).render(
            projects=console.projects, project=project, path=request.url.path,
            pq=f"?project={quote(project)}" if project else "", multi=len(console.projects) > 1, **context,
        )
        return HTMLResponse(body, status_code=http_status, headers=PAGE_HEADERS)

    def html_page(fn: Callable[[Request], tuple[str, dict[str, Any]]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                template, context = await asyncio.to_thread(fn, request)
            except BatonError as exc:
                status = _error_status(exc)
                return page(request, "error.html", status, code=status, message=str(exc))
            return page(request, template, **context)
        return endpoint

    # -- API ---------------------------------------------------------------------

    def api_health(request: Request) -> Any:
        _known(request.query_params, ())
        return console.health()

    def api_operators(request: Request) -> Any:
        _known(request.query_params, ("project",))
        return console.operators(request.query_params.get("project") or None)

    def api_sessions(request: Request) -> Any:
        return console.sessions(_session_query(request.query_params))

    def api_session(request: Request) -> Any:
        _known(request.query_params, ("project",))
        return console.session(request.path_params["session_id"], request.query_params.get("project") or None,
                               render=render.markdown_html)

    def api_workstreams(request: Request) -> Any:
        params = request.query_params
        _known(params, ("project", "owner", "status"))
        return console.workstreams(project=params.get("project") or None, owner=_slug(params.get("owner"), "owner"),
                                   status=_choice(params.get("status"), "status", WORKSTREAM_STATUSES))

    def api_chains(request: Request) -> Any:
        params = request.query_params
        _known(params, ("project", "status"))
        return console.chains(project=params.get("project") or None,
                              status=_choice(params.get("status"), "status", CHAIN_STATUSES))

    def api_chain(request: Request) -> Any:
        _known(request.query_params, ())
        return console.chain(request.path_params["chain_id"])

    def api_insights(request: Request) -> Any:
        _known(request.query_params, ("project", "since", "until", "operator", "workstream"))
        return console.insights(**_insight_args(request.query_params))

    def api_telemetry(request: Request) -> Any:
        params = request.query_params
        _known(params, ("project", "include_ended"))
        return console.telemetry(project=params.get("project") or None,
                                 include_ended=_bool(params.get("include_ended"), "include_ended"))

    async def api_stop(request: Request) -> Response:
        token = header_token(request.headers, allow_basic=False)
        if token is None:
            return _json_error(401, "stopping a chain needs the token in the X-Baton-Token header "
                                    "(or Authorization: Bearer)")
        if not security.token_ok(token):
            return _json_error(403, "wrong token")
        chain_id = request.path_params["chain_id"]
        try:
            result = await asyncio.to_thread(console.stop_chain, chain_id)
        except BatonError as exc:
            return _json_error(_error_status(exc), str(exc))
        return JSONResponse(result)

    async def api_openapi(request: Request) -> Response:
        return JSONResponse(doc)

    async def api_events(request: Request) -> Response:
        params = request.query_params
        try:
            _known(params, ("project", "last_event_id"))
            project = params.get("project") or None
            if project is not None:
                console.project(project)
            raw_last = request.headers.get("last-event-id") or params.get("last_event_id")
            last_id = _parse_int(raw_last, "last_event_id", 0, 0, 2**62) if raw_last else None
        except BatonError as exc:
            return _json_error(_error_status(exc), str(exc))
        queue, backlog = hub.subscribe(last_id)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'last_id': hub.last_id})}\n\n".encode()
                for old in backlog:
                    if project is None or old.data.get("project") == project:
                        yield old.sse()
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if item is None:
                        return
                    if project is None or item.data.get("project") == project:
                        yield item.sse()
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # -- pages -------------------------------------------------------------------

    def dashboard(request: Request) -> tuple[str, dict[str, Any]]:
        project = request.query_params.get("project") or None
        chains = console.chains(project=project)["chains"]
        month_ago = dt.date.today() - dt.timedelta(days=29)
        figures = console.insights(project=project, since=month_ago)
        return "dashboard.html", {
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

    def chains_page(request: Request) -> tuple[str, dict[str, Any]]:
        params = request.query_params
        status = _choice(params.get("status"), "status", CHAIN_STATUSES)
        return "chains.html", {"chains": console.chains(project=params.get("project") or None, status=status)["chains"],
                               "status": status, "statuses": CHAIN_STATUSES, "live_page": True}

    def chain_page(request: Request) -> tuple[str, dict[str, Any]]:
        chain = console.chain(request.path_params["chain_id"])
        handoffs = []
        for s in chain["sessions"]:
            note = s["note"]
            if note is None or note["status"] == "claimed":
                continue
            try:
                detail = console.session(s["id"], chain["project"])
            except NotFound:
                continue
            sections = _sections(detail["body_markdown"], ("Summary", "Next steps", "Resume Prompt"))
            handoffs.append({"session": s, "note": note,
                             "html": Markup(render.markdown_html(sections)) if sections else None})
        return "chain.html", {"chain": chain, "handoffs": handoffs, "live_page": True}

    def sessions_page(request: Request) -> tuple[str, dict[str, Any]]:
        query = _session_query(request.query_params)
        return "sessions.html", {"page": console.sessions(query), "q": query,
                                 "params": {k: v for k, v in request.query_params.items() if k != "offset"}}

    def session_page(request: Request) -> tuple[str, dict[str, Any]]:
        detail = console.session(request.path_params["session_id"], request.query_params.get("project") or None,
                                 render=render.markdown_html)
        detail["body_html"] = Markup(detail["body_html"])
        return "session.html", {"s": detail}

    async def session_raw(request: Request) -> Response:
        project = request.query_params.get("project") or None
        try:
            _known(request.query_params, ("project",))
            path = await asyncio.to_thread(console.session_file, request.path_params["session_id"], project)
        except BatonError as exc:
            return _json_error(_error_status(exc), str(exc))
        return FileResponse(path, media_type="text/plain; charset=utf-8",
                            headers={"Content-Security-Policy": RAW_CSP, "Content-Disposition": "inline"})

    def workstreams_page(request: Request) -> tuple[str, dict[str, Any]]:
        params = request.query_params
        data = console.workstreams(project=params.get("project") or None,
                                   status=_choice(params.get("status"), "status", WORKSTREAM_STATUSES))
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in data["workstreams"]:
            groups.setdefault(row["owner"] or "(unowned)", []).append(row)
        return "workstreams.html", {"groups": groups, "status": params.get("status") or "",
                                    "statuses": WORKSTREAM_STATUSES}

    def insights_page(request: Request) -> tuple[str, dict[str, Any]]:
        args = _insight_args(request.query_params)
        figures = console.insights(**args)
        failures_svg, classes = render.failures_over_time(figures["failures_per_day"])
        return "insights.html", {
            "f": figures, "args": args,
            "cost_svg": Markup(render.cost_per_day(figures["cost_per_day"])),
            "failures_svg": Markup(failures_svg), "failures_legend": Markup(render.legend(classes)),
            "retries_svg": Markup(render.retries_per_day(figures["retries"]["per_day"])),
            "retries_legend": Markup(render.legend(render.RETRY_SERIES, render.RETRY_CLASSES)),
        }

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await asyncio.to_thread(console.close)

    routes = [
        Route("/", html_page(dashboard), name="dashboard"),
        Route("/chains", html_page(chains_page), name="chains"),
        Route("/chains/{chain_id}", html_page(chain_page), name="chain"),
        Route("/sessions", html_page(sessions_page), name="sessions"),
        Route("/sessions/{session_id}", html_page(session_page), name="session"),
        Route("/sessions/{session_id}/raw", session_raw, name="session_raw"),
        Route("/workstreams", html_page(workstreams_page), name="workstreams"),
        Route("/insights", html_page(insights_page), name="insights"),
        Route("/openapi.json", api_openapi, name="openapi"),
        Route("/api/health", _api(api_health)),
        Route("/api/operators", _api(api_operators)),
        Route("/api/sessions", _api(api_sessions)),
        Route("/api/sessions/{session_id}", _api(api_session)),
        Route("/api/workstreams", _api(api_workstreams)),
        Route("/api/chains", _api(api_chains)),
        Route("/api/chains/{chain_id}", _api(api_chain)),
        Route("/api/chains/{chain_id}/stop", api_stop, methods=["POST"]),
        Route("/api/insights", _api(api_insights)),
        Route("/api/telemetry", _api(api_telemetry)),
        Route("/api/events", api_events),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        404: _not_found, 405: _not_allowed, 500: _server_error})
    guarded = Guard(app, security)
    guarded.hub = hub
    guarded.console = console
    return guarded


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json_error(404, f"no such page: {clip_input(request.url.path)}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _json_error(405, f"{quote_input(request.method, 20)} is not allowed here")


async def _server_error(request: Request, exc: Exception) -> Response:
    return _json_error(500, "internal error (see the console's log)")


def _sections(markdown: str, names: tuple[str, ...]) -> str:
    """The named `## ` sections of a note, in the note's order."""
    return note_markdown.select(markdown, names)
