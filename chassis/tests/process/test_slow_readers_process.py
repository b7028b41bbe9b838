"""DB-1 with the service as a real process: a client that stops reading a large answer holds no
pooled connection. With one connection in the pool and none over, a request held in `send`
with its session's transaction open would leave every other request waiting out the pool
timeout for a 503, and the database with a connection idle in transaction.

uvicorn waits for the client only before a piece of a body after the first: an answer sent
whole never held its handler; one sent in pieces (a streaming response) did, until the
session was released when the response started (request_context.py)."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from goldenpath_chassis.testing.live import ServiceCredentials, service_environment
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import running_example

pytestmark = pytest.mark.process

# Far more than the kernel's buffers on both ends and the transport's hold (tcp_wmem's maximum
# is 4 MiB): the handler stays in `send` for as long as the client does not read.
LARGE_KIB = 32 * 1024
BOUND_SECONDS = 30.0


@pytest.fixture
def one_connection(
    database_url: str, service_credentials: ServiceCredentials, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The example service with a pool of one connection, none over, and a short wait for it."""
    env = service_environment(
        database_url=database_url,
        redis_url=None,
        credentials=service_credentials,
        DATABASE_POOL_SIZE="1",
        DATABASE_MAX_OVERFLOW="0",
        DATABASE_POOL_TIMEOUT_SECONDS="1",
    )
    with running_example(env, log_path=tmp_path / "service.log") as process:
        process.wait_until_answers()
        yield process


def stalled_reader(port: int, *, streamed: bool) -> socket.socket:
    """A client that asks for a large answer and never reads it, with a small receive buffer;
    returned once the answer has started to arrive (the handler has read and answered)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /v1/test/large?kib={LARGE_KIB}&streamed={str(streamed).lower()} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n\r\n".encode()
    )
    readable, _, _ = select.select([sock], [], [], BOUND_SECONDS)
    assert readable, "the answer never started"
    return sock


async def idle_in_transaction(database_url: str) -> int:
    """The example's connections to this database that are idle inside a transaction."""
    dsn = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'example' AND state = 'idle in transaction'"
        )
    finally:
        await connection.close()
    return count


@pytest.mark.parametrize("streamed", [True, False], ids=["in-pieces", "whole"])
async def test_db1_a_stalled_reader_leaves_no_connection_idle_in_transaction(
    one_connection: ServiceProcess, database_url: str, streamed: bool
) -> None:
    sock = stalled_reader(one_connection.port, streamed=streamed)
    try:
        assert await idle_in_transaction(database_url) == 0
    finally:
        sock.close()


@pytest.mark.parametrize("streamed", [True, False], ids=["in-pieces", "whole"])
async def test_db1_a_request_is_served_while_a_reader_is_stalled(
    one_connection: ServiceProcess, streamed: bool
) -> None:
    sock = stalled_reader(one_connection.port, streamed=streamed)
    try:
        async with httpx.AsyncClient(
            base_url=one_connection.base_url, timeout=BOUND_SECONDS
        ) as http:
            response = await http.get("/v1/test/large", params={"kib": 1})
        assert response.status_code == 200, response.text
        assert len(response.content) == 1024
    finally:
        sock.close()


async def test_db1_a_streamed_body_may_read_from_the_session_after_the_start(
    one_connection: ServiceProcess, database_url: str
) -> None:
    """The session released at the start opens a new transaction when the body reads again,
    and that one is closed once the app has answered."""
    async with httpx.AsyncClient(base_url=one_connection.base_url, timeout=BOUND_SECONDS) as http:
        params = {"kib": "200", "streamed": "true", "read_while_streaming": "true"}
        response = await http.get("/v1/test/large", params=params)
        assert response.status_code == 200, response.text
        assert len(response.content) == 200 * 1024
        # The pool's one connection is free again: the next read gets it.
        assert (await http.get("/v1/test/large")).status_code == 200
    assert await idle_in_transaction(database_url) == 0
