"""SEC-1 (CWE-400): a request head, or a chunked body's trailers, has a size on the wire, with
both HTTP protocols uvicorn can pick.

httptools bounds neither, and gathers a header's value by appending each read to what it holds:
a client sending one endless header (or trailer) as fast as it can held the event loop for
seconds. h11 bounds both itself. A real uvicorn server on a loopback socket, in the test's event
loop (tests/support/protocol_server.py); the clients are raw sockets in a thread.
"""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.large_heads import endless_header_cut, endless_trailer_cut, pipelined_statuses
from tests.support.protocol_server import serving
from tests.support.slow_clients import connect

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
HEAD_MAX_BYTES = 64 * 1024
# Far past the bound and what the kernel's buffers take on loopback, well short of what takes
# httptools seconds to gather.
ENDLESS_BYTES = 8 * 1024 * 1024
PIPELINED = 400


async def read_body(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers with its length."""
    received = 0
    more_body = True
    while more_body:
        message = await receive()
        received += len(message.get("body", b""))
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(received).encode()})


@PROTOCOLS
async def test_sec1_an_endless_request_header_is_cut(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with serving(read_body, protocol, head_max_bytes=HEAD_MAX_BYTES) as port:
        with connect(port) as client:
            assert await asyncio.to_thread(endless_header_cut, client, most_bytes=ENDLESS_BYTES), (
                "an endless header is still read"
            )


@PROTOCOLS
async def test_sec1_an_endless_trailer_after_a_chunked_body_is_cut(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with serving(read_body, protocol, head_max_bytes=HEAD_MAX_BYTES) as port:
        with connect(port) as client:
            assert await asyncio.to_thread(
                endless_trailer_cut, client, "/", most_bytes=ENDLESS_BYTES
            ), "an endless trailer is still read"


@PROTOCOLS
async def test_sec1_many_small_requests_and_a_large_body_in_one_write_are_served(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    # Far more than the bound in all, each head under it: only a head's own bytes count.
    body = b"x" * (4 * HEAD_MAX_BYTES)
    chunked = b"%x\r\n%s\r\n0\r\nX-Trailer: small\r\n\r\n" % (len(body), body)
    get = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"p" * 1000 + b"\r\n\r\n"
    post = b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    requests = get * PIPELINED + post + get

    def send_all(port: int) -> list[int]:
        with connect(port) as client:
            return pipelined_statuses(client, requests, PIPELINED + 2)

    async with serving(read_body, protocol, head_max_bytes=HEAD_MAX_BYTES) as port:
        assert await asyncio.to_thread(send_all, port) == [200] * (PIPELINED + 2)
