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
from fastapi import FastAPI
from redis.asyncio import Redis
from structlog.testing import capture_logs

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core.cache import (
    MAX_PENDING_INVALIDATIONS,
    Cache,
    RedisBackend,
    resource_label,
)
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis._core.resources import open_resources
from goldenpath_chassis.cache import CachedResource, JsonCodec
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.servers import RedisServer

from tests.support.counting_backend import CountingBackend
from tests.support.example_app import ExampleOnRedis

pytestmark = pytest.mark.resilience


@pytest.fixture
async def app(
    example_app_on_redis: ExampleOnRedis, stoppable_redis: RedisServer
) -> AsyncIterator[FastAPI]:
    async with example_app_on_redis(
        stoppable_redis.url, breaker_failure_threshold=3, breaker_reset_seconds=0.5
    ) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI, auth_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, headers=auth_headers) as http:
        yield http


def things(app: FastAPI) -> CachedResource[str]:
    """A namespace of its own per test: the Redis server outlives each test."""
    name = f"things-{uuid.uuid4().hex[:8]}:v1"
    return chassis_of(app).resources.cache.resource(name, JsonCodec(str))


def redis_breaker(app: FastAPI) -> str:
    return chassis_of(app).instruments.breakers.state("redis")


def cache_errors(app: FastAPI, resource: CachedResource[str]) -> float | None:
    labels = {"cache": resource_label(resource.name)}
    return chassis_of(app).instruments.metrics.registry.get_sample_value(
        "cache_errors_total", labels
    )


async def until_breaker_is_not_open(app: FastAPI) -> None:
    """Its reset time passed: the next call through it is a trial."""
    deadline = time.monotonic() + 10
    while redis_breaker(app) == "open":
        assert time.monotonic() < deadline, "the redis breaker never half-opened"
        await asyncio.sleep(0.05)


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
    widget = (await client.post("/v1/widgets", json={"name": "Read through Redis"})).json()
    url = f"/v1/widgets/{widget['id']}"
    assert (await client.get(url)).status_code == 200  # cached in Redis

    redis_server.stop()
    # The API keeps answering, from the database: reads, and writes with their invalidation.
    assert (await client.get(url)).status_code == 200
    changed = await client.patch(url, json={"name": "Changed meanwhile"})
    assert changed.status_code == 200
    assert (await client.get(url)).json()["name"] == "Changed meanwhile"
    started = time.monotonic()
    for _ in range(10):  # the service keeps answering, from the source
        assert await resource.get_or_load("k", load) == "from the source"
    assert loads == 11
    assert time.monotonic() - started < 3  # no read waits on the dead Redis for long
    # Opened: half-open once its short reset passes, which a slow machine may reach by now.
    assert redis_breaker(app) in {"open", "half-open"}

    ready = await client.get("/health/ready")
    assert ready.status_code == 200  # Redis is not critical: degraded, still in rotation
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "failing"
    assert body["circuit_breakers"]["redis"] in {"open", "half-open"}

    redis_server.start()  # same port: the client reconnects by itself
    body = await wait_for_readiness(client, "ok")
    assert body["status"] == "ok", body
    await until_breaker_is_not_open(app)
    await resource.get_or_load("k", load)
    assert redis_breaker(app) == "closed"
    loads_before = loads
    assert await resource.get_or_load("k", load) == "from the source"
    assert loads == loads_before  # cached again
    # The invalidation owed from the outage was replayed: the cached copy is the new one.
    assert (await client.get(url)).json()["name"] == "Changed meanwhile"


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
    await asyncio.sleep(1.6)  # the pause (1.5 s from its start) is over: Redis answers again
    [key] = await admin.keys(f"*{resource.name}:k}}")
    assert await admin.get(key) == b'"v1"'  # still holding the value the write made stale
    await until_breaker_is_not_open(app)
    assert await resource.get_or_load("k", load) == "v2"  # replayed first: never "v1"
    assert await resource.get_or_load("k", load) == "v2"
    # The owed invalidation reached Redis, and the cache is trusted again: it holds "v2".
    assert await admin.get(key) == b'"v2"'
    await admin.aclose()


