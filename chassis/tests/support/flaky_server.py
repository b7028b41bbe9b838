"""A scriptable HTTP server on loopback that fails on purpose, for resilience tests.

Each request takes the next behaviour from `script` (then `default`): answer with a status,
hang for a while before answering, or drop the connection without a response. Every arrival is
recorded with its time, method, path and headers, so tests can measure retry delays.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from goldenpath_chassis.testing.loopback_http import loopback_http_server


@dataclass(frozen=True)
class Respond:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"{}"


@dataclass(frozen=True)
class Hang:
    seconds: float
    then: Respond = Respond()


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering."""


Behaviour = Respond | Hang | Drop


@dataclass(frozen=True)
class Arrival:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FlakyServer:
    server: ThreadingHTTPServer
    script: deque[Behaviour] = field(default_factory=deque)
    default: Behaviour = field(default_factory=Respond)
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def then(self, *behaviours: Behaviour) -> None:
        with self.lock:
            self.script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        with self.lock:
            self.script.clear()
            self.default = behaviour

    def next_behaviour(self) -> Behaviour:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def gaps(self) -> list[float]:
        """Seconds between consecutive arrivals."""
        times = [arrival.at for arrival in self.arrivals]
        return [later - earlier for earlier, later in itertools.pairwise(times)]


def _handler(flaky: FlakyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            with flaky.lock:
                flaky.arrivals.append(
                    Arrival(time.monotonic(), self.command, self.path, dict(self.headers), body)
                )
            behaviour = flaky.next_behaviour()
            if isinstance(behaviour, Drop):
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(behaviour, Hang):
                time.sleep(behaviour.seconds)
                behaviour = behaviour.then
            self.send_response(behaviour.status)
            for name, value in behaviour.headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(behaviour.body)))
            self.end_headers()
            self.wfile.write(behaviour.body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def flaky_server() -> Iterator[FlakyServer]:
    with loopback_http_server() as server:
        flaky = FlakyServer(server)
        server.RequestHandlerClass = _handler(flaky)
        yield flaky
