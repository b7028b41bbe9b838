"""Redis taken away while the service runs: it keeps answering, reports it, and recovers.

A real Redis from the local binaries is stopped and started again on the same port (or paused
with CLIENT PAUSE, which keeps its data, to prove that invalidations missed during an outage
are replayed before the cache is trusted again).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from {{ package_name }}.app import create_app
from {{ package_name }}.core.cache import CachedResource, JsonCodec
from {{ package_name }}.core.settings import load_settings

from tests.support.asgi import asgi_client
from tests.support.databases import delete_all_rows
from tests.support.servers import RedisServer

pytestmark = pytest.mark.resilience


@pytest.fixture
async def app(
    redis_server: RedisServer, database_url: str, auth_settings: dict[str, str]
) -> AsyncIterator[FastAPI]:
    settings = load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        redis_url=redis_server.url,
        breaker_failure_threshold=3,
        breaker_reset_seconds=0.5,
    )
    application = create_app(settings)
    try:
        async with LifespanManager(application):
            yield application
            await delete_all_rows(application.state.database.engine)
    finally:
        if redis_server.process is None:  # a failed test must not leave Redis down
            redis_server.start()


@pytest.fixture
async def client(app: FastAPI, auth_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, headers=auth_headers) as http:
        yield http


def things(app: FastAPI) -> CachedResource[str]:
    """A namespace of its own per test: the Redis server outlives each test."""
    name = f"things-{uuid.uuid4().hex[:8]}:v1"
    resource: CachedResource[str] = app.state.cache.resource(name, JsonCodec(str))
    return resource


async def wait_for_readiness(client: httpx.AsyncClient, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while True:
        body: dict[str, object] = (await client.get("/health/ready")).json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_perf1_a_stopped_redis_is_bypassed_reported_and_recovered(
    app: FastAPI, client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "from the source"

    resource = things(app)
    assert await resource.get_or_load("k", load) == "from the source"
    assert await resource.get_or_load("k", load) == "from the source"
    assert loads == 1  # a hit
    item = (await client.post("/v1/items", json={"name": "Read through Redis"})).json()
    assert (await client.get(f"/v1/items/{item['id']}")).status_code == 200

    redis_server.stop()
    # The API keeps answering, from the database: reads, and writes with their invalidation.
    assert (await client.get(f"/v1/items/{item['id']}")).status_code == 200
    changed = await client.patch(f"/v1/items/{item['id']}", json={"name": "Changed meanwhile"})
    assert changed.status_code == 200
    assert (await client.get(f"/v1/items/{item['id']}")).json()["name"] == "Changed meanwhile"
    started = time.monotonic()
    for _ in range(10):  # the service keeps answering, from the source
        assert await resource.get_or_load("k", load) == "from the source"
    assert loads == 11
    assert time.monotonic() - started < 3  # no read waits on the dead Redis for long
    assert app.state.breakers.state("redis") == "open"

    ready = await client.get("/health/ready")
    assert ready.status_code == 200  # Redis is not critical: degraded, still in rotation
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "failing"
    assert body["circuit_breakers"]["redis"] in {"open", "half-open"}

    redis_server.start()  # same port: the client reconnects by itself
    body = await wait_for_readiness(client, "ok")
    assert body["status"] == "ok", body
    await asyncio.sleep(0.6)  # the breaker's reset time: the next call is a trial
    await resource.get_or_load("k", load)
    assert app.state.breakers.state("redis") == "closed"
    loads_before = loads
    assert await resource.get_or_load("k", load) == "from the source"
    assert loads == loads_before  # cached again
    # The invalidation owed from the outage was replayed: the cached copy is the new one.
    assert (await client.get(f"/v1/items/{item['id']}")).json()["name"] == "Changed meanwhile"


async def test_perf1_invalidations_missed_during_an_outage_are_replayed(
    app: FastAPI, redis_server: RedisServer
) -> None:
    source = {"k": "v1"}

    async def load() -> str:
        return source["k"]

    resource = things(app)
    assert await resource.get_or_load("k", load) == "v1"  # cached in Redis

    # Redis stops answering but keeps its data (a network partition, not a restart).
    admin = Redis.from_url(redis_server.url)
    await admin.client_pause(1500, all=True)
    source["k"] = "v2"
    await resource.invalidate("k")  # times out: owed, not forgotten
    assert await resource.get_or_load("k", load) == "v2"  # bypasses the cache meanwhile
    await asyncio.sleep(1.6)  # Redis answers again, still holding "v1"
    assert await admin.exists(*await admin.keys(f"*{resource.name}:k}}")) == 1
    await asyncio.sleep(0.5)  # the breaker's reset time
    assert await resource.get_or_load("k", load) == "v2"  # replayed first: never "v1"
    assert await resource.get_or_load("k", load) == "v2"
    await admin.aclose()
