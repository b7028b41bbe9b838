"""PostgreSQL frozen while the service runs (SIGSTOP, as a frozen host or a partition leaves
it: connections stay open and nothing answers), then resumed (INF-2, RES-1, DB-1).

A stopped server refuses connections at once; a frozen one answers nothing, and its own
statement timeout cannot fire. The driver's bound (the statement timeout and a margin) ends a
request's wait with the 503 problem a refused connection gets; new connections give up after the
connect timeout; readiness turns 503 within its own deadline; and after SIGCONT everything is
served again, by connections made after the freeze (those it cut were discarded).

The bounds asserted are generous multiples of the short timeouts configured here: without them,
a request waits for as long as the server stays frozen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import httpx
import pytest

from goldenpath_chassis import Service
from goldenpath_chassis.settings import BreakerSettings
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.servers import PostgresServer

from tests.resilience.probes import assert_database_unavailable, database_breaker, poll

pytestmark = pytest.mark.resilience

POOL_SIZE = 2
# The driver waits 1 s + the margin (1 s) for an answer; a new connection 1 s; readiness 0.2 s.
STATEMENT_TIMEOUT_MS = 1000
CONNECT_TIMEOUT_SECONDS = 1
READINESS_TIMEOUT_SECONDS = 0.2
# A request's wait: an answer's bound, then perhaps a new connection's, with room to spare.
REQUEST_BOUND_SECONDS = 10
# Readiness's deadline with room to spare, and under the 2 s a graceful close of the connection
# it gave up on would add (SQLAlchemy's bound on it; asyncpg's close waits for the frozen server
# to acknowledge the cancel, until the driver's bound).
READINESS_BOUND_SECONDS = 1.0


@pytest.fixture
def pre_ping_idle_seconds() -> float:
    """No test of a pooled connection within a test: the statement meets the freeze."""
    return 60


@pytest.fixture
async def client(
    postgres_service: Service,
    outage_database: str,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
    pre_ping_idle_seconds: float,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = postgres_service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=outage_database,
        database_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        database_connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        database_pool_size=POOL_SIZE,
        database_max_overflow=0,
        database_pool_timeout_seconds=1,
        database_pool_pre_ping_idle_seconds=pre_ping_idle_seconds,
        readiness_timeout_seconds=READINESS_TIMEOUT_SECONDS,
    )
    app = postgres_service.create_app(settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as http:
        yield http


async def within(seconds: float, request: Awaitable[httpx.Response]) -> httpx.Response:
    async with asyncio.timeout(seconds):
        return await request


async def assert_served_again(client: httpx.AsyncClient) -> None:
    """Ready, and from then on every request served: none is handed a connection the freeze
    broke (more requests at once than the pool holds, so every pooled connection serves)."""
    await poll(client, "/health/ready", 200, within=15)
    answers = await asyncio.gather(*(client.get("/v1/widgets") for _ in range(2 * POOL_SIZE)))
    assert [answer.status_code for answer in answers] == [200] * (2 * POOL_SIZE)
    assert (await client.post("/v1/widgets", json={"name": "After"})).status_code == 201
    names = [widget["name"] for widget in (await client.get("/v1/widgets")).json()["items"]]
    assert names == ["Survivor", "After"]
    assert (await client.get("/health/ready")).json()["circuit_breakers"]["database"] == "closed"


@pytest.mark.parametrize(
    "pre_ping_idle_seconds", [60, 0], ids=["the-statement-meets-it", "the-pre-ping-meets-it"]
)
async def test_res1_a_request_on_a_frozen_database_gets_a_503_within_a_bound_and_then_recovers(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    assert (await client.post("/v1/widgets", json={"name": "Survivor"})).status_code == 201
    assert (await client.get("/v1/widgets")).status_code == 200  # its connection back in the pool

    with postgres_server.frozen():
        # The pooled connection's statement (or its test) gets no answer: the driver gives up.
        assert_database_unavailable(await within(REQUEST_BOUND_SECONDS, client.get("/v1/widgets")))
        assert (await client.get("/health/live")).status_code == 200
        # The pool was let go with it: what follows opens connections, each given up after the
        # connect timeout (the kernel accepts it; the server never answers), until the
        # breaker opens and requests fail at once.
        for _ in range(BreakerSettings().failure_threshold):
            if await database_breaker(client) in {"open", "half-open"}:
                break
            create = client.post("/v1/widgets", json={"name": "Frozen"})
            assert_database_unavailable(await within(REQUEST_BOUND_SECONDS, create))
        assert await database_breaker(client) in {"open", "half-open"}

    await assert_served_again(client)


async def test_inf2_readiness_reports_a_frozen_database_within_its_deadline_and_recovers(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    assert (await client.post("/v1/widgets", json={"name": "Survivor"})).status_code == 201
    assert (await client.get("/v1/widgets")).status_code == 200  # readiness will reuse it

    with postgres_server.frozen():
        ready = await within(READINESS_BOUND_SECONDS, client.get("/health/ready"))
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] == {
            "status": "failing",
            "latency_ms": ready.json()["checks"]["database"]["latency_ms"],
            "error": "timeout",
            "critical": True,
        }
        assert (await client.get("/health/live")).status_code == 200

    await assert_served_again(client)
