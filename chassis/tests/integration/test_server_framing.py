"""A request framed twice (both `Content-Length` and `Transfer-Encoding`) is refused with 400
and its connection closed, with both HTTP protocols uvicorn can pick (RFC 9112 section 6.1);
so is a chunk whose data is not followed by CRLF (RFC 9112 section 7.1), and, with httptools,
a request target too long for its URL parser.

It is the shape of request smuggling: a proxy in front that frames it by its length forwards,
as its body, what the server framing it by chunks reads as a next request. h11 framed it by
chunks and kept the connection, so the request hidden in the body was served; httptools
already refused it. A real uvicorn server on a loopback socket, in the test's event loop
(tests/support/protocol_server.py); the client is a raw socket in a thread.
"""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline
from goldenpath_chassis._core.server import HEAD_BYTES_PER_HEADER_BYTE
from goldenpath_chassis._core.settings.groups import RequestLimitSettings

from tests.support.protocol_server import serving
from tests.support.slow_clients import connect, until_closed

pytestmark = pytest.mark.integration

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
# The body as a proxy framing by length forwards it: the chunked body's end, then a request.
BODY = b"0\r\n\r\n" + SMUGGLED


async def read_and_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body to its end, then answers 200 with the path."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


# A chunk's data ends with CRLF. h11 before 0.16.0 took any two bytes there (CVE-2025-43859):
# a proxy that reads on to the next CRLF sees another body, and the two disagree on where the
# next request starts. The chassis's floor for h11 is the release that refuses it.
MISTERMINATED_CHUNK = b"5\r\nhelloXX0\r\n\r\n"


def send_and_read(port: int, request: bytes) -> bytes:
    """All the server sent, until it closed, for bytes sent in one write."""
    with connect(port) as client:
        client.sendall(request)
        return until_closed(client)


def framed_twice(port: int) -> bytes:
    """POST a request with both framing headers (and a request after its chunked end) in one
    write; all the server sent until it closed."""
    return send_and_read(
        port,
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%s" % (len(BODY), BODY),
    )


@pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
async def test_sec1_a_request_framed_twice_is_refused_and_its_connection_closed(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with serving(read_and_answer, protocol) as port:
        received = await asyncio.to_thread(framed_twice, port)
    assert received.startswith(b"HTTP/1.1 400 "), received
    assert received.count(b"HTTP/1.1 ") == 1, f"a request after it was served: {received!r}"


@pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
async def test_sec1_a_chunk_not_ended_by_crlf_is_refused_and_its_connection_closed(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    request = (
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        + MISTERMINATED_CHUNK
        + SMUGGLED
    )
    async with serving(read_and_answer, protocol) as port:
        received = await asyncio.to_thread(send_and_read, port, request)
    assert received.startswith(b"HTTP/1.1 400 "), received
    assert received.count(b"HTTP/1.1 ") == 1, f"a request after it was served: {received!r}"


# httptools before 0.8.0 read a request target with http-parser's URL parser, which keeps each
# part's offset and length in 16 bits (MagicStack/httptools#142): a path of 65,536 bytes and
# more reached the app cut to its length less 65,536. A proxy that routes or authorizes on the
# whole target and the app on what is left disagree on the path. The default head limit lets a
# target this long through (`HEAD_BYTES_PER_HEADER_BYTE`).
WRAPPED_PATH = b"/admin" + b"/" * 65_536


async def test_sec1_a_target_too_long_for_httptools_url_parser_is_refused() -> None:
    request = b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % WRAPPED_PATH
    default_header_bytes = RequestLimitSettings.model_fields["max_header_bytes"].default
    head_max_bytes = default_header_bytes * HEAD_BYTES_PER_HEADER_BYTE
    assert len(request) < head_max_bytes
    async with serving(
        read_and_answer, HttpToolsWithHeadDeadline, head_max_bytes=head_max_bytes
    ) as port:
        received = await asyncio.to_thread(send_and_read, port, request)
    assert received.startswith(b"HTTP/1.1 400 "), f"served as {received[-40:]!r}"