def counted_cache(redis: Redis, breakers: CircuitBreakers) -> tuple[CountingBackend, Cache]:
    """A cache of its own on `redis`, its backend's calls counted."""
    prefix = f"test-{uuid.uuid4().hex}:cache:"
    backend = CountingBackend(RedisBackend(redis, breakers=breakers, prefix=prefix))
    return backend, Cache(backend, ttl_seconds=60)


async def test_perf1_owed_invalidations_are_not_retried_while_the_redis_breaker_is_open(
    stoppable_redis: RedisServer,
) -> None:
    """Every read asks for the owed invalidations first, and a replay costs what is owed: an
    outage's reads, each replaying in turn, once grew the process's memory without bound and
    cut its throughput to a quarter. While the breaker refuses calls, none is tried."""
    redis = Redis.from_url(stoppable_redis.url, socket_timeout=5, socket_connect_timeout=5)
    breakers = CircuitBreakers(threshold=1, reset_seconds=3600)  # open for the whole test
    backend, cache = counted_cache(redis, breakers)
    things = cache.resource("things:0ld0ld00", JsonCodec(str))

    async def load() -> str:
        return "from the source"

    try:
        stoppable_redis.stop()
        await things.invalidate("a")  # refused: owed, and the breaker opens
        assert breakers.state("redis") == "open"
        assert backend.invalidations == 1
        for _ in range(100):
            assert await things.get_or_load("a", load) == "from the source"
        assert backend.invalidations == 1, "a read retried the owed invalidation"
    finally:
        await redis.aclose()


async def test_perf1_one_replay_of_owed_invalidations_at_a_time(
    stoppable_redis: RedisServer,
) -> None:
    """Readers that arrive while the owed invalidations are being replayed bypass the cache
    instead of replaying them again, each with its own round trip and its copy of what is
    owed; once the replay lands the cache is trusted again."""
    redis = Redis.from_url(stoppable_redis.url, socket_timeout=5, socket_connect_timeout=5)
    breakers = CircuitBreakers(threshold=1000)  # stays closed: only the replay is in question
    backend, cache = counted_cache(redis, breakers)
    things = cache.resource("things:0ld0ld00", JsonCodec(str))
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "v2"

    try:
        stoppable_redis.stop()
        await things.invalidate("a")  # owed
        stoppable_redis.start()  # same port: the client reconnects by itself
        backend.invalidating.clear()
        held = backend.hold_next_invalidation = asyncio.Event()
        first = asyncio.create_task(things.get_or_load("a", load))
        await backend.invalidating.wait()  # the first reader's replay is in flight, held
        others = await asyncio.gather(*(things.get_or_load("a", load) for _ in range(20)))
        assert others == ["v2"] * 20  # from the source, as during the outage
        assert backend.invalidations == 2, "a reader replayed again while one replay ran"
        held.set()
        assert await first == "v2"  # replayed, then loaded and stored
        loads_before = loads
        assert await things.get_or_load("a", load) == "v2"
        assert loads == loads_before  # a hit: the cache is trusted again
        assert backend.invalidations == 2
    finally:
        await redis.aclose()


