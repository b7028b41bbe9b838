"""SEC-1: a request answered before its body is read to its end (the 401 before the body, a 429
from the rate limiter) closes its connection when the rest of the body is past
`REQUEST_MAX_BODY_BYTES` or of unknown length (chunked), with both HTTP protocols uvicorn can
pick; a small body keeps it.

Kept, uvicorn read and dropped the rest of the body to reuse the connection: as much as the
head declared, or chunks for as long as they came, past the limit the app enforces on what it
reads. The real app (its lifespan run by the `app` fixture) is served by a real uvicorn on a
loopback socket (tests/support/protocol_server.py); the client is a raw socket in a thread. It
sends the head alone, reads the early answer, then the rest of the body and a next request:
served, the connection was kept and the whole body read.
"""

from __future__ import annotations

import asyncio
import http.client
import socket

import pytest
from fastapi import FastAPI

from goldenpath_chassis import ChassisSettings, Service
from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.protocol_server import serving
from tests.support.slow_clients import connect, get_on, until_closed

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
BODY_LIMIT = 1024
# Exempt from the rate limit: answered 200 on a connection still in use.
NEXT_REQUEST = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"
HEAD = "POST /v1/widgets HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    # One request a minute from the loopback address: the second is answered 429.
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        request_max_body_bytes=str(BODY_LIMIT),
        rate_limit_per_ip="1/minute",
        **auth_settings,
    )


def answered_early(client: socket.socket, head: str, rest: bytes) -> tuple[int, str | None, bytes]:
    """Send `head` alone and read its answer, then the rest of the body and a next request;
    the answer's status and `Connection` header, and all the server sent after."""
    client.sendall(head.encode())
    answer = http.client.HTTPResponse(client)
    answer.begin()
    answer.read()
    try:
        client.sendall(rest + NEXT_REQUEST)
    except (BrokenPipeError, ConnectionResetError):
        return answer.status, answer.getheader("connection"), b""
    return answer.status, answer.getheader("connection"), until_closed(client)


@PROTOCOLS
async def test_sec1_a_401_before_a_chunked_body_closes_the_connection(
    app: FastAPI, protocol: type[HeadDeadlineProtocol]
) -> None:
    def chunked(port: int) -> tuple[int, str | None, bytes]:
        with connect(port) as client:
            head = HEAD + "Transfer-Encoding: chunked\r\n\r\n"
            return answered_early(client, head, b"2\r\n{}\r\n0\r\n\r\n")

    async with serving(app, protocol) as port:
        status, connection, after = await asyncio.to_thread(chunked, port)
    assert (status, connection) == (401, "close")
    assert after == b"", "the chunked body was read to its end after the answer"


@PROTOCOLS
async def test_sec1_a_429_before_a_body_past_the_limit_closes_the_connection(
    app: FastAPI, protocol: type[HeadDeadlineProtocol]
) -> None:
    def past_the_limit(port: int) -> tuple[int, str | None, bytes]:
        with connect(port) as client:
            assert get_on(client, "/v1/widgets").status == 401  # the minute's one request
            head = HEAD + f"Content-Length: {BODY_LIMIT + 1}\r\n\r\n"
            return answered_early(client, head, b" " * (BODY_LIMIT + 1))

    async with serving(app, protocol) as port:
        status, connection, after = await asyncio.to_thread(past_the_limit, port)
    assert (status, connection) == (429, "close")
    assert after == b"", "a body past the limit was read to its end after the answer"


@PROTOCOLS
async def test_sec1_a_401_before_a_body_within_the_limit_keeps_the_connection(
    app: FastAPI, protocol: type[HeadDeadlineProtocol]
) -> None:
    def within_the_limit(port: int) -> tuple[int, str | None, int]:
        with connect(port) as client:
            client.sendall(f"{HEAD}Content-Length: 2\r\n\r\n{{}}".encode())
            answer = http.client.HTTPResponse(client)
            answer.begin()
            answer.read()
            following = get_on(client, "/health/live")
        return answer.status, answer.getheader("connection"), following.status

    async with serving(app, protocol) as port:
        assert await asyncio.to_thread(within_the_limit, port) == (401, None, 200)
