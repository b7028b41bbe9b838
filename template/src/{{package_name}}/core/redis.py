"""The shared Redis client, one per process, or none in development without `REDIS_URL`.

Redis backs the cache and the rate limiter's counters, so every replica sees the same state.
Start-up does not wait for Redis: an outage shows in readiness and the users of the client
degrade by their documented policy, rather than the process refusing to start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from .health import HealthRegistry
from .settings import Settings


@asynccontextmanager
async def redis_client(settings: Settings, health: HealthRegistry) -> AsyncIterator[Redis | None]:
    if settings.redis_url is None:
        yield None
        return
    client = Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_connect_timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )

    async def ping() -> None:
        await client.ping()

    health.register("redis", ping)
    try:
        yield client
    finally:
        await client.aclose()
