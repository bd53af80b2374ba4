"""A real HTTP server on 127.0.0.1 for a test: any handler class, a free port, served from a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *, poll_interval: float = 0.05) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (a port the system picks) until the block ends; yields the base URL
    `http://127.0.0.1:PORT`. The server is shut down and its socket closed on the way out."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval},
                              name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
