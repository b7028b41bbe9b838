"""Clients that read a response slowly on purpose, on raw sockets: one that asks for a large
answer and never reads it, one that reads it a byte at a time, one that reads it at a steady
rate.

Each shrinks its receive buffer before connecting, so that its own kernel holds little of the
answer. The server's kernel still takes a few MiB at once on loopback (its send buffer grows to
`tcp_wmem`'s most, 4 MiB by default): an answer the server's transport must hold, pausing its
writing, is larger than that.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass

from tests.support.slow_clients import CLOSE_BOUND_SECONDS

# The kernel doubles it, and never goes below its own minimum: a few KiB.
SMALL_RECEIVE_BUFFER = 4096
_HEAD_END = b"\r\n\r\n"


def unread_request(port: int, target: str, *, headers: str = "") -> socket.socket:
    """Send a GET for `target` and return once its answer has started to arrive, unread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RECEIVE_BUFFER)
    sock.settimeout(CLOSE_BOUND_SECONDS)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    readable, _, _ = select.select([sock], [], [], CLOSE_BOUND_SECONDS)
    assert readable, "the answer never started"
    return sock


def ended_by_server(sock: socket.socket, *, timeout: float = CLOSE_BOUND_SECONDS) -> bool:
    """Wait up to `timeout`, reading nothing, for the server to end or reset the connection."""
    poller = select.poll()
    # Hang-ups and errors are always reported; the data waiting to be read is not asked about.
    poller.register(sock, select.POLLRDHUP)
    return bool(poller.poll(timeout * 1000))


@dataclass(frozen=True)
class ReadToTheEnd:
    received: bytes
    reset: bool  # the server reset the connection (else it ended it)


def read_to_the_end(sock: socket.socket) -> ReadToTheEnd:
    """Read all that is left until the server ends or resets the connection, at full speed."""
    received = bytearray()
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return ReadToTheEnd(bytes(received), reset=True)
    return ReadToTheEnd(bytes(received), reset=False)


def trickled_until_ended(sock: socket.socket, *, tick_seconds: float = 0.05) -> bool:
    """Read a byte a tick until the server ends or resets the connection (True), or the bound
    passes (False)."""
    given_up_at = time.monotonic() + CLOSE_BOUND_SECONDS
    while time.monotonic() < given_up_at:
        if ended_by_server(sock, timeout=tick_seconds):
            return True
        assert sock.recv(1), "the answer ended"
    return False


def read_steadily(
    sock: socket.socket, *, bytes_per_second: float, for_seconds: float
) -> tuple[bytes, bytes]:
    """Read an answer no faster than `bytes_per_second` for `for_seconds`, then the rest of it
    (the body its Content-Length announces) at full speed; its head and its body."""
    started = time.monotonic()
    received = bytearray()
    whole: int | None = None
    while whole is None or len(received) < whole:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(received)} bytes"
        received += chunk
        if whole is None and _HEAD_END in received:
            whole = _whole_length(received)
        behind = started + len(received) / bytes_per_second - time.monotonic()
        if behind > 0 and time.monotonic() - started < for_seconds:
            time.sleep(behind)
    head, _, body = bytes(received).partition(_HEAD_END)
    return head, body


def _whole_length(received: bytearray) -> int:
    head, _, _ = bytes(received).partition(_HEAD_END)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + len(_HEAD_END) + int(value)
    raise AssertionError(f"no Content-Length: {head!r}")
