"""Redis blackholed while the service runs (RES-1): each command of the shared client waits one
`REDIS_TIMEOUT_SECONDS` and fails. Retrying it is not the client's call: each user of Redis has
its own breaker or cool-down (the cache, the rate limiter, session revocation, readiness), and
the documents promise one timeout per interval, not several.

The client retries nothing: the connections redis-py's `from_url` makes carry no `Retry` (from
5.2, the chassis's floor, to the locked version), unlike those of a pool `Redis(...)` builds for
itself, which retry with backoff since 6.0. A real redis-server behind a proxy that stops
passing anything on (connections still open, nothing comes back); the attempts are counted
where they arrive, not timed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from goldenpath_chassis import Service
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.redis import redis_client
from goldenpath_chassis.testing.servers import RedisServer

from tests.support.blackhole import BlackholeProxy

pytestmark = pytest.mark.resilience


@pytest.fixture
async def route(redis_server: RedisServer) -> AsyncIterator[BlackholeProxy]:
    proxy = BlackholeProxy(redis_server.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def redis(service: Service, route: BlackholeProxy, database_url: str) -> AsyncIterator[Redis]:
    """The process's shared client, as `open_resources` makes it, through the route."""
    settings = service.load_settings(
        app_env="test",
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{route.port}/0",
        redis_timeout_seconds=0.2,
    )
    async with redis_client(settings, HealthRegistry()) as client:
        assert client is not None
        yield client


async def test_res1_a_blackholed_redis_gets_each_command_once(
    redis: Redis, route: BlackholeProxy
) -> None:
    key = f"blackholed-{uuid.uuid4().hex}"
    await redis.set(key, "v")  # a pooled connection, open before the route drops everything
    route.dropping = True

    with pytest.raises(RedisTimeoutError):
        await redis.get(key)
    # Sent once, on the connection it had; no other connection was opened to send it again.
    assert route.commands_swallowed(b"GET") == 1
    assert route.connections_dropped == 0

    with pytest.raises((RedisTimeoutError, RedisConnectionError)):
        await redis.get(key)
    # That connection was closed: the next command opens one, whose handshake gets no answer,
    # and gives up there, without another connection or the command itself.
    assert route.connections_dropped == 1
    assert route.commands_swallowed(b"GET") == 1
