"""A request answered while its client waits for `100 Continue` closes its connection, with both
HTTP protocols uvicorn can pick.

The client has sent no body and was told neither to send it nor that the connection ends: its
next bytes may be the body or its next request. uvicorn counted them as the body, so a request
was read as a body and what followed it as a request (a desync, where a proxy sends several
clients' requests on one connection). A real uvicorn server on a loopback socket, in the
test's event loop (tests/support/protocol_server.py); the client is a raw socket in a thread.
"""

from __future__ import annotations

import asyncio
import http.client

import pytest
from starlette.types import Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.protocol_server import serving
from tests.support.slow_clients import body_after_continue, connect, get_on, until_closed

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
DECLARED = b"12345"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"


async def refuse_unread(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 401 without reading the body (as the service does without credentials), any
    path but `/smuggled`, which answers 200, and `/read`, which reads the body first."""
    status = 200 if scope["path"] in {"/smuggled", "/read"} else 401
    if scope["path"] == "/read":
        while (await receive()).get("more_body"):
            pass
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"answered"})


def after_an_early_answer(port: int) -> tuple[int, bytes]:
    """POST with `Expect: 100-continue`, read the early answer, then send as many bytes as the
    body declared followed by a request; the answer's status, and all the server sent after."""
    with connect(port) as client:
        client.sendall(
            b"POST /upload HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(DECLARED)
        )
        response = http.client.HTTPResponse(client)
        response.begin()
        response.read()
        try:
            client.sendall(DECLARED + SMUGGLED)
        except (BrokenPipeError, ConnectionResetError):
            return response.status, b""
        return response.status, until_closed(client)


@PROTOCOLS
async def test_sec1_an_answer_before_100_continue_closes_the_connection(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with serving(refuse_unread, protocol) as port:
        status, after = await asyncio.to_thread(after_an_early_answer, port)
    assert status == 401
    assert after == b"", "bytes after an early answer were read as a body, then a request"


@PROTOCOLS
async def test_sec1_a_body_sent_after_100_continue_keeps_the_connection(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    def body_then_next_request(port: int) -> list[int]:
        with connect(port) as client:
            status, _ = body_after_continue(client, "/read", DECLARED)
            return [status, get_on(client, "/smuggled").status]

    async with serving(refuse_unread, protocol) as port:
        assert await asyncio.to_thread(body_then_next_request, port) == [200, 200]