async def test_perf1_a_redis_restarted_empty_gets_each_namespace_registered_again(
    redis_server: RedisServer,
) -> None:
    """A cache's Redis often keeps nothing on disk: a restart loses the namespaces' leases too
    (cache.py), and a write through another version of the resource would miss what this one
    stores next. The store finds its registration gone, registers again and drops the entry."""
    prefix = f"test-{uuid.uuid4().hex}:cache:"
    registry = prefix.rstrip(":") + "-namespaces:things"
    redis = Redis.from_url(redis_server.url, socket_timeout=5, socket_connect_timeout=5)
    backend = RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix)
    things = Cache(backend, ttl_seconds=60).resource("things:0ld0ld00", JsonCodec(str))
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "v1"

    try:
        assert await things.get_or_load("a", load) == "v1"
        assert await things.get_or_load("a", load) == "v1"
        assert loads == 1  # stored, then read from Redis
        assert await redis.zscore(registry, "things:0ld0ld00") is not None
        redis_server.stop()
        redis_server.start()  # empty: no persistence
        # The client reconnects without an error: nothing tells the cache that Redis restarted.
        await redis.connection_pool.disconnect()
        assert await redis.zscore(registry, "things:0ld0ld00") is None
        assert await things.get_or_load("a", load) == "v1"  # a miss: loaded, stored...
        assert await redis.zscore(registry, "things:0ld0ld00") is not None  # ...registered
        assert await things.get_or_load("a", load) == "v1"
        assert loads == 3, "what was stored unregistered was dropped, and loaded again"
        assert await things.get_or_load("a", load) == "v1"
        assert loads == 3  # stored under the registration, and read from Redis
    finally:
        await redis.aclose()


async def test_perf1_past_max_pending_invalidations_the_cache_is_cleared_and_no_older_load_stores(
    app: FastAPI, redis_server: RedisServer
) -> None:
    """More invalidations owed during an outage than a process remembers: on recovery it clears
    the whole cache instead of replaying them. Another replica's load that read the cache
    before the outage finishes after the clear, and must not store its old value there. (The
    load must be another process's: this process's own invalidation marks its load stale.)
    This Redis restarts empty, so the entry's generation is back to the one the load read;
    only the clear's new reset, part of every generation a store checks, tells them apart."""
    source = {"k": "old"}
    reading, held = asyncio.Event(), asyncio.Event()

    async def load_held() -> str:
        value = source["k"]  # read before waiting: the value the write below replaces
        reading.set()
        await held.wait()
        return value

    async def load() -> str:
        return source["k"]

    async def no_load() -> str:
        raise AssertionError(f"a hit was expected; the redis breaker is {redis_breaker(app)}")

    here = things(app)
    settings = chassis_of(app).resources.settings
    async with open_resources(settings, service_version="replica") as replica:
        there = replica.cache.resource(here.name, JsonCodec(str))
        racing = asyncio.create_task(there.get_or_load("k", load_held))
        try:
            await reading.wait()  # the replica read the cache: a miss, and the generation

            redis_server.stop()
            source["k"] = "new"
            await here.invalidate("k")  # owed
            with capture_logs() as overflowing:
                for n in range(MAX_PENDING_INVALIDATIONS):  # one more owed than remembered
                    await here.invalidate(f"other-{n}")
            # Said once, when the owed keys are forgotten: an operator learns the cache will go.
            overflowed = [
                line for line in overflowing if line["event"] == "cache_invalidations_overflowed"
            ]
            assert len(overflowed) == 1, overflowed
            assert overflowed[0]["log_level"] == "warning"
            assert overflowed[0]["owed"] == MAX_PENDING_INVALIDATIONS + 1
            assert cache_errors(app, here) == MAX_PENDING_INVALIDATIONS + 1
            assert await here.get_or_load("k", load) == "new"  # the source, while owed

            redis_server.start()
            await until_breaker_is_not_open(app)
            with capture_logs() as logs:
                assert await here.get_or_load("k", load) == "new"  # cleared, then stored
            # The keys owed were forgotten when they overflowed: only the clear is reported.
            replayed = [line for line in logs if line["event"] == "cache_invalidations_replayed"]
            assert replayed == [
                {
                    "event": "cache_invalidations_replayed",
                    "log_level": "info",
                    "keys": 0,
                    "cleared": True,
                }
            ], (logs, redis_breaker(app))  # what happened instead, should this fail again
        finally:
            held.set()
        assert await racing == "old"  # its caller gets what it read; its store is refused

        assert await there.get_or_load("k", no_load) == "new"
        assert await here.get_or_load("k", no_load) == "new"
        admin = Redis.from_url(redis_server.url)
        try:
            [key] = await admin.keys(f"*{here.name}:k}}")
            assert await admin.get(key) == b'"new"'
        finally:
            await admin.aclose()
