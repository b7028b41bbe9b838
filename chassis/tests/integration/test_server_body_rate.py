"""SEC-1 (CWE-400): the minimum request-body rate with both HTTP protocols uvicorn can pick.

A real uvicorn server on a loopback socket, in the test's event loop, with each protocol
(tests/support/protocol_server.py); the clients are raw sockets in a thread. Without the body
rate uvicorn holds a connection whose body is trickled for as long as the body lasts, whether
the handler reads it or answered without it.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager

import pytest
from starlette.types import Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.protocol_server import KEEP_ALIVE_SECONDS, serving
from tests.support.slow_clients import (
    body_after_continue,
    body_in_pieces,
    connect,
    trickled_body_until_closed,
)

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
GRACE_SECONDS = 1.0
MIN_BYTES_PER_SECOND = 100.0
# Five times the minimum rate, for twice the grace period.
DECENT_BODY = b"x" * 1000
DECENT_PIECES = 10
DECENT_PAUSE = 0.2
PAUSE_BETWEEN_REQUESTS_SECONDS = 2.0
HANDLER_LATE_SECONDS = 2.0
assert GRACE_SECONDS < PAUSE_BETWEEN_REQUESTS_SECONDS < KEEP_ALIVE_SECONDS


async def refuse_or_read(scope: Scope, receive: Receive, send: Send) -> None:
    """`/refuse` answers 401 without reading the body (as the service does without
    credentials); any other path reads the whole body and answers with its length, `/late`
    only after longer than the grace period."""
    if scope["path"] == "/refuse":
        status, body = 401, b"no"
    else:
        if scope["path"] == "/late":
            await asyncio.sleep(HANDLER_LATE_SECONDS)
        received = 0
        while True:
            message = await receive()
            received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        status, body = 200, str(received).encode()
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def strict_bodies(protocol: type[HeadDeadlineProtocol]) -> AbstractAsyncContextManager[int]:
    return serving(
        refuse_or_read,
        protocol,
        body_min_bytes_per_second=MIN_BYTES_PER_SECOND,
        body_grace_seconds=GRACE_SECONDS,
    )


@PROTOCOLS
async def test_sec1_a_body_trickled_after_an_early_answer_is_closed(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with strict_bodies(protocol) as port:
        with connect(port) as client:
            answer = await asyncio.to_thread(trickled_body_until_closed, client, "/refuse")
    assert answer is not None, "a trickled body is still open"
    assert answer.startswith(b"HTTP/1.1 401 ")


@PROTOCOLS
async def test_sec1_a_body_trickled_to_a_handler_reading_it_is_closed(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with strict_bodies(protocol) as port:
        with connect(port) as client:
            answer = await asyncio.to_thread(trickled_body_until_closed, client, "/read")
    # Closed without a response: the handler was still reading.
    assert answer == b""


@PROTOCOLS
async def test_sec1_a_body_at_a_decent_rate_for_longer_than_the_grace_is_read_whole(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    def send_slowly(port: int) -> tuple[int, bytes]:
        with connect(port) as client:
            return body_in_pieces(
                client, "/read", DECENT_BODY, pieces=DECENT_PIECES, pause_seconds=DECENT_PAUSE
            )

    async with strict_bodies(protocol) as port:
        started = time.monotonic()
        assert await asyncio.to_thread(send_slowly, port) == (200, b"%d" % len(DECENT_BODY))
        assert time.monotonic() - started > GRACE_SECONDS


@PROTOCOLS
async def test_sec1_a_keep_alive_client_pausing_after_a_body_is_served(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    def two_bodies_a_pause_apart(port: int) -> list[tuple[int, bytes]]:
        with connect(port) as client:
            first = body_in_pieces(client, "/read", b"first", pieces=1, pause_seconds=0)
            # Longer than the grace period, shorter than the keep-alive timeout: a body timer
            # left running after its body would close the connection here.
            time.sleep(PAUSE_BETWEEN_REQUESTS_SECONDS)
            second = body_in_pieces(
                client, "/read", DECENT_BODY, pieces=DECENT_PIECES, pause_seconds=DECENT_PAUSE
            )
            return [first, second]

    async with strict_bodies(protocol) as port:
        assert await asyncio.to_thread(two_bodies_a_pause_apart, port) == [
            (200, b"5"),
            (200, b"%d" % len(DECENT_BODY)),
        ]


@PROTOCOLS
async def test_sec1_a_client_waiting_for_100_continue_is_not_charged_for_the_wait(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    # The client sends no byte of its body until the handler first reads, past the grace period:
    # the wait is the server's.
    def expect_continue(port: int) -> tuple[int, bytes]:
        with connect(port) as client:
            return body_after_continue(client, "/late", DECENT_BODY)

    async with strict_bodies(protocol) as port:
        assert await asyncio.to_thread(expect_continue, port) == (200, b"%d" % len(DECENT_BODY))
