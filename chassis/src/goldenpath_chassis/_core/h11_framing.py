"""h11's server connection, refusing a request framed twice (RFC 9112 section 6.1).

A request that carries both `Content-Length` and `Transfer-Encoding` is the shape of request
smuggling: a proxy in front that frames it by its length forwards, as this request's body,
bytes the service, framing it by chunks, reads as a next request (or the other way round).
h11 frames it by chunks and keeps the connection, which the RFC forbids ("the server MUST close
the connection after responding"). httptools refuses it with 400 and closes; this connection
makes h11 do the same, by the same route (uvicorn answers a `RemoteProtocolError` with a 400 and
closes): one answer whichever parser serves, and a request whose body a proxy may have framed
otherwise never reaches a handler.
"""

from __future__ import annotations

from collections.abc import Iterable

import h11

_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"


class FramedOnceConnection(h11.Connection):
    """An `h11.Connection` whose requests carry one framing header at most."""

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        event = super().next_event()
        if type(event) is h11.Request and _framed_twice(event.headers):
            raise h11.RemoteProtocolError("Content-Length with Transfer-Encoding")
        return event


def _framed_twice(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    names = {name for name, _ in headers}  # lowercased by h11
    return _CONTENT_LENGTH in names and _TRANSFER_ENCODING in names
