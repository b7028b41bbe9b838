"""An HTTP server on a free loopback port, served from a thread: the base of the test doubles
for dependencies (an OTLP collector, a flaky partner service, an identity provider's JWKS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def loopback_http_server(
    handler: type[BaseHTTPRequestHandler] = BaseHTTPRequestHandler,
) -> Iterator[ThreadingHTTPServer]:
    """Serve `handler` until the block ends. A double whose handler needs the server (for its
    address) sets `server.RequestHandlerClass` inside the block, before any request is sent."""
    with served_from_a_thread(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield server


@contextmanager
def served_from_a_thread[S: ThreadingHTTPServer](server: S) -> Iterator[S]:
    """Serve a server already bound (a double of its own class) until the block ends; then
    stop it and close its socket."""
    # A short poll interval, so that shutdown() returns within 50 ms rather than 500.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
