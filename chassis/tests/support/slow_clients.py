"""Clients that are slow on purpose, on raw sockets: one that connects and sends nothing, one
that sends a request head a byte at a time (slowloris), one that sends a head slowly but whole,
one that sends a body a byte at a time, one that sends a body slowly but whole.

"Closed" is read on the socket (end of file, or a reset), within a bound far above any deadline
the tests set: how soon is not measured, only that the server let go.
"""

from __future__ import annotations

import http.client
import select
import socket
import time

# Far above the deadlines the tests set (a few seconds); reached only when nothing closes.
CLOSE_BOUND_SECONDS = 30.0
TRICKLED_HEAD = b"GET /health/live HTTP/1.1\r\n"
# Endless in practice: one byte a tick for far longer than the bound.
_TRICKLED_HEADER = b"X-Slow: " + b"a" * 1000
_TRICKLED_BODY_BYTES = 100_000


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=CLOSE_BOUND_SECONDS)


def closed_by_server(sock: socket.socket) -> bool:
    """Wait up to the bound for the server to close a connection it was sent nothing on."""
    sock.settimeout(CLOSE_BOUND_SECONDS)
    try:
        received = sock.recv(1024)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    assert received == b"", f"the server answered instead of closing: {received!r}"
    return True


def until_closed(sock: socket.socket) -> bytes:
    """All the server sends until it closes the connection (an end of file, or a reset); a
    server that holds it past the bound fails with `TimeoutError`."""
    sock.settimeout(CLOSE_BOUND_SECONDS)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def trickled_until_closed(sock: socket.socket, *, tick_seconds: float = 0.25) -> bool:
    """Send a request line, then a header a byte a tick, until the server closes (True) or the
    bound passes (False)."""
    sock.sendall(TRICKLED_HEAD)
    given_up_at = time.monotonic() + CLOSE_BOUND_SECONDS
    for byte in _TRICKLED_HEADER:
        readable, _, _ = select.select([sock], [], [], tick_seconds)
        if readable:
            return closed_by_server(sock)
        if time.monotonic() > given_up_at:
            return False
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def slow_complete_head(
    sock: socket.socket, path: str, *, pieces: int, pause_seconds: float
) -> http.client.HTTPResponse:
    """Send a whole GET head in `pieces` parts `pause_seconds` apart; the server's response."""
    head = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Slow: but-complete\r\n\r\n".encode()
    size = -(-len(head) // pieces)
    for start in range(0, len(head), size):
        if start:
            time.sleep(pause_seconds)
        sock.sendall(head[start : start + size])
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response


def get_on(sock: socket.socket, path: str) -> http.client.HTTPResponse:
    """One GET on an open (keep-alive) connection, its whole head in one write."""
    return slow_complete_head(sock, path, pieces=1, pause_seconds=0)


def trickled_body_until_closed(
    sock: socket.socket, path: str, *, tick_seconds: float = 0.25
) -> bytes | None:
    """POST a whole head announcing a large body, then the body a byte a tick, until the server
    closes or the bound passes; what the server sent before it closed, or None if it did not."""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {_TRICKLED_BODY_BYTES}\r\n\r\n".encode()
    )
    answer = b""
    given_up_at = time.monotonic() + CLOSE_BOUND_SECONDS
    while time.monotonic() < given_up_at:
        readable, _, _ = select.select([sock], [], [], tick_seconds)
        try:
            if readable:
                received = sock.recv(65536)
                if not received:
                    return answer
                answer += received
            sock.sendall(b" ")
        except (BrokenPipeError, ConnectionResetError):
            return answer
    return None


def body_in_pieces(
    sock: socket.socket, path: str, body: bytes, *, pieces: int, pause_seconds: float
) -> tuple[int, bytes]:
    """POST a whole head, then `body` in `pieces` parts `pause_seconds` apart; the response's
    status and body."""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    size = -(-len(body) // pieces)
    for start in range(0, len(body), size):
        time.sleep(pause_seconds)
        sock.sendall(body[start : start + size])
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


def body_after_continue(sock: socket.socket, path: str, body: bytes) -> tuple[int, bytes]:
    """POST a head with `Expect: 100-continue`, send `body` only once the server says
    `100 Continue`; the final response's status and body."""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        received = sock.recv(1)
        assert received, f"closed before 100 Continue: {interim!r}"
        interim += received
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    sock.sendall(body)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()
