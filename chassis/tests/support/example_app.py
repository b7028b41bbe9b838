"""The example app in-process on a Redis a test chooses (one it stops, fails over or forwards),
with the test's settings on top."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis.testing.databases import delete_all_rows


class ExampleOnRedis(Protocol):
    def __call__(
        self, redis_url: str, **settings: object
    ) -> AbstractAsyncContextManager[FastAPI]: ...


def example_on_redis(
    service: Service, *, database_url: str, auth_settings: dict[str, str]
) -> ExampleOnRedis:
    """`(redis_url, **settings)`: the example on `database_url` and the Redis at `redis_url`,
    its lifespan running; the rows it wrote are deleted when it stops (the database outlives
    the test)."""

    @asynccontextmanager
    async def running(redis_url: str, **settings: object) -> AsyncIterator[FastAPI]:
        loaded = service.load_settings(
            **auth_settings,
            app_env="test",
            database_url=database_url,
            redis_url=redis_url,
            **settings,
        )
        application = service.create_app(loaded)
        async with LifespanManager(application):
            yield application
            await delete_all_rows(service, chassis_of(application).resources.database.engine)

    return running
