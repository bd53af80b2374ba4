"""A real HTTP server on 127.0.0.1 for a test: any handler class, a free port, served from a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """One ThreadingHTTPServer on 127.0.0.1 (a port the system picks) and the thread serving it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str = "test-http",
                 poll_interval: float = 0.05) -> None:
        self._handler = handler
        self._name = name
        self._poll = poll_interval
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` while serving."""
        if self._server is None:
            raise RuntimeError(f"{self._name}: server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": self._poll},
                                        name=self._name, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Shut down and close the socket; a no-op when not serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *, poll_interval: float = 0.05) -> Iterator[str]:
    """Serve `handler` until the block ends; yields the base URL `http://127.0.0.1:PORT`."""
    server = LocalServer(handler, poll_interval=poll_interval)
    try:
        yield server.start()
    finally:
        server.stop()
