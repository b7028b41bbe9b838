"""PERF-1 during a rolling deployment: two versions of a resource, against a real Redis.

A deployment that changes a cached type's shape reads and writes a namespace of its own
(`things:<fingerprint>`). While the old and the new replicas run side by side, a write through
either must reach the other's copy of the key, or the other serves the old value until its TTL.
Each cache here has its own client and backend, as two processes would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from functools import partial

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from goldenpath_chassis._core.cache import (
    NAMESPACE_LEASE_MARGIN_SECONDS,
    NAMESPACE_RENEWAL_SECONDS,
    Cache,
    CachedResource,
    JsonCodec,
    RedisBackend,
    invalidate_after_commit,
)
from goldenpath_chassis._core.metrics import Metrics
from goldenpath_chassis._core.near_cache import NearCache
from goldenpath_chassis._core.resilience import CircuitBreakers

from tests.support.near_cache import listening_near_cache, wait_for

pytestmark = pytest.mark.integration

OLD, NEW = "things:0ld0ld00", "things:11ew11ew"
ENTRY_TTL_SECONDS = 60.0
BOUND_SECONDS = 0.1


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}:cache:"


def version(
    redis: Redis,
    prefix: str,
    name: str,
    *,
    near: NearCache | None = None,
    metrics: Metrics | None = None,
) -> Cache:
    """One process of one version: its own backend (and registrations) over the shared Redis."""
    backend = RedisBackend(
        redis,
        breakers=CircuitBreakers(),
        prefix=prefix,
        near=near,
        max_entry_ttl_seconds=ENTRY_TTL_SECONDS,
    )
    return Cache(backend, ttl_seconds=ENTRY_TTL_SECONDS / 1.1, ttl_jitter=0.1, metrics=metrics)


def things(cache: Cache, name: str) -> CachedResource[str]:
    return cache.resource(name, JsonCodec(str))


class Source:
    """The system of record, shared by both versions; a gate can hold a load after its read."""

    def __init__(self) -> None:
        self.value = "v1"
        self.gate: asyncio.Event | None = None
        self.loading = asyncio.Event()

    async def load(self) -> str:
        value = self.value  # read before waiting: this is the "old" value
        self.loading.set()
        if self.gate is not None:
            await self.gate.wait()
        return value


async def test_perf1_a_write_in_either_version_reaches_the_others_entries(
    redis: Redis, prefix: str
) -> None:
    source = Source()
    old = things(version(redis, prefix, OLD), OLD)
    new = things(version(redis, prefix, NEW), NEW)
    for writer, reader in ((new, old), (old, new)):
        for each in (old, new):
            await each.get_or_load("a", source.load)
            assert await each.get_or_load("a", source.load) == source.value  # cached now
        source.value += "+"
        await writer.invalidate("a")
        assert await reader.get_or_load("a", source.load) == source.value
        assert await writer.get_or_load("a", source.load) == source.value


async def test_perf1_a_group_and_a_jobs_write_reach_the_other_version(
    redis: Redis, prefix: str
) -> None:
    source = Source()
    old_cache = version(redis, prefix, OLD)
    old, new = things(old_cache, OLD), things(version(redis, prefix, NEW), NEW)
    assert await old.get_or_load("first", source.load, group="ann") == "v1"
    source.value = "v2"
    await new.invalidate_group("ann")
    assert await old.get_or_load("first", source.load, group="ann") == "v2"
    # A job handler of the old version notes the new version's entry; the worker applies it.
    assert await new.get_or_load("a", source.load) == "v2"
    source.value = "v3"
    session = AsyncSession()
    invalidate_after_commit(session, OLD, "a")
    await old_cache.apply_invalidations(session)
    assert await new.get_or_load("a", source.load) == "v3"


async def test_perf1_a_load_racing_a_write_in_the_other_version_is_not_stored(
    redis: Redis, prefix: str
) -> None:
    """The old version's first read registers its namespace before it reads Redis: a write that
    commits while that read's load is running finds the namespace and refuses its store."""
    source = Source()
    source.gate = asyncio.Event()
    old = things(version(redis, prefix, OLD), OLD)
    new = things(version(redis, prefix, NEW), NEW)
    reader = asyncio.create_task(old.get_or_load("a", source.load))
    await source.loading.wait()
    source.value = "v2"
    await new.invalidate("a")
    source.gate.set()
    assert await reader == "v1"  # what the load read before the write...
    source.gate = None
    assert await old.get_or_load("a", source.load) == "v2"  # ...was not stored


