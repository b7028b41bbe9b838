"""Benchmark: what a write's cache invalidation costs, with one and with two versions live.

An invalidation reaches every live version's namespace of a resource (PERF-1, `cache.py`):
with one version live it lists the namespaces in the invalidation's own round trip; while two
run (a rolling deployment that changes the cached shape) it makes a second. This starts a
private Redis, then times `CachedResource.invalidate` through a process's own client on
loopback for each case, the cases alternating in every round. Prints medians and p99s, and
fails nothing: there is no target, the figures say what a write pays.
`uv run python benchmarks/cache_invalidation.py [--rounds N] [--writes N]` (in `chassis/`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from redis.asyncio import Redis

from goldenpath_chassis._core.cache import Cache, CachedResource, JsonCodec, RedisBackend
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis.testing.servers import RedisServer

KEYS = 50  # writes cycle through this many items


def resource(redis: Redis, prefix: str, name: str) -> CachedResource[str]:
    backend = RedisBackend(redis, breakers=CircuitBreakers(), prefix=prefix)
    return Cache(backend, ttl_seconds=300).resource(name, JsonCodec(str))


async def live_versions(redis: Redis, count: int) -> CachedResource[str]:
    """A resource whose writes reach `count` live versions (its own included)."""
    prefix = f"bench-{uuid.uuid4().hex}:cache:"
    versions = [resource(redis, prefix, f"things:{number:08x}") for number in range(count)]

    async def load() -> str:
        return "value"

    for each in versions:  # a read registers the version's namespace
        await each.get_or_load("registered", load)
    return versions[0]


async def timed_invalidations(things: CachedResource[str], writes: int) -> list[float]:
    durations = []
    for number in range(writes):
        started = time.perf_counter()
        await things.invalidate(f"item-{number % KEYS}")
        durations.append(time.perf_counter() - started)
    return durations


async def measure(url: str, rounds: int, writes: int) -> dict[int, list[float]]:
    redis = Redis.from_url(url)
    try:
        cases = {count: await live_versions(redis, count) for count in (1, 2)}
        await timed_invalidations(cases[1], writes)  # warm the connection and the scripts
        found: dict[int, list[float]] = {count: [] for count in cases}
        for _ in range(rounds):
            for count, things in cases.items():
                found[count] += await timed_invalidations(things, writes)
        return found
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=2000, help="invalidations per case, a round")
    arguments = parser.parse_args()
    server = RedisServer.create()
    server.start()
    try:
        found = asyncio.run(measure(server.url, arguments.rounds, arguments.writes))
    finally:
        server.destroy()
    print(f"invalidate one key, {arguments.rounds} rounds of {arguments.writes} per case:")
    for count, durations in found.items():
        durations.sort()
        median = statistics.median(durations) * 1e6
        p99 = durations[int(len(durations) * 0.99)] * 1e6
        print(f"  {count} live version(s): median {median:6.0f} us, p99 {p99:6.0f} us")


if __name__ == "__main__":
    main()
