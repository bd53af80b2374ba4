"""Run the console app on a real HTTP server on 127.0.0.1 (a free port), in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from lib.console.app import Guard, Security, allowed_hosts_for, create_app
from lib.console.data import Console, Settings


@dataclass
class Running:
    url: str
    port: int
    token: str
    app: Guard


@contextlib.contextmanager
def serve(roots: list[Path], *, token: str = "test-token", settings: Settings | None = None) -> Iterator[Running]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    console = Console(roots, settings or Settings(poll_interval_s=0.05))
    app = create_app(console, Security(token=token, allowed_hosts=allowed_hosts_for("127.0.0.1", port)))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.01)
    try:
        yield Running(f"http://127.0.0.1:{port}", port, token, app)
    finally:
        if app.hub is not None:
            app.hub.close_threadsafe()
        server.should_exit = True
        thread.join(10)
        sock.close()
