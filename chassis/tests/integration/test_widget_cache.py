"""PERF-1 on the example resource: item reads are cached; no write is followed by a stale read.

Every write path is covered: the API's update and delete, and the worker's publish job, whose
invalidation crosses processes through Redis (the worker has a cache object of its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from {{ package_name }}.app import create_app
from {{ package_name }}.core.cache import build_cache
from {{ package_name }}.core.database import Database
from {{ package_name }}.core.metrics import Metrics
from {{ package_name }}.core.resilience import CircuitBreakers
from {{ package_name }}.core.settings import Settings
from {{ package_name }}.core.worker import Worker
from {{ package_name }}.jobs import HANDLERS

from tests.support.asgi import asgi_client
from tests.support.databases import delete_all_rows

pytestmark = pytest.mark.integration


def cache_count(app: FastAPI, outcome: str) -> float:
    metrics: Metrics = app.state.metrics
    found = metrics.registry.get_sample_value(f"cache_{outcome}_total", {"cache": "items"})
    return found or 0.0


async def test_perf1_item_reads_come_from_the_cache_after_the_first(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = (await client.post("/v1/items", json={"name": "Cached"})).json()
    first = await client.get(f"/v1/items/{item['id']}")
    second = await client.get(f"/v1/items/{item['id']}")
    assert first.json() == second.json()
    assert second.headers["etag"] == '"1"'
    assert cache_count(app, "misses") == 1
    assert cache_count(app, "hits") == 1


async def test_perf1_updates_and_deletes_are_never_followed_by_a_stale_read(
    client: httpx.AsyncClient,
) -> None:
    item = (await client.post("/v1/items", json={"name": "Before"})).json()
    url = f"/v1/items/{item['id']}"
    assert (await client.get(url)).json()["name"] == "Before"  # now cached
    for name in ("After", "Later", "Last"):
        changed = await client.patch(url, json={"name": name})
        assert changed.status_code == 200
        read = await client.get(url)
        assert read.json()["name"] == name
        assert read.headers["etag"] == changed.headers["etag"]
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_perf1_a_refused_write_leaves_the_cached_item_as_it_is(
    client: httpx.AsyncClient,
) -> None:
    item = (await client.post("/v1/items", json={"name": "Stays"})).json()
    await client.post("/v1/items", json={"name": "Taken"})
    url = f"/v1/items/{item['id']}"
    await client.get(url)
    assert (await client.patch(url, json={"name": "Taken"})).status_code == 409
    assert (await client.get(url)).json()["name"] == "Stays"


@pytest.fixture
async def redis_app(settings: Settings, redis_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings.model_copy(update={"redis_url": Settings(redis_url=redis_url).redis_url})
    )
    async with LifespanManager(application):
        yield application
        database: Database = application.state.database
        await delete_all_rows(database.engine)


async def test_perf1_the_workers_writes_invalidate_the_shared_cache(
    redis_app: FastAPI, settings: Settings, redis_url: str, auth_headers: dict[str, str]
) -> None:
    assert redis_app.state.cache.backend.kind == "redis"
    async with asgi_client(redis_app, headers=auth_headers) as client:
        item = (await client.post("/v1/items", json={"name": "Pending"})).json()
        url = f"/v1/items/{item['id']}"
        assert (await client.get(url)).json()["status"] == "pending"  # cached in Redis

        # The worker is another process: its own cache object, on the same Redis.
        worker_cache = build_cache(
            settings.model_copy(update={"redis_url": Settings(redis_url=redis_url).redis_url}),
            redis_app.state.redis,
            breakers=CircuitBreakers(),
        )
        worker = Worker(redis_app.state.database, HANDLERS, cache=worker_cache)
        assert await worker.run_once() == 1

        assert (await client.get(url)).json()["status"] == "active"
