"""Redis blackholed while the service runs (RES-1): each command of the shared client waits one
`REDIS_TIMEOUT_SECONDS` and fails. Retrying it is not the client's call, and one request must
not wait once per user of Redis it crosses (the rate limiter's two layers, session revocation,
the cache): after a timeout the client skips Redis for a moment, for every user at once, so a
request waits at most one timeout (redis_unanswered.py). When the moment is over, one command
tries Redis for everyone, and however that trial ends, the next commands are not refused for good.

The client retries nothing: the connections redis-py's `from_url` makes carry no `Retry` (from
5.2, the chassis's floor, to the locked version), unlike those of a pool `Redis(...)` builds for
itself, which retry with backoff since 6.0. A real redis-server behind a proxy that stops
passing anything on (connections still open, nothing comes back); the attempts are counted
where they arrive, not timed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.cache import Cache, CacheUnavailableError, JsonCodec, RedisBackend
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.redis import redis_client, skip_while_unanswered
from goldenpath_chassis._core.redis_unanswered import RedisUnansweredError, UnansweredWindow
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory, bearer
from goldenpath_chassis.testing.databases import delete_all_rows
from goldenpath_chassis.testing.servers import RedisServer

from tests.support.blackhole import BlackholeProxy

pytestmark = pytest.mark.resilience


@pytest.fixture
async def route(redis_server: RedisServer) -> AsyncIterator[BlackholeProxy]:
    proxy = BlackholeProxy(redis_server.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def redis(service: Service, route: BlackholeProxy, database_url: str) -> AsyncIterator[Redis]:
    """The process's shared client, as `open_resources` makes it, through the route."""
    settings = service.load_settings(
        app_env="test",
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{route.port}/0",
        redis_timeout_seconds=0.2,
    )
    async with redis_client(settings, HealthRegistry()) as client:
        assert client is not None
        yield client


class ManualClock:
    """The skip window's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def window(clock: ManualClock) -> UnansweredWindow:
    """A one-second skip window on the test's clock: `clock.now += 1.0` ends the moment."""
    return UnansweredWindow(seconds=1.0, clock=clock)


async def test_res1_a_blackholed_redis_gets_each_command_once(
    redis: Redis, route: BlackholeProxy, window: UnansweredWindow, clock: ManualClock
) -> None:
    skip_while_unanswered(redis, window)
    key = f"blackholed-{uuid.uuid4().hex}"
    await redis.set(key, "v")  # a pooled connection, open before the route drops everything
    route.dropping = True

    with pytest.raises(RedisTimeoutError):
        await redis.get(key)
    # Sent once, on the connection it had; no other connection was opened to send it again.
    assert route.commands_swallowed(b"GET") == 1
    assert route.connections_dropped == 0

    # For a moment after the timeout, the client's commands fail at once, neither sent nor
    # sent on another connection: whichever user of the client asks.
    with pytest.raises(RedisUnansweredError):
        await redis.get(key)
    assert route.commands() == [b"GET"]
    assert route.connections_dropped == 0

    clock.now += 1.0
    with pytest.raises((RedisTimeoutError, RedisConnectionError)):
        await redis.get(key)
    # Then Redis is asked again. That connection was closed: the next command opens one, whose
    # handshake gets no answer, and gives up there, without another connection or the command.
    assert route.connections_dropped == 1
    assert route.commands_swallowed(b"GET") == 1


