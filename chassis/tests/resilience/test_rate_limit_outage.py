"""SEC-4 while Redis is down: each process limits from its own memory, then Redis again.

A real Redis from the local binaries is stopped and started again on the same port, under a
real app called in-process; the limiter's default policy (`RATE_LIMIT_ON_STORAGE_ERROR=local`)
is what is tested, so an app on the old default (serve unlimited) fails these tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import chassis_of
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.servers import RedisServer

from tests.support.example_app import ExampleOnRedis

pytestmark = pytest.mark.resilience

LIMIT = 3


@pytest.fixture
async def app(
    example_app_on_redis: ExampleOnRedis, stoppable_redis: RedisServer
) -> AsyncIterator[FastAPI]:
    # A window of a day, so that a test almost never straddles two (where the previous window's
    # weight, rounded down, could admit one more). Redis is tried on every request (no
    # cool-down), so each request is answered by whichever counter is reachable at that moment.
    async with example_app_on_redis(
        stoppable_redis.url, rate_limit_per_ip=f"{LIMIT}/day", rate_limit_storage_retry_seconds=0
    ) as application:
        yield application


type ClientFrom = Callable[[str], httpx.AsyncClient]


@pytest.fixture
def client_from(app: FastAPI, tokens: TokenFactory) -> ClientFrom:
    """A client whose requests come from `peer` (the limit is per client address)."""

    def build(peer: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        return httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers=tokens.headers("widgets:read"),
        )

    return build


@asynccontextmanager
async def redis_admin(server: RedisServer) -> AsyncIterator[Redis]:
    admin = Redis.from_url(server.url)
    try:
        yield admin
    finally:
        await admin.aclose()


async def statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [(await client.get("/v1/widgets")).status_code for _ in range(count)]


def samples(app: FastAPI, name: str, labels: dict[str, str]) -> float:
    registry = chassis_of(app).instruments.metrics.registry
    return registry.get_sample_value(name, labels) or 0.0


async def test_sec4_with_redis_stopped_each_address_is_limited_from_memory(
    app: FastAPI, client_from: ClientFrom, redis_server: RedisServer
) -> None:
    redis_server.stop()
    with capture_logs(processors=[merge_contextvars]) as logs:
        async with client_from("198.51.100.1") as first, client_from("198.51.100.2") as second:
            assert await statuses(first, LIMIT) == [200] * LIMIT
            refused = await first.get("/v1/widgets")
            # Another address has a budget of its own, in memory too.
            assert await statuses(second, LIMIT + 1) == [200] * LIMIT + [429]

    assert refused.status_code == 429, refused.text
    assert refused.json()["type"] == "urn:problem-type:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 86_400
    assert refused.headers["ratelimit-limit"] == str(LIMIT)
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == refused.headers["retry-after"]
    # Still warned, once a layer, and counted on every request by the policy that answered
    # (OBS-1).
    warnings = [line for line in logs if line["event"] == "rate_limit_storage_unavailable"]
    assert [(line["layer"], line["policy"]) for line in warnings] == [
        ("ip", "local"),
        ("principal", "local"),
    ]
    errors = {"limiter": "ip", "policy": "local"}
    assert samples(app, "rate_limit_storage_errors_total", errors) == 2 * (LIMIT + 1)
    assert samples(app, "rate_limit_rejections_total", {"limiter": "ip"}) == 2


async def test_sec4_once_redis_answers_again_its_counters_are_used_again(
    app: FastAPI, client_from: ClientFrom, redis_server: RedisServer
) -> None:
    redis_server.stop()
    async with client_from("198.51.100.3") as client:
        assert await statuses(client, LIMIT + 1) == [200] * LIMIT + [429]  # spent, in memory

        redis_server.start()  # empty: it keeps nothing on disk
        # The pool's connections died with the server; redis-py learns that on their next use,
        # a storage error. This test is about which counter answers once Redis does.
        redis = chassis_of(app).resources.redis
        assert redis is not None
        await redis.connection_pool.disconnect()
        errors_before = samples(
            app, "rate_limit_storage_errors_total", {"limiter": "ip", "policy": "local"}
        )

        # Admitted although this address's budget in memory is spent: Redis counts again...
        assert await statuses(client, LIMIT + 1) == [200] * LIMIT + [429]
        async with redis_admin(redis_server) as admin:
            keys = [key async for key in admin.scan_iter(match="*ratelimit*198.51.100.3*")]
            assert keys, "the address was not counted in Redis"
            counts = [int(await admin.get(key) or 0) for key in keys]
            assert sum(counts) == LIMIT, counts
    # ...and no request met a storage error on the way.
    errors_after = samples(
        app, "rate_limit_storage_errors_total", {"limiter": "ip", "policy": "local"}
    )
    assert errors_after == errors_before
