"""The console's ASGI application (Starlette): JSON API, HTML pages, the event stream, launch and stop.

Security model (docs/console.md; the checks themselves are in `lib.console.security`):
- Bound to loopback by default; reads need no token there, so every request whose Host header is
  not the console's own address is refused (a DNS-rebinding page cannot read the API).
- With --allow-remote every request needs the token.
- The mutations, `POST /api/chains` (launch) and `POST /api/chains/{id}/stop`, need the token in
  `X-Baton-Token` or `Authorization: Bearer` whatever the bind, checked before anything else.
- Every response carries a strict Content-Security-Policy and the other security headers; requests
  another site's page sends are refused (`lib.console.security`). Notes are rendered with raw HTML
  disabled, and only their first `max_body_bytes` (the rest is behind a link to the note as plain text).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lib.console import formatting, openapi, pages, summaries
from lib.console.data import Console
from lib.console.events import HEARTBEAT_S, EventHub, Watcher
from lib.console.launch import LaunchRequest
from lib.console.queries import (
    CHAIN_STATUSES,
    SESSION_PARAMS,
    BadRequest,
    Conflict,
    NotFound,
    Unavailable,
    choice,
    clip_input,
    known,
    parse_bool,
    parse_int,
    quote_input,
)
from lib.console.security import (
    PAGE_HEADERS,
    Guard,
    Security,
    allowed_hosts_for,
    header_token,
    json_error,
)
from lib.core.errors import BatonError

__all__ = ["Guard", "Security", "allowed_hosts_for", "create_app"]

HERE = Path(__file__).resolve().parent
# The note as plain text: nothing in it may run or load, whatever a browser makes of it.
RAW_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
# A launch carries a mission (at most launch.MAX_MISSION_CHARS characters); nothing else needs a body.
MAX_BODY_BYTES = 512 * 1024
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
            return json_error(_error_status(exc), str(exc))
        return JSONResponse(payload)
    return endpoint


def _token_error(security: Security, request: Request, what: str) -> Response | None:
    """The refusal of a mutation without the right token (before its body is read), else None."""
    token = header_token(request.headers, allow_basic=False)
    if token is None:
        return json_error(401, f"{what} needs the token in the X-Baton-Token header (or Authorization: Bearer)")
    if not security.token_ok(token):
        return json_error(403, "wrong token")
    return None


async def _json_body(request: Request, *, required: bool) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if required:
            raise BadRequest("the request needs a JSON body")
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not JSON") from None


def create_app(console: Console, security: Security) -> Guard:
    env = pages.templates()
    hub = EventHub(Watcher(console), interval_s=console.settings.poll_interval_s)
    doc = openapi.document()

    def page(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        project = (request.query_params.get("project") or "").strip() or None
        if project not in {p.name for p in console.projects}:
            project = None
        names = console.names()
        body = env.get_template(template).render(
            projects=console.projects, project=project, path=request.url.path,
            pq=f"?project={quote(project)}" if project else "", multi=len(console.projects) > 1,
            who=lambda s: formatting.who(s, names), roster_all=console.roster(), **context,
        )
        return HTMLResponse(body, status_code=http_status, headers=PAGE_HEADERS)

    def html_page(fn: Callable[[Request], pages.Page]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                template, context = await asyncio.to_thread(fn, request)
            except BatonError as exc:
                status = _error_status(exc)
                return page(request, "error.html", status, code=status, message=str(exc))
            return page(request, template, **context)
        return endpoint

    # -- API: reads ----------------------------------------------------------------

    def api_health(request: Request) -> Any:
        known(request.query_params, ())
        return console.health()

    def api_operators(request: Request) -> Any:
        known(request.query_params, ("project",))
        return console.operators(request.query_params.get("project") or None)

    def api_sessions(request: Request) -> Any:
        known(request.query_params, SESSION_PARAMS)
        return console.sessions(console.session_query(request.query_params))

    def api_session(request: Request) -> Any:
        known(request.query_params, ("project",))
        from lib.console import render

        return console.session(request.path_params["session_id"], request.query_params.get("project") or None,
                               render=render.markdown_html)

    def api_workstreams(request: Request) -> Any:
        params = request.query_params
        known(params, ("project", "owner", "status"))
        return console.workstreams(project=params.get("project") or None,
                                   owner=console.resolve_operator(params.get("owner"), "owner"),
                                   status=choice(params.get("status"), "status", pages.WORKSTREAM_STATUSES))

    def api_chains(request: Request) -> Any:
        params = request.query_params
        known(params, ("project", "status"))
        return console.chains(project=params.get("project") or None,
                              status=choice(params.get("status"), "status", CHAIN_STATUSES))

    def api_chain(request: Request) -> Any:
        known(request.query_params, ())
        return console.chain(request.path_params["chain_id"])

    def api_insights(request: Request) -> Any:
        known(request.query_params, ("project", "since", "until", "operator", "workstream"))
        return console.insights(**pages.insight_args(console, request.query_params, None))

    def api_telemetry(request: Request) -> Any:
        params = request.query_params
        known(params, ("project", "include_ended"))
        return console.telemetry(project=params.get("project") or None,
                                 include_ended=parse_bool(params.get("include_ended"), "include_ended"))

    def api_attention(request: Request) -> Any:
        known(request.query_params, ("project",))
        return summaries.attention(console, request.query_params.get("project") or None)

    def api_team(request: Request) -> Any:
        params = request.query_params
        known(params, ("project", "weeks"))
        return summaries.team(console, params.get("project") or None,
                              weeks=parse_int(params.get("weeks"), "weeks", 8, 1, 104))

    async def metrics(request: Request) -> Response:
        try:
            known(request.query_params, ())
            text = await asyncio.to_thread(summaries.metrics, console)
        except BatonError as exc:
            return json_error(_error_status(exc), str(exc))
        return PlainTextResponse(text, media_type=METRICS_TYPE, headers={"Cache-Control": "no-store"})

    # -- API: mutations (token first, then the body) -------------------------------

    async def api_auth(request: Request) -> Response:
        refused = _token_error(security, request, "checking the token")
        return refused or JSONResponse({"ok": True})

    async def api_launch(request: Request) -> Response:
        refused = _token_error(security, request, "starting a chain")
        if refused is not None:
            return refused
        try:
            body = await _json_body(request, required=True)
            launch_request = LaunchRequest.from_json(body)
            project = body.get("project") if isinstance(body.get("project"), str) else None
            result = await asyncio.to_thread(console.launch_chain, launch_request, project or None)
        except BatonError as exc:
            return json_error(_error_status(exc), str(exc))
        return JSONResponse(result, status_code=201, headers={"Location": f"/api/chains/{result['id']}"})

    async def api_stop(request: Request) -> Response:
        refused = _token_error(security, request, "stopping a chain")
        if refused is not None:
            return refused
        try:
            body = await _json_body(request, required=False)
            if not isinstance(body, dict) or set(body) - {"operator"}:
                raise BadRequest("the body may only name the operator who stops the chain: {\"operator\": SLUG}")
            operator = body.get("operator")
            if operator is not None and not isinstance(operator, str):
                raise BadRequest("operator: must be a string")
            result = await asyncio.to_thread(console.stop_chain, request.path_params["chain_id"], operator)
        except BatonError as exc:
            return json_error(_error_status(exc), str(exc))
        return JSONResponse(result)

    async def session_raw(request: Request) -> Response:
        project = request.query_params.get("project") or None
        try:
            known(request.query_params, ("project",))
            path = await asyncio.to_thread(console.session_file, request.path_params["session_id"], project)
        except BatonError as exc:
            return json_error(_error_status(exc), str(exc))
        return FileResponse(path, media_type="text/plain; charset=utf-8",
                            headers={"Content-Security-Policy": RAW_CSP, "Content-Disposition": "inline"})

    async def api_openapi(request: Request) -> Response:
        return JSONResponse(doc)

    async def api_events(request: Request) -> Response:
        params = request.query_params
        try:
            known(params, ("project", "last_event_id"))
            project = params.get("project") or None
            if project is not None:
                console.project(project)
            raw_last = request.headers.get("last-event-id") or params.get("last_event_id")
            last_id = parse_int(raw_last, "last_event_id", 0, 0, 2**62) if raw_last else None
        except BatonError as exc:
            return json_error(_error_status(exc), str(exc))
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

    # -- pages ---------------------------------------------------------------------

    def params_of(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    routes = [
        Route("/", html_page(lambda r: pages.dashboard(console, params_of(r))), name="dashboard"),
        Route("/chains", html_page(lambda r: pages.chains(console, params_of(r))), name="chains"),
        Route("/chains/{chain_id}", html_page(lambda r: pages.chain(console, r.path_params["chain_id"])),
              name="chain"),
        Route("/sessions", html_page(lambda r: pages.sessions(console, params_of(r))), name="sessions"),
        Route("/sessions/{session_id}",
              html_page(lambda r: pages.session(console, r.path_params["session_id"], params_of(r))), name="session"),
        Route("/sessions/{session_id}/raw", session_raw, name="session_raw"),
        Route("/workstreams", html_page(lambda r: pages.workstreams(console, params_of(r))), name="workstreams"),
        Route("/insights", html_page(lambda r: pages.insights(console, params_of(r))), name="insights"),
        Route("/team", html_page(lambda r: pages.team(console, params_of(r))), name="team"),
        Route("/search", html_page(lambda r: pages.search(console, params_of(r))), name="search"),
        Route("/metrics", metrics, name="metrics"),
        Route("/openapi.json", api_openapi, name="openapi"),
        Route("/api/health", _api(api_health)),
        Route("/api/auth", api_auth, methods=["POST"]),
        Route("/api/attention", _api(api_attention)),
        Route("/api/team", _api(api_team)),
        Route("/api/operators", _api(api_operators)),
        Route("/api/sessions", _api(api_sessions)),
        Route("/api/sessions/{session_id}", _api(api_session)),
        Route("/api/workstreams", _api(api_workstreams)),
        Route("/api/chains", _api(api_chains), methods=["GET"]),
        Route("/api/chains", api_launch, methods=["POST"]),
        Route("/api/chains/{chain_id}", _api(api_chain)),
        Route("/api/chains/{chain_id}/stop", api_stop, methods=["POST"]),
        Route("/api/insights", _api(api_insights)),
        Route("/api/telemetry", _api(api_telemetry)),
        Route("/api/events", api_events),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await asyncio.to_thread(console.close)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        404: _not_found, 405: _not_allowed, 500: _server_error})
    guarded = Guard(app, security)
    guarded.hub = hub
    guarded.console = console
    return guarded


async def _not_found(request: Request, exc: Exception) -> Response:
    return json_error(404, f"no such page: {clip_input(request.url.path)}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return json_error(405, f"{quote_input(request.method, 20)} is not allowed here")


async def _server_error(request: Request, exc: Exception) -> Response:
    return json_error(500, "internal error (see the console's log)")