async def test_res1_once_the_moment_is_over_one_command_tries_redis_for_all(
    redis: Redis, route: BlackholeProxy, window: UnansweredWindow, clock: ManualClock
) -> None:
    """Sent together when the moment is over, each command would wait its own timeout on a
    Redis still blackholed: one tries it, the others are refused at once until it knows."""
    skip_while_unanswered(redis, window)
    key = f"blackholed-{uuid.uuid4().hex}"
    await redis.set(key, "v")
    route.dropping = True
    with pytest.raises(RedisTimeoutError):
        await redis.get(key)

    clock.now += 1.0
    tried = await asyncio.gather(*(redis.get(key) for _ in range(10)), return_exceptions=True)
    refused = [each for each in tried if isinstance(each, RedisUnansweredError)]
    assert len(refused) == 9, tried
    # One connection opened, its handshake's first command unanswered: the trial, timed out.
    assert route.connections_dropped == 1
    assert len(route.commands()) == 2, route.commands()
    with pytest.raises(RedisUnansweredError):  # so Redis is skipped for another moment
        await redis.get(key)
    assert len(route.commands()) == 2, route.commands()

    route.dropping = False
    clock.now += 1.0
    tried = await asyncio.gather(*(redis.get(key) for _ in range(10)), return_exceptions=True)
    assert tried.count(b"v") == 1, tried
    assert sum(isinstance(each, RedisUnansweredError) for each in tried) == 9, tried
    # Redis answered the trial: every command is sent again.
    assert await asyncio.gather(*(redis.get(key) for _ in range(10))) == [b"v"] * 10
    assert route.commands_passed().count(b"GET") == 11, route.commands_passed()


async def test_res1_an_error_reply_to_the_trial_is_an_answer(
    redis: Redis, route: BlackholeProxy, window: UnansweredWindow, clock: ManualClock
) -> None:
    skip_while_unanswered(redis, window)
    key = f"not-a-number-{uuid.uuid4().hex}"
    await redis.set(key, "v")
    window.timed_out()
    clock.now += 1.0

    with pytest.raises(ResponseError):
        await redis.incr(key)
    assert await asyncio.gather(*(redis.get(key) for _ in range(3))) == [b"v"] * 3


@pytest.fixture
async def patient_redis(
    service: Service, route: BlackholeProxy, database_url: str
) -> AsyncIterator[Redis]:
    """The shared client with a timeout no test waits for: a trial it cancels is not timed out."""
    settings = service.load_settings(
        app_env="test",
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{route.port}/0",
        redis_timeout_seconds=10,
    )
    async with redis_client(settings, HealthRegistry()) as client:
        assert client is not None
        yield client


async def test_res1_a_cancelled_trial_lets_the_next_command_try(
    patient_redis: Redis,
    redis: Redis,
    route: BlackholeProxy,
    window: UnansweredWindow,
    clock: ManualClock,
) -> None:
    """Otherwise the trial would stay unresolved, and Redis refused for good to every command
    but those the trial's connection sends (here: another client's, on the same window)."""
    skip_while_unanswered(patient_redis, window)
    skip_while_unanswered(redis, window)
    key = f"cancelled-{uuid.uuid4().hex}"
    await patient_redis.set(key, "v")
    route.dropping = True
    window.timed_out()
    clock.now += 1.0

    async def read() -> object:
        return await patient_redis.get(key)

    trial = asyncio.create_task(read())
    async with asyncio.timeout(5):
        await route.swallowed_some.wait()  # sent into the black hole: the trial waits its answer
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    route.dropping = False
    assert await redis.get(key) == b"v"


async def test_res1_a_refused_trial_lets_the_next_command_try(
    patient_redis: Redis,
    redis: Redis,
    route: BlackholeProxy,
    window: UnansweredWindow,
    clock: ManualClock,
) -> None:
    skip_while_unanswered(patient_redis, window)
    skip_while_unanswered(redis, window)
    window.timed_out()
    clock.now += 1.0
    await route.close()  # nothing listens: each connection is refused at once

    for client in (patient_redis, redis):
        with pytest.raises(RedisConnectionError) as refused:
            await client.get("anything")
        assert not isinstance(refused.value, RedisUnansweredError)


