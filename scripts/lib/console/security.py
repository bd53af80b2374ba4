"""Who may talk to the console: the Host check against DNS rebinding, the token, the request timing header.

- Bound to loopback by default; reads need no token there, so every request whose Host header is
  not the console's own address is refused (a DNS-rebinding page cannot read the API).
- With --allow-remote every request needs the token: `X-Baton-Token`, `Authorization: Bearer`, or
  HTTP Basic with the token as password (so a browser can open the pages).
- Mutations (starting and stopping chains) need the token in `X-Baton-Token` or `Authorization:
  Bearer` whatever the bind: credentials a browser attaches by itself (cookies, Basic) are not
  accepted for them, so another site cannot make a browser start or stop a chain.
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

if TYPE_CHECKING:
    from lib.console.data import Console
    from lib.console.events import EventHub

TOKEN_HEADER = "x-baton-token"


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
        host = (_header(scope, b"host") or "").lower()
        allowed = self.security.allowed_hosts
        if allowed is not None and host not in allowed:
            await json_error(400, f"Host {host or '(none)'!r} is not this console's address")(scope, receive, send)
            return
        if self.security.remote:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            token = header_token(headers, allow_basic=True)
            if token is None:
                response = json_error(401, "this console needs its token (X-Baton-Token, Bearer, or Basic)")
                response.headers["WWW-Authenticate"] = 'Basic realm="baton console", charset="UTF-8"'
                await response(scope, receive, send)
                return
            if not self.security.token_ok(token):
                await json_error(403, "wrong token")(scope, receive, send)
                return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            # Server-Timing: what the console spent before answering (the benchmark reads it).
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={spent:.2f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed_send)


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)
