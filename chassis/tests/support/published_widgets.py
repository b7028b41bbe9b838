"""Widgets whose publish job a worker process runs: made as `POST /v1/widgets` makes them, and
read back until the worker has published them."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from goldenpath_chassis import Service
from goldenpath_chassis._core.cache import JsonCodec, build_cache
from goldenpath_chassis._core.database import open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis.security import Principal
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.example.widgets import CACHE, Widget, WidgetCreate, WidgetRead, WidgetService

# A worker polling every 0.1 s publishes far inside this; only a worker that runs no job
# reaches it.
PUBLISH_BOUND_SECONDS = 20


async def create_widget(service: Service, database_url: str, name: str) -> None:
    """As `POST /v1/widgets` does: the widget and its publish job, in one transaction."""
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        cache = build_cache(settings, None, breakers=CircuitBreakers())
        resource = cache.resource(CACHE, JsonCodec(WidgetRead))
        widgets = WidgetService(session, cache=resource, webhooks=False)
        await widgets.create(
            Principal("worker-test", frozenset(), "bearer"), WidgetCreate(name=name)
        )


async def status_of(service: Service, database_url: str, name: str) -> str | None:
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        return await session.scalar(select(Widget.status).where(Widget.name == name))


def create_widget_and_wait_until_published(
    worker: ServiceProcess, service: Service, database_url: str, name: str
) -> None:
    """A widget named `name`, and its publish job run by `worker` (the widget turns active);
    fails with the worker's output if it is not."""
    asyncio.run(create_widget(service, database_url, name))
    deadline = time.monotonic() + PUBLISH_BOUND_SECONDS
    while asyncio.run(status_of(service, database_url, name)) != "active":
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.1)
