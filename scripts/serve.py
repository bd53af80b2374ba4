#!/usr/bin/env python3
"""The console: a live web dashboard, an HTTP API and Prometheus metrics over one or more repositories; starts and stops chains.

    serve.py [--port 8765] [--host 127.0.0.1] [--project-dir PATH ...] [--allow-remote]

Bound to 127.0.0.1 by default. A token is generated at every start, written to
.claude/state/serve.token (mode 0600) of the first project and printed: stopping a chain
and starting a chain need it, and with --allow-remote every request does. See docs/console.md.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.core import atomic, cli
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, find_root

if TYPE_CHECKING:
    from lib.console.app import Security
    from lib.console.data import Console

PROG = "serve.py"
TOKEN_FILE = "serve.token"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535; 0 picks a free one)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.01 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range (0.01-3600 seconds)")
    return value


def _kib(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number of KiB") from None
    if not 1 <= value <= 64 * 1024:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1-65536 KiB)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; anything but loopback needs --allow-remote)")
    parser.add_argument("--project-dir", type=Path, action="append", metavar="PATH",
                        help="a repository to serve; repeat for several (default: the current repository)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback bind; every request then needs the token")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="another Host header value to accept (e.g. a name behind an SSH tunnel or proxy)")
    parser.add_argument("--poll-interval", type=_seconds, default=0.25, metavar="S",
                        help="how often to look for changes for live updates (default 0.25 s)")
    parser.add_argument("--stop-timeout", type=_seconds, default=20.0, metavar="S",
                        help="how long the Stop button waits for the runner (default 20 s)")
    parser.add_argument("--launch-timeout", type=_seconds, default=20.0, metavar="S",
                        help="how long starting a chain waits for it to reach the registry (default 20 s)")
    parser.add_argument("--max-note-kib", type=_kib, default=256, metavar="KIB",
                        help="show at most this much of a note's body (default 256 KiB; the rest is one "
                             "click away, as plain text)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def _projects(paths: list[Path] | None) -> list[Path]:
    roots = [p.expanduser().resolve() for p in paths] if paths else [find_root()]
    seen: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise BatonError(f"--project-dir {root}: not a folder")
        if root not in seen:
            seen.append(root)
    return seen


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then, and without
    # it a response written in two parts waits 40 ms for a delayed ACK on a keep-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BatonError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Stopped(Exception):
    pass


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped()


def write_token(root: Path, token: str) -> Path:
    path = root / STATE_DIR / TOKEN_FILE
    atomic.write_text(path, token + "\n", mode=0o600)
    return path


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the web stack is loaded only by the console.
    from lib.console.app import Security, allowed_hosts_for
    from lib.console.data import Console, Settings
    from lib.console.security import is_loopback

    if not is_loopback(args.host) and not args.allow_remote:
        raise BatonError(f"--host {args.host} is not a loopback address: add --allow-remote "
                         "(every request will then need the token)")
    roots = _projects(args.project_dir)
    console = Console(roots, Settings(poll_interval_s=args.poll_interval, stop_timeout_s=args.stop_timeout,
                                      launch_timeout_s=args.launch_timeout, max_body_bytes=args.max_note_kib * 1024))
    started = time.monotonic()
    notes = console.warm()
    print(f"store index: {notes} notes up to date in {time.monotonic() - started:.1f} s", flush=True)
    sock = _bind(args.host, args.port)
    token = secrets.token_urlsafe(32)
    token_path = roots[0] / STATE_DIR / TOKEN_FILE
    security = Security(token=token, remote=not is_loopback(args.host),
                        allowed_hosts=allowed_hosts_for(args.host, sock.getsockname()[1], tuple(args.allowed_host)))
    # A stop (Ctrl-C, SIGTERM) is the normal end of a console, at any moment from here on; uvicorn
    # re-raises the signal that stopped it once it is done.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        write_token(roots[0], token)
        _run(console, security, sock, args, token, token_path)
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        with contextlib.suppress(OSError):
            if token_path.read_text(encoding="utf-8").strip() == token:
                os.unlink(token_path)
    return 0


def _run(console: Console, security: Security, sock: socket.socket, args: argparse.Namespace, token: str,
         token_path: Path) -> None:
    import uvicorn
    from lib.console.app import create_app

    # From here until uvicorn installs its own handlers (and after it restores these and re-raises
    # the signal that stopped it), a stop must not raise inside uvicorn's set-up: note it instead.
    server: Any = None
    stops: list[int] = []

    def note_stop(signum: int, frame: object) -> None:
        stops.append(signum)
        if server is not None:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, note_stop)
    app = create_app(console, security)
    host = args.host
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    print(f"baton console on {url}  ({', '.join(f'{p.name}={p.root}' for p in console.projects)})", flush=True)
    print(f"token: {token}  (also in {token_path}, mode 0600; new at every start)", flush=True)
    print(f"open with the Stop button armed: {url}#token={token}", flush=True)
    if security.remote:
        print("remote mode: every request needs the token (X-Baton-Token, Bearer, or Basic with the token as "
              "password); the traffic is not encrypted: prefer an SSH tunnel", flush=True)
    hub = app.hub

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            # Event streams never end by themselves: end them so the server stops at once.
            if hub is not None:
                hub.close_threadsafe()
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    config = uvicorn.Config(app, log_level="warning", access_log=args.access_log, lifespan="on",
                            timeout_graceful_shutdown=2, proxy_headers=False, server_header=False)
    server = Server(config)
    server.should_exit = bool(stops)
    server.run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run(lambda: _serve(args), PROG)


if __name__ == "__main__":
    raise SystemExit(main())
