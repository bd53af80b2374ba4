"""Who may talk to the console: the Host check against DNS rebinding, the token, the request timing header.

- Bound to loopback by default; reads need no token there, so every request whose Host header is
  not the console's own address is refused (a DNS-rebinding page cannot read the API).
- With --allow-remote every request needs the token: `X-Baton-Token`, `Authorization: Bearer`, or
  HTTP Basic with the token as password (so a browser can open the pages).
- Mutations (starting and stopping chains) need the token in `X-Baton-Token` or `Authorization:
  Bearer` whatever the bind: credentials a browser attaches by itself (cookies, Basic) are not
  accepted for them, so another site cannot make a browser start or stop a chain.
- Every response (pages, JSON, errors, static files, the event stream, refusals) carries a strict
  Content-Security-Policy with `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff` and
  `Cache-Control: no-store`.
- Another site cannot make a browser fetch anything from the console: a request whose
  `Sec-Fetch-Site` is not `same-origin` or `none` (or, from a browser without fetch metadata, whose
  `Origin` is not the console's) is refused, except a top-level navigation to a page that the user
  clicked (a link to the console from a chat or a wiki keeps working; it cannot read what it opens).
- Error text quotes at most 100 characters of the input it complains about.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.console.queries import quote_input

if TYPE_CHECKING:
    from lib.console.data import Console
    from lib.console.events import EventHub

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
# Sec-Fetch-Dest values of a top-level page load.
_PAGE_DESTS = ("document", "")


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
    names = {host, "localhost"} if is_loopback(host) else {host}
    out: set[str] = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        out.add(f"{shown}:{port}".lower())
        if port == 80:
            out.add(shown.lower())
    out.update(h.lower() for h in extra)
    return frozenset(out)


def is_loopback(host: str) -> bool:
    """Whether the console bound to `host` is reachable from this machine alone."""
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
            await json_error(400, f"Host {quote_input(host or '(none)')} is not this console's address")(
                scope, receive, guarded_send)
            return
        foreign = cross_site(scope, host)
        if foreign is not None:
            await json_error(403, f"refused: a request from another site ({foreign})")(scope, receive, guarded_send)
            return
        if self.security.remote:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            token = header_token(headers, allow_basic=True)
            if token is None:
                response = json_error(401, "this console needs its token (X-Baton-Token, Bearer, or Basic)")
                response.headers["WWW-Authenticate"] = 'Basic realm="baton console", charset="UTF-8"'
                await response(scope, receive, guarded_send)
                return
            if not self.security.token_ok(token):
                await json_error(403, "wrong token")(scope, receive, guarded_send)
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
                and not path.startswith(("/api/", "/static/", "/openapi", "/metrics")) and not path.endswith("/raw")):
            return None
        return f"Sec-Fetch-Site: {quote_input(site, 20)}"
    origin = _header(scope, b"origin")
    if origin is not None:
        _scheme, sep, rest = origin.strip().lower().partition("://")
        if not sep or rest.rstrip("/") != host:
            return f"Origin: {quote_input(origin)}"
    return None


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)
