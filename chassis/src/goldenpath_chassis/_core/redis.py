"""The shared Redis client, one per process, or none in development without `REDIS_URL`.

Redis backs the cache, the rate limiter's counters and the signed-out sessions, so every
replica sees the same state. Start-up does not wait for Redis: an outage shows in readiness (as
"degraded": the check is not critical) and the users of the client degrade by their documented
policy (the cache is bypassed, the rate limiter counts in each process's memory, browser
sessions answer 503 while bearer tokens and API keys work on), rather than the process refusing
to start or leaving rotation.

Over TLS (`rediss://`) the server's certificate must verify, for the URL's host: said here for
every client the chassis makes (`redis_from_url`), not left to redis-py, whose default before 6.0
(the chassis allows 5.2) checked the chain but not the name, so any certificate a trusted CA
issued, for any host, was accepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from .health import HealthRegistry
from .settings import ChassisSettings


def tls_verification(url: str) -> dict[str, Any]:
    """The options that make a `rediss://` connection verify the server's certificate and its
    hostname; none for a connection without TLS (redis-py refuses them there). A URL's own
    query options still apply over these: turning a check off stays the URL's explicit choice."""
    if not url.startswith("rediss://"):
        return {}
    return {"ssl_cert_reqs": "required", "ssl_check_hostname": True}


def redis_from_url(url: str, **options: Any) -> Redis:
    """A client for `url` with `options`, its TLS, if any, verified for the URL's host."""
    return Redis.from_url(url, **options, **tls_verification(url))


@asynccontextmanager
async def redis_client(
    settings: ChassisSettings, health: HealthRegistry
) -> AsyncIterator[Redis | None]:
    if settings.redis.url is None:
        yield None
        return
    client = redis_from_url(
        settings.redis.url.get_secret_value(),
        socket_connect_timeout=settings.redis.timeout_seconds,
        socket_timeout=settings.redis.timeout_seconds,
        health_check_interval=30,
    )

    async def ping() -> None:
        await client.ping()

    health.register("redis", ping, critical=False)
    try:
        yield client
    finally:
        await client.aclose()


async def tracking_connection(url: str, *, connect_timeout: float) -> Connection:
    """A connection of its own for the near cache's invalidations (`near_cache.py`).

    RESP2, so the invalidations arrive as Pub/Sub messages on it, and no read timeout: it waits
    for messages, and the listener's PINGs tell whether Redis still answers.
    """
    client = redis_from_url(
        url,
        protocol=2,
        socket_connect_timeout=connect_timeout,
        socket_timeout=None,
        health_check_interval=0,
    )
    made = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
    connection = cast(Connection, made)
    await connection.connect()  # type: ignore[no-untyped-call]
    return connection
