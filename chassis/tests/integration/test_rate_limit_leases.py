"""SEC-4 at a lower cost: busy callers spend leased tokens locally, never beyond the limit.

Real Redis; round trips are counted by Redis itself (`INFO commandstats`), and a clock that only
moves when told makes lease expiry deterministic.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from goldenpath_chassis._core.security.rate_limit import LEASE_SECONDS, RateLimiter

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def replica(redis: Redis, namespace: str, limit: str, clock: Clock) -> RateLimiter:
    limiter = RateLimiter(per_ip=limit, per_principal=limit, namespace=namespace, clock=clock)
    limiter.use_redis(redis)
    return limiter


async def script_calls(redis: Redis) -> int:
    """Lua script executions so far: one per rate-limit round trip."""
    stats = await redis.info("commandstats")
    return sum(
        int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval")
    )


async def counted(redis: Redis, namespace: str) -> int:
    """Tokens the shared counters hold: leased ones included."""
    total = 0
    async for key in redis.scan_iter(match=f"{namespace}*"):
        value = await redis.get(key)
        total += int(value or 0)
    return total


async def test_replicas_spending_leases_admit_exactly_the_limit(redis: Redis) -> None:
    namespace = f"lease-test-{uuid.uuid4().hex}"
    clock = Clock()
    replicas = [replica(redis, namespace, "2000/hour", clock) for _ in range(2)]
    admitted = 0
    for attempt in range(3000):
        if await replicas[attempt % 2].hit("principal", "busy-caller") is None:
            admitted += 1
    assert admitted == 2000, f"{admitted} admitted by two replicas against a limit of 2000"
    assert await counted(redis, namespace) == 2000


async def test_a_busy_caller_costs_a_round_trip_per_lease_not_per_request(redis: Redis) -> None:
    namespace = f"lease-test-{uuid.uuid4().hex}"
    limiter = replica(redis, namespace, "6000/hour", Clock())  # leases of up to 60 tokens
    before = await script_calls(redis)
    for _ in range(1000):
        assert await limiter.hit("ip", "203.0.113.7") is None
    round_trips = await script_calls(redis) - before
    # Leases of 1, 2, 4, 8, 16, 32, then 60 tokens: 7 round trips for the first 123 requests.
    assert round_trips <= 25, f"{round_trips} Redis round trips for 1000 requests"
    assert await counted(redis, namespace) >= 1000


async def test_a_small_limit_is_counted_exactly_one_round_trip_each(redis: Redis) -> None:
    namespace = f"lease-test-{uuid.uuid4().hex}"
    limiter = replica(redis, namespace, "150/hour", Clock())  # under 200: no leases
    before = await script_calls(redis)
    results = [await limiter.hit("principal", "caller") for _ in range(160)]
    assert await script_calls(redis) - before >= 160
    assert results[:150] == [None] * 150
    rejection = results[150]
    assert rejection is not None
    assert rejection.status == 429
    assert rejection.headers["RateLimit-Limit"] == "150"
    assert await counted(redis, namespace) == 150


async def test_a_slow_caller_takes_no_lease_and_loses_no_token(redis: Redis) -> None:
    namespace = f"lease-test-{uuid.uuid4().hex}"
    clock = Clock()
    limiter = replica(redis, namespace, "6000/hour", clock)
    for _ in range(20):
        assert await limiter.hit("principal", "slow-caller") is None
        clock.now += LEASE_SECONDS + 0.5  # every lease has expired by the next request
    assert await counted(redis, namespace) == 20


async def test_near_the_limit_a_lease_falls_back_to_single_tokens(redis: Redis) -> None:
    namespace = f"lease-test-{uuid.uuid4().hex}"
    clock = Clock()
    limiter = replica(redis, namespace, "300/hour", clock)  # leases of up to 3 tokens
    outcomes = [await limiter.hit("principal", "caller") for _ in range(400)]
    assert outcomes.count(None) == 300
    assert all(outcome is not None and outcome.status == 429 for outcome in outcomes[300:])
    assert await counted(redis, namespace) == 300


async def window_key(redis: Redis, namespace: str, *, previous: bool) -> bytes:
    """The counter of the current window (`{...}`) or of the previous one (`{...}/-1`)."""
    keys: list[bytes] = [key async for key in redis.scan_iter(match=f"{namespace}*")]
    return next(key for key in keys if key.endswith(b"/-1") == previous)


async def test_sec4_the_sliding_window_has_no_burst_at_its_edge_and_its_bound(
    redis: Redis,
) -> None:
    """The bound SEC-4 states: a burst just past a window's edge gets next to nothing (a fixed
    window would give it the whole limit again), and what one window length can admit, at
    most twice the limit, comes as two bursts a window apart. Time moves by the windows'
    expiry in Redis, which is all the strategy reads of it."""
    namespace = f"test-{uuid.uuid4().hex}"
    limiter = replica(redis, namespace, "10/minute", Clock())

    async def burst() -> int:
        return sum([await limiter.hit("ip", "client") is None for _ in range(10)])

    assert await burst() == 10
    # The window ended a second ago: the 10 move to the previous window, where they weigh 59/60.
    await redis.pexpire(await window_key(redis, namespace, previous=False), 59_000)
    assert await burst() == 1
    # A second before the next window ends, the previous one weighs 1/60 of its 10: nothing.
    await redis.pexpire(await window_key(redis, namespace, previous=False), 61_000)
    await redis.pexpire(await window_key(redis, namespace, previous=True), 1_000)
    assert await burst() == 9
