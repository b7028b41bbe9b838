"""PERF-1: cache-aside with jittered TTLs, single-flight loads and no stale read after a write.

Run against both backends: a real Redis, and the bounded in-memory fallback.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from goldenpath_chassis._core.cache import (
    Cache,
    CacheBackend,
    CachedResource,
    JsonCodec,
    MemoryBackend,
    RedisBackend,
    invalidate_group_after_commit,
)
from goldenpath_chassis._core.metrics import Metrics
from goldenpath_chassis._core.resilience import CircuitBreakers

from tests.support.counting_backend import CountingBackend

pytestmark = pytest.mark.integration

BackendFactory = Callable[[], CacheBackend]


class Source:
    """The system of record: a dict, with a count of loads and an optional gate to hold them."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.loading = asyncio.Event()

    def loader(self, key: str) -> Callable[[], asyncio.Future[str | None]]:
        async def load() -> str | None:
            self.loads += 1
            value = self.values.get(key)  # read before waiting: this is the "old" value
            self.loading.set()
            if self.gate is not None:
                await self.gate.wait()
            return value

        return load  # type: ignore[return-value]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def backends(request: pytest.FixtureRequest) -> BackendFactory:
    """Makes backends that share one store, as replicas (or the worker) share one Redis."""
    if request.param == "memory":
        shared = MemoryBackend(max_entries=100)
        return lambda: shared
    redis: Redis = request.getfixturevalue("redis")
    prefix = f"test-{uuid.uuid4().hex}:"
    return lambda: RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(service_name="test", service_version="0")


def resource(
    backend: CacheBackend, metrics: Metrics | None = None, ttl: float = 60
) -> CachedResource[str]:
    cache = Cache(backend, ttl_seconds=ttl, ttl_jitter=0.1, metrics=metrics)
    return cache.resource("things:v1", JsonCodec(str))


async def test_perf1_a_miss_loads_once_then_hits(
    backends: BackendFactory, metrics: Metrics
) -> None:
    source = Source()
    source.values["a"] = "first"
    things = resource(backends(), metrics)
    assert await things.get_or_load("a", source.loader("a")) == "first"
    assert await things.get_or_load("a", source.loader("a")) == "first"
    assert await things.get_or_load("a", source.loader("a")) == "first"
    assert source.loads == 1
    sample = metrics.registry.get_sample_value
    assert sample("cache_misses_total", {"cache": "things"}) == 1
    assert sample("cache_hits_total", {"cache": "things"}) == 2


async def test_perf1_nothing_is_cached_for_a_missing_value(backends: BackendFactory) -> None:
    source = Source()
    things = resource(backends())
    assert await things.get_or_load("absent", source.loader("absent")) is None
    source.values["absent"] = "created"
    assert await things.get_or_load("absent", source.loader("absent")) == "created"


async def test_perf1_a_write_is_never_followed_by_a_stale_read(backends: BackendFactory) -> None:
    source = Source()
    source.values["a"] = "v1"
    things = resource(backends())
    assert await things.get_or_load("a", source.loader("a")) == "v1"
    for version in ("v2", "v3", "v4"):
        source.values["a"] = version  # the write commits...
        await things.invalidate("a")  # ...then every write path invalidates
        assert await things.get_or_load("a", source.loader("a")) == version


async def test_perf1_a_load_racing_a_write_does_not_store_the_old_value(
    backends: BackendFactory,
) -> None:
    source = Source()
    source.values["a"] = "old"
    source.gate = asyncio.Event()
    things = resource(backends())
    reader = asyncio.create_task(things.get_or_load("a", source.loader("a")))
    await source.loading.wait()  # the reader has read "old" from the source
    source.values["a"] = "new"
    await things.invalidate("a")
    source.gate.set()
    assert await reader == "old"  # it began before the write: returning "old" is fine...
    source.gate = None
    assert await things.get_or_load("a", source.loader("a")) == "new"  # ...storing it is not