async def test_perf1_invalidations_are_counted_by_the_versions_they_reach(
    redis: Redis, prefix: str
) -> None:
    """`cache_invalidations_total{reach="other_versions"}` shows a rollout's writes reaching
    the other version: zero outside one."""
    metrics = Metrics(service_name="test", service_version="0")
    old = things(version(redis, prefix, OLD), OLD)
    new = things(version(redis, prefix, NEW, metrics=metrics), NEW)

    def counted(reach: str) -> float | None:
        labels = {"cache": "things", "reach": reach}
        return metrics.registry.get_sample_value("cache_invalidations_total", labels)

    await new.invalidate("a")  # the old version has not read yet: nothing else is live
    assert (counted("own"), counted("other_versions")) == (1, None)
    await old.get_or_load("a", Source().load)
    await new.invalidate("a", "b")
    assert (counted("own"), counted("other_versions")) == (3, 2)


async def generations(redis: Redis, prefix: str, key: str) -> dict[str, int]:
    """Each namespace's generation of `key`, for the namespaces that have one."""
    found = {}
    for name in (OLD, NEW, "things:d3ad", "things:11ve"):
        value = await redis.get(f"{prefix}{{{name}:{key}}}:gen")
        if value is not None:
            found[name] = int(value)
    return found


async def test_perf1_only_namespaces_whose_lease_runs_are_invalidated(
    redis: Redis, prefix: str
) -> None:
    registry = prefix.rstrip(":") + "-namespaces:things"
    new = things(version(redis, prefix, NEW), NEW)
    await new.get_or_load("a", Source().load)  # registers NEW
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros // 1000
    lease_ms = await redis.zscore(registry, NEW)
    assert lease_ms is not None
    # The lease outlives any entry stored before the next renewal.
    expected = (
        ENTRY_TTL_SECONDS + NAMESPACE_RENEWAL_SECONDS + NAMESPACE_LEASE_MARGIN_SECONDS
    ) * 1000
    assert expected - 5000 < lease_ms - now_ms <= expected  # a busy machine may stall a second
    assert expected - 5000 < await redis.pttl(registry) <= expected
    # Alone, a write invalidates its own namespace only.
    await new.invalidate("a")
    assert await generations(redis, prefix, "a") == {NEW: 1}
    # A version that stopped storing long ago is left alone; one whose lease runs is reached.
    await redis.zadd(registry, {"things:d3ad": now_ms - 1, "things:11ve": now_ms + 60_000})
    await new.invalidate("a")
    assert await generations(redis, prefix, "a") == {NEW: 2, "things:11ve": 1}
    # The registrations are not cache entries: clearing the cache keeps them.
    await new.cache.backend.clear()
    assert await redis.zscore(registry, NEW) == lease_ms


async def test_perf1_the_other_versions_copies_in_memory_go_within_the_bound(
    redis_url: str, prefix: str
) -> None:
    source = Source()
    async with AsyncExitStack() as stack:
        made: dict[str, tuple[NearCache, CachedResource[str]]] = {}
        for name in (OLD, NEW):
            client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
            stack.push_async_callback(client.aclose)
            near = await listening_near_cache(
                stack,
                redis_url,
                prefix=prefix,
                bound_seconds=BOUND_SECONDS,
                ttl_seconds=ENTRY_TTL_SECONDS,
            )
            made[name] = near, things(version(client, prefix, name, near=near), name)
        for near, _ in made.values():
            await wait_for(partial(getattr, near, "serving"))
        old, new = made[OLD][1], made[NEW][1]
        for attempt in range(10):
            await old.get_or_load("a", source.load)
            await old.get_or_load("a", source.load)  # a copy in memory, unless the bound lapsed
            source.value = f"v{attempt + 2}"
            await new.invalidate("a")
            await asyncio.sleep(BOUND_SECONDS)  # from the write's completion, the bound
            assert await old.get_or_load("a", source.load) == source.value, attempt
