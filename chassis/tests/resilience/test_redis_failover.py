"""A Redis failover, as the service's Redis address sees it (RES-1, PERF-1, SEC-4).

The old primary comes back as a replica of the new one, and for a while (a DNS record's
lifetime, a Service's endpoints catching up) the address still reaches it: connections open,
reads and PINGs are answered, but every write is refused with READONLY. Those connections stay
open once the address names the new primary (Redis does not close them when it is demoted).

Two real redis-servers, the old primary made a replica with REPLICAOF, behind a forwarder that
plays the address (and, where the replication link is cut, another that plays the link).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ReadOnlyError

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core.near_cache import NearCache
from goldenpath_chassis._core.redis import answers_as_primary, redis_from_url, tracking_connection
from goldenpath_chassis.cache import CachedResource, JsonCodec
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.servers import RedisServer

from tests.support.example_app import ExampleOnRedis
from tests.support.near_cache import wait_for
from tests.support.tcp_forwarder import TcpForwarder

pytestmark = pytest.mark.resilience


@pytest.fixture
def old_and_new_primary() -> Iterator[tuple[RedisServer, RedisServer]]:
    servers = [RedisServer.create(), RedisServer.create()]
    try:
        for server in servers:
            server.start()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.destroy()


@pytest.fixture
async def address(
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> AsyncIterator[TcpForwarder]:
    forwarder = TcpForwarder(old_and_new_primary[0].port)
    await forwarder.start()
    try:
        yield forwarder
    finally:
        await forwarder.close()


@pytest.fixture
async def app(
    example_app_on_redis: ExampleOnRedis, address: TcpForwarder
) -> AsyncIterator[FastAPI]:
    async with example_app_on_redis(
        f"redis://127.0.0.1:{address.port}/0",
        breaker_failure_threshold=3,
        breaker_reset_seconds=0.5,
    ) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI, auth_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, headers=auth_headers) as http:
        yield http


async def demote(old: RedisServer, new: RedisServer, *, through: int | None = None) -> None:
    """`old` becomes a replica of `new` (reached `through` a forwarder's port, if given),
    synchronised (its data replaced by `new`'s)."""
    admin = Redis.from_url(old.url)
    try:
        await admin.replicaof("127.0.0.1", through or new.port)
        deadline = time.monotonic() + 10
        while (await admin.info("replication")).get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the old primary never synchronised"
            await asyncio.sleep(0.05)
    finally:
        await admin.aclose()


async def until(condition: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_res1_after_a_failover_the_service_writes_to_the_new_primary(
    app: FastAPI,
    client: httpx.AsyncClient,
    address: TcpForwarder,
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> None:
    old, new = old_and_new_primary
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "from the source"

    name = f"things-{uuid.uuid4().hex[:8]}:v1"
    resource: CachedResource[str] = chassis_of(app).resources.cache.resource(name, JsonCodec(str))
    await resource.get_or_load("k", load)
    assert await resource.get_or_load("k", load) == "from the source"
    assert loads == 1  # stored in the old primary, read back
    widget = (await client.post("/v1/widgets", json={"name": "Before the failover"})).json()
    url = f"/v1/widgets/{widget['id']}"
    assert (await client.get(url)).status_code == 200  # cached

    await demote(old, new)

    async def readiness_names_the_replica() -> bool:
        checks = (await client.get("/health/ready")).json()["checks"]
        return bool(checks["redis"].get("error") == "ReadOnlyError")

    # Readiness stays 200 (Redis is not critical) but says why writes fail: a PING would pass.
    await until(readiness_names_the_replica, within=5, what="readiness missed the replica")
    # The address still reaches the old primary, now a replica: writes are refused there. The
    # service answers as in an outage (never a 500), and never reads its old cached value.
    changed = await client.patch(url, json={"name": "Changed on the replica's watch"})
    assert changed.status_code == 200
    for _ in range(3):
        read = await client.get(url)
        assert read.status_code == 200
        assert read.json()["name"] == "Changed on the replica's watch"

    address.retarget(new.port, drop=False)  # the address names the new primary
    primary = Redis.from_url(new.url)
    try:

        async def stored_in_the_new_primary() -> bool:
            await resource.get_or_load(uuid.uuid4().hex, load)
            return bool(await primary.keys(f"*{name}*"))

        # Each pooled connection is refused once, then replaced: not kept until a restart.
        await until(
            stored_in_the_new_primary, within=10, what="the cache never wrote to the new primary"
        )

        async def counted_in_the_new_primary() -> bool:
            assert (await client.get(url)).status_code == 200
            return bool(await primary.keys("*ratelimit*"))

        await until(
            counted_in_the_new_primary,
            within=10,
            what="the rate limiter never counted in the new primary",
        )
    finally:
        await primary.aclose()
    assert (await client.get(url)).json()["name"] == "Changed on the replica's watch"

    async def ready() -> bool:
        return bool((await client.get("/health/ready")).json()["status"] == "ok")

    await until(ready, within=5, what="readiness never saw the new primary")


async def test_res1_without_the_right_to_ask_its_role_readiness_takes_an_answer(
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> None:
    server = old_and_new_primary[0]
    admin = Redis.from_url(server.url)
    user = f"no-role-{uuid.uuid4().hex[:8]}"
    await admin.acl_setuser(user, enabled=True, passwords=["+secret"], commands=["+@all", "-role"])
    limited = redis_from_url(f"redis://{user}:secret@127.0.0.1:{server.port}/0")
    try:
        await answers_as_primary(limited)  # ROLE refused (NOPERM): the PING decides
        await admin.replicaof("127.0.0.1", old_and_new_primary[1].port)
        await answers_as_primary(limited)  # it cannot tell a replica: no false alarm either
        with pytest.raises(ReadOnlyError):
            await answers_as_primary(admin)
    finally:
        await limited.aclose()
        await admin.aclose()


async def test_perf1_after_a_failover_the_near_cache_listens_to_the_new_primary(
    app: FastAPI,
    address: TcpForwarder,
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> None:
    old, new = old_and_new_primary
    cache = chassis_of(app).resources.cache
    near = getattr(cache.backend, "near", None)
    assert isinstance(near, NearCache)
    await wait_for(lambda: near.serving)
    sessions = near.sessions
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    name = f"things-{uuid.uuid4().hex[:8]}:v1"
    resource: CachedResource[int] = cache.resource(name, JsonCodec(int))
    link = TcpForwarder(new.port)  # the old primary's replication link, to be cut
    await link.start()
    primary = Redis.from_url(new.url)
    try:
        await resource.get_or_load(
            "before", load
        )  # the shared client's connection: the old primary
        await demote(old, new, through=link.port)
        address.retarget(new.port, drop=False)

        async def stored_in_the_new_primary() -> bool:
            await resource.get_or_load(uuid.uuid4().hex, load)
            return bool(await primary.keys(f"*{name}*"))

        # Refused once as the replica's, the shared client's connection moved to the new primary.
        await until(
            stored_in_the_new_primary, within=10, what="the cache never wrote to the new primary"
        )
        await wait_for(lambda: near.serving)
        loaded = await resource.get_or_load("k", load)
        assert await resource.get_or_load("k", load) == loaded  # a copy kept

        # The old primary still answers (PINGs too), but no longer hears of the new one's writes.
        await link.close()
        replica = Redis.from_url(old.url)
        try:

            async def link_down() -> bool:
                return bool((await replica.info("replication"))["master_link_status"] == "down")

            await until(link_down, within=10, what="the replication link stayed up")
        finally:
            await replica.aclose()

        await primary.delete(*await primary.keys(f"*{name}*"))  # another process invalidates
        await asyncio.sleep(near.max_staleness_seconds)
        assert await resource.get_or_load("k", load) != loaded  # loaded again: not the copy
    finally:
        await primary.aclose()
        await link.close()
    await wait_for(lambda: near.serving)  # listening to the new primary, not turned off
    assert near.sessions > sessions


async def test_perf1_the_near_cache_does_not_listen_to_a_replica(
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> None:
    old, new = old_and_new_primary
    admin = Redis.from_url(old.url)
    await admin.replicaof("127.0.0.1", new.port)  # a replica at once, synchronised or not
    await admin.aclose()
    near = NearCache(prefix="svc:cache:", max_staleness_seconds=0.1, max_entries=10, ttl_seconds=60)
    connections = 0

    async def connect() -> Connection:
        nonlocal connections
        connections += 1
        return await tracking_connection(old.url, connect_timeout=5)

    async with near.listening_while(connect):
        # The first session is over, or (were it a replica's) listening.
        await wait_for(lambda: connections >= 2 or near.sessions > 0)
        assert near.sessions == 0
        assert not near.serving


async def test_perf1_without_the_right_to_ask_its_role_the_near_cache_listens(
    old_and_new_primary: tuple[RedisServer, RedisServer],
) -> None:
    server = old_and_new_primary[0]
    admin = Redis.from_url(server.url)
    user = f"no-role-{uuid.uuid4().hex[:8]}"
    await admin.acl_setuser(
        user, enabled=True, passwords=["+secret"], commands=["+@all", "-role"], channels=["*"]
    )
    await admin.aclose()
    near = NearCache(prefix="svc:cache:", max_staleness_seconds=0.1, max_entries=10, ttl_seconds=60)
    url = f"redis://{user}:secret@127.0.0.1:{server.port}/0"
    async with near.listening_while(partial(tracking_connection, url, connect_timeout=5)):
        await wait_for(lambda: near.serving)  # ROLE refused (NOPERM): it listens as before