async def test_res1_reads_skipped_after_one_timeout_leave_the_cache_breaker_closed(
    redis: Redis, route: BlackholeProxy, window: UnansweredWindow
) -> None:
    """A single timeout (a blip) is one failure for the cache's breaker. The reads the client
    skips after it reached nothing, so they count neither way: counted as failures, they would
    open the breaker, and every read would go to the database for its whole reset time."""
    skip_while_unanswered(redis, window)
    breakers = CircuitBreakers(threshold=3)
    prefix = f"test-{uuid.uuid4().hex}:cache:"
    things = Cache(RedisBackend(redis, breakers=breakers, prefix=prefix), ttl_seconds=60)
    widgets = things.resource("things:0ld0ld00", JsonCodec(str))

    async def load() -> str:
        return "from the source"

    assert await widgets.get_or_load("a", load) == "from the source"  # connected, registered
    route.dropping = True
    assert await widgets.get_or_load("a", load) == "from the source"  # waited: one failure
    with pytest.raises(CacheUnavailableError, match="RedisUnansweredError"):
        await things.backend.read(("things:0ld0ld00", "a"))  # skipped: not sent
    for _ in range(10):
        assert await widgets.get_or_load("a", load) == "from the source"  # skipped at once
    assert route.commands() == [b"MGET"], route.commands()  # the one read that waited
    assert breakers.state("redis") == "closed"


ORIGIN = "https://testserver"


@pytest.fixture(params=[2.0, 0.0], ids=["limiter-cool-down", "no-limiter-cool-down"])
async def app(
    request: pytest.FixtureRequest,
    service: Service,
    route: BlackholeProxy,
    database_url: str,
    auth_settings: dict[str, str],
) -> AsyncIterator[FastAPI]:
    """The example with its Redis through the route. Limits under 200 a window take no leases,
    so each request asks Redis in both layers; no near cache, so each cached read asks Redis
    too (its listener's PINGs would be counted with the request's commands)."""
    settings = service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{route.port}/0",
        redis_timeout_seconds=0.2,
        rate_limit_per_ip="150/minute",
        rate_limit_per_principal="150/minute",
        rate_limit_storage_retry_seconds=request.param,
        cache_near_max_staleness_ms=0,
    )
    application = service.create_app(settings)
    async with LifespanManager(application):
        yield application
        await delete_all_rows(service, chassis_of(application).resources.database.engine)


async def test_res1_a_cached_read_waits_on_a_blackholed_redis_once(
    app: FastAPI, route: BlackholeProxy, auth_headers: dict[str, str]
) -> None:
    """The read crosses the rate limiter's two layers and the cache: the first to ask Redis
    waits its timeout, and the others go their outage ways at once (counted in memory, read
    from the database), not after a timeout each."""
    async with asgi_client(app, headers=auth_headers) as client:
        created = await client.post("/v1/widgets", json={"name": "Read through Redis"})
        url = f"/v1/widgets/{created.json()['id']}"
        assert (await client.get(url)).status_code == 200  # cached in Redis

        route.dropping = True
        read = await client.get(url)

    assert read.status_code == 200, read.text
    assert read.json()["name"] == "Read through Redis"
    # One command sent into the black hole, on a connection the pool had: one wait.
    assert route.commands() == [b"EVALSHA"], route.commands()
    assert route.connections_dropped == 0


async def test_res1_a_session_read_waits_on_a_blackholed_redis_once(
    app: FastAPI, route: BlackholeProxy, tokens: TokenFactory
) -> None:
    """A session cookie's read asks the rate limiter and the sign-out check: the check refuses
    the session (503) as it does whenever Redis cannot answer, without a timeout of its own."""
    async with asgi_client(app, base_url=ORIGIN) as client:
        opened = await client.post(
            "/v1/auth/session", headers=bearer(tokens("widgets:read", subject="alice"))
        )
        assert opened.status_code == 201, opened.text
        assert (await client.get("/v1/widgets")).status_code == 200

        route.dropping = True
        read = await client.get("/v1/widgets")

    assert read.status_code == 503, read.text
    assert read.json()["type"] == "urn:problem-type:authentication-unavailable"
    assert route.commands() == [b"EVALSHA"], route.commands()
    assert route.connections_dropped == 0