async def test_perf1_a_write_from_another_process_beats_a_racing_load(redis: Redis) -> None:
    """A replica (or the worker) invalidates while this process loads the old value.

    Redis only: the in-memory fallback is one process's cache by design.
    """
    prefix = f"test-{uuid.uuid4().hex}:"
    here = resource(RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix))
    elsewhere = resource(RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix))
    source = Source()
    source.values["a"] = "old"
    source.gate = asyncio.Event()
    reader = asyncio.create_task(here.get_or_load("a", source.loader("a")))
    await source.loading.wait()
    source.values["a"] = "new"
    await elsewhere.invalidate("a")
    source.gate.set()
    await reader
    source.gate = None
    assert await here.get_or_load("a", source.loader("a")) == "new"


async def test_perf1_a_group_is_invalidated_as_one(backends: BackendFactory) -> None:
    """Entries no writer could name (the pages of one owner's list) go together."""
    source = Source()
    pages = resource(backends())
    for page in ("first", "second"):
        for owner in ("ann", "bob"):
            source.values[f"{owner}/{page}"] = f"{owner}'s {page}, v1"
            loaded = await pages.get_or_load(page, source.loader(f"{owner}/{page}"), group=owner)
            assert loaded == f"{owner}'s {page}, v1"
    loads = source.loads
    source.values |= {"ann/first": "ann's first, v2", "ann/second": "ann's second, v2"}
    await pages.invalidate_group("ann")
    for page in ("first", "second"):
        assert (
            await pages.get_or_load(page, source.loader(f"ann/{page}"), group="ann")
            == f"ann's {page}, v2"
        )
        assert (
            await pages.get_or_load(page, source.loader(f"bob/{page}"), group="bob")
            == f"bob's {page}, v1"
        )
    assert source.loads == loads + 2  # ann's two pages again; bob's still cached


async def test_perf1_a_load_racing_a_group_invalidation_is_not_served_again(
    backends: BackendFactory,
) -> None:
    source = Source()
    source.values["ann/first"] = "old"
    source.gate = asyncio.Event()
    pages = resource(backends())
    reader = asyncio.create_task(
        pages.get_or_load("first", source.loader("ann/first"), group="ann")
    )
    await source.loading.wait()
    source.values["ann/first"] = "new"
    await pages.invalidate_group("ann")
    source.gate.set()
    assert await reader == "old"  # stored, perhaps, under the group's old generation...
    source.gate = None
    assert await pages.get_or_load("first", source.loader("ann/first"), group="ann") == "new"


async def test_perf1_a_group_invalidated_after_a_jobs_commit(backends: BackendFactory) -> None:
    """What a job handler notes on its session is applied by the worker after the commit."""
    source = Source()
    source.values["ann/first"] = "v1"
    backend = backends()
    cache = Cache(backend, ttl_seconds=60)
    pages = cache.resource("things:v1", JsonCodec(str))
    assert await pages.get_or_load("first", source.loader("ann/first"), group="ann") == "v1"
    session = AsyncSession()
    invalidate_group_after_commit(session, "things:v1", "ann")
    source.values["ann/first"] = "v2"
    await cache.apply_invalidations(session)
    assert await pages.get_or_load("first", source.loader("ann/first"), group="ann") == "v2"


async def test_perf1_another_process_invalidates_a_group(redis: Redis) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    here = resource(RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix))
    elsewhere = resource(RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix))
    source = Source()
    source.values["ann/first"] = "v1"
    assert await here.get_or_load("first", source.loader("ann/first"), group="ann") == "v1"
    source.values["ann/first"] = "v2"
    await elsewhere.invalidate_group("ann")
    assert await here.get_or_load("first", source.loader("ann/first"), group="ann") == "v2"


