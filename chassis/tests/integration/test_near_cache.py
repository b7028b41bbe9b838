"""PERF-1's near cache against a real Redis: reads served in memory make no round trip, and a
write through one cache is seen by another within the bound, as by two replicas.

Each cache has its own Redis client, near cache and listener (its own connection), as two
processes would; only the Redis server is shared.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial

import pytest
from redis.asyncio import Redis

from goldenpath_chassis._core.cache import Cache, CachedResource, JsonCodec, RedisBackend
from goldenpath_chassis._core.near_cache import NearCache
from goldenpath_chassis._core.resilience import CircuitBreakers

from tests.support.near_cache import listening_near_cache, wait_for

pytestmark = pytest.mark.integration

BOUND_SECONDS = 0.1


@dataclass
class Replica:
    """One process's cache: its client, its near cache, the typed resource on top."""

    redis: Redis
    near: NearCache
    things: CachedResource[str]


async def commands(redis: Redis, name: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    prefix = f"test-{uuid.uuid4().hex}:"
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
            stack.push_async_callback(redis.aclose)
            near = await listening_near_cache(
                stack, redis_url, prefix=prefix, bound_seconds=BOUND_SECONDS, ttl_seconds=60
            )
            backend = RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix, near=near)
            cache = Cache(backend, ttl_seconds=60, ttl_jitter=0.1)
            made.append(Replica(redis, near, cache.resource("things:v1", JsonCodec(str))))
        for replica in made:
            await wait_for(partial(getattr, replica.near, "serving"))
        yield made[0], made[1]


async def test_perf1_a_read_served_in_memory_makes_no_round_trip(
    replicas: tuple[Replica, Replica],
) -> None:
    here, _ = replicas
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "v1"

    assert await here.things.get_or_load("a", load) == "v1"  # a miss: loaded and stored
    assert await here.things.get_or_load("a", load) == "v1"  # read from Redis, copy kept
    before = await commands(here.redis, "mget")
    for _ in range(50):
        assert await here.things.get_or_load("a", load) == "v1"
    assert await commands(here.redis, "mget") == before
    assert loads == 1


async def test_perf1_another_replicas_write_is_seen_within_the_bound(
    replicas: tuple[Replica, Replica],
) -> None:
    reader, writer = replicas
    source = {"a": "v0"}

    async def load() -> str:
        return source["a"]

    observed = []
    for version in range(1, 21):
        await reader.things.get_or_load("a", load)
        await reader.things.get_or_load("a", load)  # a copy now, unless the bound lapsed
        # The write: the source changes, then the writer invalidates (after its commit).
        source["a"] = f"v{version}"
        await writer.things.invalidate("a")
        done = time.monotonic()
        # How soon the reader saw it, for the record (no bound on the machine's speed)...
        while await reader.things.get_or_load("a", load) != source["a"]:
            assert time.monotonic() < done + 5, "the other replica's write was never seen"
            await asyncio.sleep(0.001)
        observed.append(time.monotonic() - done)
        # ...and the promise: a read that starts one bound after the write never sees before it.
        await reader.things.get_or_load("a", load)
        source["a"] = f"v{version}b"
        await writer.things.invalidate("a")
        done = time.monotonic()
        await asyncio.sleep(max(0.0, done + BOUND_SECONDS - time.monotonic()))
        assert await reader.things.get_or_load("a", load) == source["a"], version
    print(f"\na write was seen by the other replica after {max(observed) * 1000:.1f} ms at most")


async def test_perf1_the_writers_own_reads_never_see_the_old_value(
    replicas: tuple[Replica, Replica],
) -> None:
    here, _ = replicas
    source = {"a": "v0"}

    async def load() -> str:
        return source["a"]

    for version in range(1, 21):
        await here.things.get_or_load("a", load)
        await here.things.get_or_load("a", load)
        source["a"] = f"v{version}"
        await here.things.invalidate("a")
        assert await here.things.get_or_load("a", load) == source["a"]


async def test_perf1_a_lost_listener_connection_stops_and_drops_the_copies(
    replicas: tuple[Replica, Replica], redis_url: str
) -> None:
    here, _ = replicas

    async def load() -> str:
        return "v1"

    await here.things.get_or_load("a", load)
    await here.things.get_or_load("a", load)
    assert len(here.near) == 1
    admin = Redis.from_url(redis_url)
    try:
        # Every listener's connection is subscribed: kill them all, as a network cut would.
        await admin.client_kill_filter(_type="pubsub")
    finally:
        await admin.aclose()
    await wait_for(lambda: here.near.sessions == 2 and here.near.serving)
    assert len(here.near) == 0
    assert await here.things.get_or_load("a", load) == "v1"


async def test_perf1_a_group_is_read_in_memory_and_invalidated_across_replicas(
    replicas: tuple[Replica, Replica],
) -> None:
    """A group's generation is copied like any entry: reading a page of it makes no round trip,
    and another replica's `invalidate_group` reaches every copy within the bound."""
    reader, writer = replicas
    source = {"page": "v0"}

    async def load() -> str:
        return source["page"]

    for version in range(1, 11):
        await reader.things.get_or_load("first", load, group="ann")
        await reader.things.get_or_load("first", load, group="ann")
        before = await commands(reader.redis, "get") + await commands(reader.redis, "mget")
        for _ in range(10):
            assert await reader.things.get_or_load("first", load, group="ann") == source["page"]
        after = await commands(reader.redis, "get") + await commands(reader.redis, "mget")
        assert after == before, "the group's page was not read from memory"
        source["page"] = f"v{version}"
        await writer.things.invalidate_group("ann")
        await asyncio.sleep(BOUND_SECONDS)
        assert await reader.things.get_or_load("first", load, group="ann") == source["page"]
