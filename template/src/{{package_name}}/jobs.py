"""The worker process: every domain's job handlers, and the command that runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack

from . import __version__, models  # noqa: F401 - every table registered, so foreign keys resolve
from .core.cache import build_cache
from .core.database import open_database
from .core.health import HealthRegistry
from .core.http_client import outbound_http
from .core.redis import redis_client
from .core.resilience import CircuitBreakers
from .core.settings import Settings
from .core.tracing import Tracing
from .core.webhooks import webhook_handlers
from .core.worker import JobHandler, Worker, install_signal_handlers
from .items.jobs import HANDLERS as ITEM_HANDLERS

HANDLERS: Mapping[str, JobHandler] = {**ITEM_HANDLERS}
"""Handlers that need nothing but their session; those needing clients are built in `run_worker`."""


async def run_worker(settings: Settings) -> None:
    tracing = Tracing(settings, service_version=__version__)
    breakers = CircuitBreakers(
        threshold=settings.breaker_failure_threshold, reset_seconds=settings.breaker_reset_seconds
    )
    health = HealthRegistry()  # nobody probes the worker; the clients still want one
    async with AsyncExitStack() as resources:
        await resources.enter_async_context(tracing.exporting())
        database = await resources.enter_async_context(
            open_database(settings, health, breakers=breakers)
        )
        tracing.instrument_engine(database.engine)
        redis = await resources.enter_async_context(redis_client(settings, health))
        if redis is not None:
            tracing.instrument_redis(redis)
        http = await resources.enter_async_context(
            outbound_http(settings, breakers=breakers, tracing=tracing)
        )
        worker = Worker(
            database,
            {**HANDLERS, **webhook_handlers(http, settings)},
            concurrency=settings.worker_concurrency,
            poll_seconds=settings.worker_poll_seconds,
            lease_seconds=settings.job_lease_seconds,
            shutdown_grace_seconds=settings.worker_shutdown_grace_seconds,
            cache=build_cache(settings, redis, breakers=breakers),
            tracer=tracing.tracer(__name__),
        )
        install_signal_handlers(worker)
        await worker.run()


def main(settings: Settings) -> int:
    asyncio.run(run_worker(settings))
    return 0
