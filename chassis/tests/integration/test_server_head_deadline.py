"""SEC-1 (CWE-400): the request-head deadline with both HTTP protocols uvicorn can pick.

The service runs httptools (the process tests cover it end to end); h11 is uvicorn's fallback
when httptools is absent, and gets the same deadline. Here a real uvicorn server on a loopback
socket, in the test's event loop, with each protocol; the clients are raw sockets in a thread.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.types import Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.protocol_server import NEVER, serving
from tests.support.slow_clients import (
    closed_by_server,
    connect,
    get_on,
    slow_complete_head,
    trickled_until_closed,
)

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@PROTOCOLS
async def test_sec1_a_new_connection_that_sends_nothing_is_closed_when_idle(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    # The head deadline is never reached: only the idle timer can close this connection.
    async with serving(ok, protocol, head_seconds=NEVER, idle_seconds=0.5) as port:
        with connect(port) as silent:
            assert await asyncio.to_thread(closed_by_server, silent)


@PROTOCOLS
async def test_sec1_a_trickled_request_head_is_closed_at_its_deadline(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    async with serving(ok, protocol, head_seconds=1.0, idle_seconds=NEVER) as port:
        with connect(port) as slowloris:
            assert await asyncio.to_thread(trickled_until_closed, slowloris)


@PROTOCOLS
async def test_sec1_a_keep_alive_connection_times_each_head_from_its_first_byte(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    def two_requests_a_pause_apart(port: int) -> list[int]:
        with connect(port) as client:
            first = get_on(client, "/").status
            # Longer than the head deadline, shorter than the keep-alive timeout.
            time.sleep(2.0)
            second = slow_complete_head(client, "/", pieces=3, pause_seconds=0.1).status
            return [first, second]

    async with serving(ok, protocol, head_seconds=1.0, idle_seconds=NEVER) as port:
        assert await asyncio.to_thread(two_requests_a_pause_apart, port) == [200, 200]


IDLE_SECONDS = 0.5


async def answer_after_idle(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers only once the connection has been open for longer than the idle timeout."""
    await asyncio.sleep(IDLE_SECONDS * 2)
    await ok(scope, receive, send)


@PROTOCOLS
async def test_sec1_a_head_that_arrives_whole_stops_the_idle_timer(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    # h11 says no head started when the whole head is in the first read: the idle timer, armed
    # when the connection opened, closed it mid-request (and a keep-alive connection in use).
    def get_in_one_write(port: int) -> int:
        with connect(port) as client:
            return get_on(client, "/").status

    async with serving(
        answer_after_idle, protocol, head_seconds=NEVER, idle_seconds=IDLE_SECONDS
    ) as port:
        assert await asyncio.to_thread(get_in_one_write, port) == 200
