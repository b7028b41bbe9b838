"""A server on loopback whose answer never ends, or ends too slowly: a hostile dependency.

It answers its first connection's request with a 200 whose body is `prefix` and then
`padding_bytes` of white space (valid after JSON), sent as fast as the client takes it or, with
`byte_interval`, a byte at a time. It stops when the client closes the connection, when the
padding is all sent (`completed`) or when the test ends, whichever comes first.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_CHUNK = b" " * 65536


@dataclass
class UnboundedServer:
    listener: socket.socket
    prefix: bytes
    padding_bytes: int
    byte_interval: float | None
    declare_length: bool
    sent: int = 0
    completed: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}/"

    def serve_one(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            self.done.set()  # closed before any client came
            return
        with connection:
            try:
                self._answer(connection)
            except OSError:
                pass  # the client closed the connection: what a bounded client does
            finally:
                self.done.set()

    def _answer(self, connection: socket.socket) -> None:
        request = connection.recv(65536)  # its body, if any, is small
        length = len(self.prefix) + self.padding_bytes
        framing = (
            f"Content-Length: {length}" if self.declare_length else "Transfer-Encoding: chunked"
        )
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode()
        )
        if request.startswith(b"HEAD "):
            self.completed = True  # the head says how long the body would be, and is all
            return
        self._send(connection, self.prefix)
        while self.sent < length and not self.stopping.is_set():
            if self.byte_interval is not None:
                self._send(connection, b" ")
                self.stopping.wait(self.byte_interval)
            else:
                self._send(connection, _CHUNK[: length - self.sent])
        if self.sent == length:
            if not self.declare_length:
                connection.sendall(b"0\r\n\r\n")
            self.completed = True

    def _send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(b"%x\r\n%b\r\n" % (len(data), data) if not self.declare_length else data)
        self.sent += len(data)

    def wait_done(self) -> None:
        """Until the server stopped sending: the client closed, or it sent everything."""
        assert self.done.wait(30), "the server is still sending"


@contextmanager
def unbounded_server(
    *,
    prefix: bytes = b"{}",
    padding_bytes: int = 64 * 1024 * 1024,
    byte_interval: float | None = None,
    declare_length: bool = False,
) -> Iterator[UnboundedServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = UnboundedServer(listener, prefix, padding_bytes, byte_interval, declare_length)
    thread = threading.Thread(target=server.serve_one, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes an accept no client answered
        listener.close()
        thread.join(5)
