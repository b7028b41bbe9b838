"""Everything a chassis process holds open, in one typed object, for the API and the worker.

`open_resources` opens them in a stated order and closes them in reverse: tracing's exporter
first in and last out (so spans from every other shutdown are flushed), then the database,
Redis, the cache on top of it, and the outbound HTTP client. Each registers its own readiness
check. The `Instruments` (metrics, tracing, health checks, breakers, the drain state) open
nothing, so the API builds them first: its middleware needs them before the lifespan runs.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

from redis.asyncio import Redis

from .cache import Cache, build_cache
from .database import Database, open_database
from .health import HealthRegistry
from .http_client import OutboundHttp, load_tls_context, outbound_http
from .lifecycle import Lifecycle
from .metrics import Metrics
from .near_cache import NearCache
from .redis import redis_client, tracking_connection, when_refused_as_replica
from .resilience import CircuitBreakers
from .settings import ChassisSettings
from .tracing import Tracing


@dataclass(frozen=True, kw_only=True, eq=False)
class Instruments:
    """What a process builds before it opens anything."""

    metrics: Metrics
    tracing: Tracing
    health: HealthRegistry
    lifecycle: Lifecycle
    breakers: CircuitBreakers

    @classmethod
    def build(cls, settings: ChassisSettings, *, service_version: str) -> Instruments:
        metrics = Metrics(
            service_name=settings.telemetry_service_name, service_version=service_version
        )
        breakers = CircuitBreakers(
            threshold=settings.breakers.failure_threshold,
            reset_seconds=settings.breakers.reset_seconds,
            metrics=metrics,
        )
        health = HealthRegistry()
        health.register_breakers(breakers.states)
        return cls(
            metrics=metrics,
            tracing=Tracing(settings, service_version=service_version),
            health=health,
            lifecycle=Lifecycle(),
            breakers=breakers,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class Resources:
    """The open resources of one process, and the instruments they report to."""

    settings: ChassisSettings
    service_version: str
    metrics: Metrics
    tracing: Tracing
    health: HealthRegistry
    lifecycle: Lifecycle
    breakers: CircuitBreakers
    database: Database
    redis: Redis | None
    cache: Cache
    http: OutboundHttp
    tls: ssl.SSLContext


@asynccontextmanager
async def open_resources(
    settings: ChassisSettings,
    *,
    service_version: str,
    instruments: Instruments | None = None,
) -> AsyncIterator[Resources]:
    """Open every resource; on exit close them, last opened first."""
    made = instruments or Instruments.build(settings, service_version=service_version)
    tracing = made.tracing
    # In a thread, while the resources below open; the outbound clients share it.
    tls_loading = asyncio.create_task(load_tls_context())
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(tracing.exporting())
        database = await stack.enter_async_context(
            open_database(settings, made.health, breakers=made.breakers)
        )
        tracing.instrument_engine(database.engine)
        redis = await stack.enter_async_context(redis_client(settings, made.health))
        if redis is not None:
            tracing.instrument_redis(redis)
        cache = build_cache(settings, redis, breakers=made.breakers, metrics=made.metrics)
        near = getattr(cache.backend, "near", None)
        if isinstance(near, NearCache) and redis is not None and settings.redis.url is not None:
            when_refused_as_replica(redis, near.reconnect)
            connect = partial(
                tracking_connection,
                settings.redis.url.get_secret_value(),
                connect_timeout=settings.redis.timeout_seconds,
            )
            await stack.enter_async_context(near.listening_while(connect))
        tls = await tls_loading
        http = await stack.enter_async_context(
            outbound_http(
                settings,
                breakers=made.breakers,
                metrics=made.metrics,
                tracing=tracing,
                tls=tls,
                service_version=service_version,
            )
        )
        yield Resources(
            settings=settings,
            service_version=service_version,
            metrics=made.metrics,
            tracing=tracing,
            health=made.health,
            lifecycle=made.lifecycle,
            breakers=made.breakers,
            database=database,
            redis=redis,
            cache=cache,
            http=http,
            tls=tls,
        )
