"""PostgreSQL stopped while the service runs, then started again (INF-2, OBS-4, RES-1).

Liveness never flinches; readiness turns 503 naming the database within seconds; requests that
need the database get a 503 problem, never a 500; and when PostgreSQL is back, everything
recovers by itself (the pool's pre-ping replaces dead connections), without a restart.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from goldenpath_chassis.settings import BreakerSettings
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.servers import PostgresServer

from tests.resilience.probes import assert_database_unavailable, database_breaker, poll

pytestmark = pytest.mark.resilience


@pytest.fixture
async def client(
    app_on_outage_database: FastAPI, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app_on_outage_database, headers=auth_headers, lifespan=True) as http:
        yield http


async def test_inf2_a_stopped_database_is_reported_answered_with_503_and_recovered(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    created = await client.post("/v1/widgets", json={"name": "Survivor"})
    assert created.status_code == 201
    assert (await client.get("/v1/widgets")).status_code == 200

    postgres_server.stop()
    stopped = time.monotonic()
    assert (await client.get("/health/live")).status_code == 200
    await poll(client, "/health/ready", 503, within=5)
    assert time.monotonic() - stopped < 5
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "unavailable"
    assert ready["checks"]["database"]["status"] == "failing"

    for response in (
        await client.get("/v1/widgets"),
        await client.post("/v1/widgets", json={"name": "Refused"}),
    ):
        assert_database_unavailable(response)
    assert (await client.get("/health/live")).status_code == 200
    # Connections now fail fast (RES-1): the database's breaker opens after `threshold` failed
    # connection attempts, and each request that needs the database makes at most one. (The
    # first failure may be a statement on a pooled connection, which makes no attempt.)
    threshold = BreakerSettings().failure_threshold  # the settings above keep the default
    for _ in range(threshold):
        if await database_breaker(client) in {"open", "half-open"}:
            break
        assert (await client.get("/v1/widgets")).status_code == 503
    assert await database_breaker(client) in {"open", "half-open"}

    postgres_server.start()
    await poll(client, "/health/ready", 200, within=15)
    await poll(client, "/v1/widgets", 200, within=15)
    assert (await client.post("/v1/widgets", json={"name": "After"})).status_code == 201
    names = [widget["name"] for widget in (await client.get("/v1/widgets")).json()["items"]]
    assert names == ["Survivor", "After"]
    assert (await client.get("/health/ready")).json()["circuit_breakers"]["database"] == "closed"
