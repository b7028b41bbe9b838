"""Clients that send a request head, or a chunked body's trailers, that never ends, as fast as
the server takes them, on raw sockets; and one whose heads and bodies are many but each small.

"Cut" is read on the socket: a send refused, or the end of file or a reset once `most_bytes`
are sent (a server that holds the connection is waited for up to the close bound).
"""

from __future__ import annotations

import http.client
import io
import socket
from typing import BinaryIO

from .slow_clients import CLOSE_BOUND_SECONDS

_PIECE = b"a" * 65536


def endless_header_cut(sock: socket.socket, *, most_bytes: int) -> bool:
    """A GET whose one header's value never ends: whether the server cut it."""
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Endless: ")
    return _endless_cut(sock, most_bytes)


def endless_trailer_cut(sock: socket.socket, path: str, *, most_bytes: int) -> bool:
    """A chunked POST whose body ends, followed by a trailer whose value never ends: whether the
    server cut it."""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\nX-Endless: ".encode()
    )
    return _endless_cut(sock, most_bytes)


def _endless_cut(sock: socket.socket, most_bytes: int) -> bool:
    sent = 0
    try:
        while sent < most_bytes:
            sock.sendall(_PIECE)
            sent += len(_PIECE)
    except (BrokenPipeError, ConnectionResetError):
        return True
    # Cut with an answer (h11's 400) or without one: either ends in an end of file or a reset.
    sock.settimeout(CLOSE_BOUND_SECONDS)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


class _KeptOpen(io.BufferedReader):
    """A response closes its reader once read; the next response on the connection needs it."""

    def close(self) -> None:
        pass


class _OneReader:
    """What `http.client.HTTPResponse` reads a response from: one buffered reader for all the
    responses on a connection (a reader each would lose what the previous one read ahead)."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = _KeptOpen(socket.SocketIO(sock, "rb"))

    def makefile(self, mode: str) -> BinaryIO:
        return self._file


def pipelined_statuses(sock: socket.socket, requests: bytes, count: int) -> list[int]:
    """Send `requests` in one write; the statuses of the first `count` responses."""
    sock.sendall(requests)
    reader = _OneReader(sock)
    statuses = []
    for _ in range(count):
        response = http.client.HTTPResponse(reader)  # type: ignore[arg-type]
        response.begin()
        response.read()
        statuses.append(response.status)
    return statuses