async def until(condition: Callable[[], bool], failure: str, *, within: float = 5) -> None:
    """Wait, yielding to the tasks under test, until `condition` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, failure
        await asyncio.sleep(0.001)


async def test_perf1_concurrent_misses_share_one_load(backends: BackendFactory) -> None:
    source = Source()
    source.values["hot"] = "value"
    source.gate = asyncio.Event()
    backend = CountingBackend(backends(), reads_expected=50)
    things = resource(backend)
    readers = [
        asyncio.create_task(things.get_or_load("hot", source.loader("hot"))) for _ in range(50)
    ]
    await backend.all_read.wait()  # every reader has missed, and is now waiting on a load
    source.gate.set()
    assert await asyncio.gather(*readers) == ["value"] * 50
    assert source.loads == 1


async def test_perf1_a_read_after_a_write_does_not_join_an_older_load(
    backends: BackendFactory,
) -> None:
    source = Source()
    source.values["a"] = "old"
    source.gate = asyncio.Event()
    things = resource(backends())
    early = asyncio.create_task(things.get_or_load("a", source.loader("a")))
    await source.loading.wait()
    source.values["a"] = "new"
    await things.invalidate("a")
    late = asyncio.create_task(things.get_or_load("a", source.loader("a")))
    # The late read must start a load of its own (it reads "new"), not join the early one.
    await until(lambda: source.loads == 2, "the late read never started its own load")
    source.gate.set()
    assert await early == "old"
    assert await late == "new"


async def test_perf1_entries_expire_after_their_ttl(backends: BackendFactory) -> None:
    source = Source()
    source.values["a"] = "v1"
    things = resource(backends(), ttl=0.2)
    await things.get_or_load("a", source.loader("a"))
    source.values["a"] = "changed behind the cache's back"
    await asyncio.sleep(0.3)
    assert await things.get_or_load("a", source.loader("a")) == "changed behind the cache's back"


def test_perf1_ttls_are_jittered_within_bounds() -> None:
    cache = Cache(MemoryBackend(max_entries=1), ttl_seconds=100, ttl_jitter=0.1)
    ttls = [cache.ttl() for _ in range(1000)]
    assert all(90 <= ttl <= 110 for ttl in ttls)
    assert max(ttls) - min(ttls) > 10  # spread, not one value


async def test_perf1_the_in_memory_fallback_is_bounded() -> None:
    backend = MemoryBackend(max_entries=3)
    things = resource(backend)
    source = Source()
    for key in "abcde":
        source.values[key] = key
        await things.get_or_load(key, source.loader(key))
    assert len(backend) == 3
    loads = source.loads
    await things.get_or_load("e", source.loader("e"))  # the most recent entries stay
    assert source.loads == loads


async def test_perf1_a_load_racing_the_in_memory_generations_reset_is_not_served_again() -> None:
    """The fallback forgets its generations when they overflow its bound: a group invalidated
    then must not come back to the generation a racing load read, or the load's old page would
    be found again under it."""
    backend = MemoryBackend(max_entries=1)
    source = Source()
    source.values["ann/first"] = "old"
    source.gate = asyncio.Event()
    pages = resource(backend)
    reader = asyncio.create_task(
        pages.get_or_load("first", source.loader("ann/first"), group="ann")
    )
    await source.loading.wait()
    source.values["ann/first"] = "new"
    await pages.invalidate("something-else")
    await pages.invalidate_group("ann")  # the second generation overflows the bound of one
    source.gate.set()
    assert await reader == "old"
    source.gate = None
    assert await pages.get_or_load("first", source.loader("ann/first"), group="ann") == "new"


@pytest.mark.parametrize(
    "history", ["never invalidated", "invalidated before and after", "a group's page"]
)
async def test_perf1_a_load_racing_a_clear_is_not_served_after_it(
    redis: Redis, history: str
) -> None:
    """More invalidations owed than a process remembers (a long outage) are paid by clearing
    the whole cache. A load that read the cache before the clear must not store where a reader
    after it looks: not under "no generation", which every key has again after the clear, nor
    under a generation that writes after the clear count up to again. Redis only: the
    in-memory fallback has its own test above."""
    prefix = f"test-{uuid.uuid4().hex}:"
    here = resource(RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix))
    clearing = RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix)
    elsewhere = resource(clearing)
    group = "ann" if history == "a group's page" else None
    source = Source()
    source.values["a"] = "old"
    if history == "invalidated before and after":
        await elsewhere.invalidate("a")  # its generation is 1 when the load reads it
    source.gate = asyncio.Event()
    reader = asyncio.create_task(here.get_or_load("a", source.loader("a"), group=group))
    await source.loading.wait()
    source.values["a"] = "new"  # a write whose invalidation was owed, then paid by the clear
    await clearing.clear()
    if history == "invalidated before and after":
        source.values["a"] = "newer"  # a write after the clear: its generation is 1 again
        await elsewhere.invalidate("a")
    source.gate.set()
    assert await reader == "old"
    source.gate = None
    assert await here.get_or_load("a", source.loader("a"), group=group) == source.values["a"]
