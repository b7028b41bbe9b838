"""PERF-1 on the example's resource: widget reads are cached; no write is followed by a stale read.

Every write path is covered, on the in-process cache and on Redis: the API's update and delete,
and the worker's publish job, whose invalidation crosses processes through Redis (a worker
process has a cache object of its own). Without Redis another process cannot invalidate this
one's entries, so their lifetime is capped: that bounds how long such a write goes unseen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.cache import MEMORY_TTL_CAP_SECONDS, build_cache
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis.settings import ChassisSettings
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.databases import count_queries, delete_all_rows

pytestmark = pytest.mark.integration


def cache_count(app: FastAPI, outcome: str) -> float:
    metrics = chassis_of(app).instruments.metrics
    found = metrics.registry.get_sample_value(f"cache_{outcome}_total", {"cache": "widgets"})
    return found or 0.0


@pytest.fixture
async def redis_app(
    service: Service, database_url: str, redis_url: str, auth_settings: dict[str, str]
) -> AsyncIterator[FastAPI]:
    settings = service.load_settings(
        app_env="test", database_url=database_url, redis_url=redis_url, **auth_settings
    )
    application = service.create_app(settings)
    async with LifespanManager(application):
        yield application
        await delete_all_rows(service, chassis_of(application).resources.database.engine)


@pytest.fixture(params=["memory", "redis"])
def cached_app(request: pytest.FixtureRequest) -> FastAPI:
    """The app with the in-process cache (no Redis configured), or with Redis."""
    app: FastAPI = request.getfixturevalue("app" if request.param == "memory" else "redis_app")
    assert chassis_of(app).resources.cache.backend.kind == request.param
    return app


@pytest.fixture
async def cached_client(
    cached_app: FastAPI, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(cached_app, headers=auth_headers) as client:
        yield client


async def test_perf1_widget_reads_come_from_the_cache_after_the_first(
    cached_app: FastAPI, cached_client: httpx.AsyncClient
) -> None:
    app, client = cached_app, cached_client
    widget = (await client.post("/v1/widgets", json={"name": "Cached"})).json()
    first = await client.get(f"/v1/widgets/{widget['id']}")
    with count_queries(chassis_of(app).resources.database.engine) as queries:
        second = await client.get(f"/v1/widgets/{widget['id']}")
    assert queries.statements == []  # a hit never reaches the database
    assert first.json() == second.json()
    assert second.headers["etag"] == '"1"'
    assert cache_count(app, "misses") == 1
    assert cache_count(app, "hits") == 1


async def test_perf1_updates_and_deletes_are_never_followed_by_a_stale_read(
    cached_app: FastAPI, cached_client: httpx.AsyncClient
) -> None:
    app, client = cached_app, cached_client
    widget = (await client.post("/v1/widgets", json={"name": "Before"})).json()
    url = f"/v1/widgets/{widget['id']}"
    assert (await client.get(url)).json()["name"] == "Before"  # now cached
    for name in ("After", "Later", "Last"):
        changed = await client.patch(url, json={"name": name})
        assert changed.status_code == 200
        read = await client.get(url)
        assert read.json()["name"] == name
        assert read.json()["version"] == changed.json()["version"]
        assert read.headers["etag"] == f'"{changed.json()["version"]}"'
    assert cache_count(app, "hits") == 0  # each read after a write missed: nothing stale
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_perf1_a_refused_write_leaves_the_cached_widget_as_it_is(
    cached_client: httpx.AsyncClient,
) -> None:
    client = cached_client
    widget = (await client.post("/v1/widgets", json={"name": "Stays"})).json()
    await client.post("/v1/widgets", json={"name": "Taken"})
    url = f"/v1/widgets/{widget['id']}"
    await client.get(url)
    assert (await client.patch(url, json={"name": "Taken"})).status_code == 409
    read = await client.get(url)
    assert read.json()["name"] == "Stays"
    assert read.headers["etag"] == '"1"'


async def test_perf1_the_publish_job_invalidates_the_cache(
    cached_app: FastAPI, cached_client: httpx.AsyncClient, service: Service
) -> None:
    """The job's write, committed by the worker, on the same cache as the API."""
    app, client = cached_app, cached_client
    resources = chassis_of(app).resources
    widget = (await client.post("/v1/widgets", json={"name": "Pending"})).json()
    url = f"/v1/widgets/{widget['id']}"
    assert (await client.get(url)).json()["status"] == "pending"  # cached
    assert (await client.get(url)).json()["status"] == "pending"
    assert cache_count(app, "hits") == 1

    worker = Worker(resources.database, service.jobs, cache=resources.cache)
    assert await worker.run_once() == 1

    read = await client.get(url)
    assert read.json()["status"] == "active"
    assert read.headers["etag"] == '"2"'


async def test_perf1_the_workers_writes_invalidate_the_shared_cache(
    redis_app: FastAPI, service: Service, auth_headers: dict[str, str]
) -> None:
    resources = chassis_of(redis_app).resources
    assert resources.cache.backend.kind == "redis"
    async with asgi_client(redis_app, headers=auth_headers) as client:
        widget = (await client.post("/v1/widgets", json={"name": "Pending"})).json()
        url = f"/v1/widgets/{widget['id']}"
        assert (await client.get(url)).json()["status"] == "pending"  # cached in Redis

        # The worker is another process: its own cache object, on the same Redis.
        worker_cache = build_cache(resources.settings, resources.redis, breakers=CircuitBreakers())
        assert worker_cache is not resources.cache
        worker = Worker(resources.database, service.jobs, cache=worker_cache)
        assert await worker.run_once() == 1

        assert (await client.get(url)).json()["status"] == "active"


async def test_perf1_without_redis_another_processs_write_is_unseen_at_most_the_capped_ttl(
    service: Service, settings: ChassisSettings, auth_headers: dict[str, str]
) -> None:
    # Whatever CACHE_TTL_SECONDS says (300 s by default), in-process entries live 5 s at most.
    assert settings.cache.ttl_seconds > MEMORY_TTL_CAP_SECONDS
    capped = build_cache(settings, None, breakers=CircuitBreakers())
    assert capped.ttl_seconds == MEMORY_TTL_CAP_SECONDS
    assert max(capped.ttl() for _ in range(1000)) <= MEMORY_TTL_CAP_SECONDS * 1.1

    # The same bound, short enough to watch: a worker process's write shows once entries expire.
    short = settings.model_copy(
        update={"cache": settings.cache.model_copy(update={"ttl_seconds": 0.3})}
    )
    app = service.create_app(short)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        resources = chassis_of(app).resources
        try:
            widget = (await client.post("/v1/widgets", json={"name": "Elsewhere"})).json()
            url = f"/v1/widgets/{widget['id']}"
            assert (await client.get(url)).json()["status"] == "pending"  # cached here
            elsewhere = build_cache(short, None, breakers=CircuitBreakers())  # its own memory
            assert await Worker(resources.database, service.jobs, cache=elsewhere).run_once() == 1
            await asyncio.sleep(0.3 * (1 + short.cache.ttl_jitter))  # the longest entry's life
            assert (await client.get(url)).json()["status"] == "active"
        finally:
            await delete_all_rows(service, resources.database.engine)
