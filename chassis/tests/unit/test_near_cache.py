"""PERF-1's near cache, its rules on their own: what is kept, what is dropped, when copies are
served. The listener runs against a scripted connection that answers as Redis does (RESP2, a
connection subscribed to its own invalidations); `tests/integration/test_near_cache.py` runs it
against a real Redis, and `tests/reliability/test_near_cache_replicas.py` across processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from goldenpath_chassis._core.near_cache import INVALIDATION_CHANNEL, NearCache

from tests.support.near_cache import wait_for

pytestmark = pytest.mark.unit

BOUND = 0.05  # seconds
KEY = "svc:cache:{things:v1:a}"


class ScriptedConnection:
    """Answers ROLE (a primary), CLIENT ID, CLIENT TRACKING, SUBSCRIBE and PING as Redis does,
    in order, on one stream; the test pushes invalidations into the same stream, or stops
    answering PINGs."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.stalled: list[Any] | None = None  # what a stalled Redis has not sent yet
        self.disconnected = False

    def stall(self) -> None:
        """Redis (or the network) stops answering; nothing is lost, only delayed."""
        self.stalled = []

    def resume(self) -> None:
        held, self.stalled = self.stalled or [], None
        for item in held:
            self.incoming.put_nowait(item)

    def _answer(self, item: Any) -> None:
        if self.stalled is not None:
            self.stalled.append(item)
        else:
            self.incoming.put_nowait(item)

    async def send_command(self, *args: Any, **_: Any) -> None:
        if self.disconnected:
            raise ConnectionError("closed")
        self.sent.append(args)
        match args:
            case ("ROLE",):
                self.incoming.put_nowait([b"master", 0, []])
            case ("CLIENT", "ID"):
                self.incoming.put_nowait(7)
            case ("CLIENT", "TRACKING", *_):
                self.incoming.put_nowait(b"OK")
            case ("SUBSCRIBE", channel):
                self.incoming.put_nowait([b"subscribe", channel.encode(), 1])
            case ("PING",):
                self._answer([b"pong", b""])

    def invalidate(self, *keys: str) -> None:
        encoded = [key.encode() for key in keys]
        self._answer([b"message", INVALIDATION_CHANNEL.encode(), encoded])

    def flush(self) -> None:
        self._answer([b"message", INVALIDATION_CHANNEL.encode(), None])

    def drop(self) -> None:
        self.incoming.put_nowait(ConnectionError("reset by peer"))

    async def read_response(self, *_: Any, **__: Any) -> Any:
        item = await self.incoming.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def disconnect(self, *_: Any, **__: Any) -> None:
        self.disconnected = True


def near_cache(ttl: float = 60) -> NearCache:
    return NearCache(
        prefix="svc:cache:", max_staleness_seconds=BOUND, max_entries=3, ttl_seconds=ttl
    )


class Listening:
    """A near cache whose listener runs on scripted connections (a new one per reconnection)."""

    def __init__(self, near: NearCache) -> None:
        self.near = near
        self.connections: list[ScriptedConnection] = []

    async def connect(self) -> ScriptedConnection:
        self.connections.append(ScriptedConnection())
        return self.connections[-1]

    @property
    def connection(self) -> ScriptedConnection:
        return self.connections[-1]


@pytest.fixture
async def listening() -> Any:
    near = near_cache()
    running = Listening(near)
    async with near.listening_while(running.connect):
        await wait_for(lambda: near.serving)
        yield running


def test_perf1_nothing_is_served_before_the_listener_has_an_answer() -> None:
    near = near_cache()
    near.keep(KEY, b"v1", near.epoch)
    assert near.get(KEY) is None
    assert len(near) == 0


async def test_perf1_tracking_is_broadcast_for_the_prefix_on_the_listeners_own_connection(
    listening: Listening,
) -> None:
    sent = listening.connection.sent
    assert sent[:4] == [
        ("ROLE",),  # a replica is refused (tests/resilience/test_redis_failover.py)
        ("CLIENT", "ID"),
        ("CLIENT", "TRACKING", "ON", "REDIRECT", 7, "BCAST", "PREFIX", "svc:cache:"),
        ("SUBSCRIBE", INVALIDATION_CHANNEL),
    ]


async def test_perf1_a_copy_is_served_until_its_key_is_invalidated(listening: Listening) -> None:
    near = listening.near
    near.keep(KEY, b"v1", near.epoch)
    assert near.get(KEY) == b"v1"
    listening.connection.invalidate("svc:cache:{things:v1:a}:gen")  # the generation's key
    await wait_for(lambda: near.get(KEY) is None)
    near.keep(KEY, b"v2", near.epoch)
    assert near.get(KEY) == b"v2"
    listening.connection.invalidate(KEY)  # the value's key
    await wait_for(lambda: near.get(KEY) is None)


async def test_perf1_a_flush_drops_every_copy(listening: Listening) -> None:
    near = listening.near
    near.keep(KEY, b"v1", near.epoch)
    near.keep("svc:cache:{b}", b"b", near.epoch)
    assert len(near) == 2  # kept, so the flush has something to drop
    listening.connection.flush()
    await wait_for(lambda: len(near) == 0)


async def test_perf1_a_read_in_flight_during_an_invalidation_keeps_no_copy(
    listening: Listening,
) -> None:
    near = listening.near
    since = near.epoch  # a read of KEY starts, and of another key
    near.invalidate(KEY)  # a write's message arrives before the read's reply
    near.keep(KEY, b"old", since)
    near.keep("svc:cache:{other}", b"fine", since)
    assert near.get(KEY) is None
    assert near.get("svc:cache:{other}") == b"fine"


async def test_perf1_reads_in_flight_across_a_reconnection_keep_nothing(
    listening: Listening,
) -> None:
    near = listening.near
    since = near.epoch
    listening.connection.drop()  # invalidations may be lost until the next connection
    await wait_for(lambda: len(listening.connections) == 2 and near.serving)
    near.keep(KEY, b"old", since)
    assert near.get(KEY) is None


async def test_perf1_copies_stop_being_served_within_the_bound_of_the_last_answer(
    listening: Listening,
) -> None:
    near = listening.near
    near.keep(KEY, b"v1", near.epoch)
    assert near.get(KEY) == b"v1"  # served before the stall
    listening.connection.stall()
    stalled = time.monotonic()
    listening.connection.invalidate(KEY)  # a write while stalled: its message is held too
    await wait_for(lambda: not near.serving)
    # The last PING answered was sent before the stall: copies stopped one bound after it.
    assert near._serving_until <= stalled + BOUND
    assert near.get(KEY) is None
    listening.connection.resume()
    await wait_for(lambda: near.serving)
    assert near.get(KEY) is None  # the held message came before the answers that resumed it


async def test_perf1_a_lost_connection_drops_every_copy_and_reconnects(
    listening: Listening,
) -> None:
    near = listening.near
    near.keep(KEY, b"v1", near.epoch)
    assert len(near) == 1  # kept, so the lost connection has something to drop
    listening.connection.drop()
    await wait_for(lambda: len(listening.connections) == 2 and near.serving)
    assert listening.connections[0].disconnected
    assert near.get(KEY) is None  # invalidations sent while nobody listened are lost
    assert near.sessions == 2


async def test_perf1_a_silent_connection_is_replaced() -> None:
    near = NearCache(prefix="p:", max_staleness_seconds=0.01, max_entries=3, ttl_seconds=60)
    running = Listening(near)
    async with near.listening_while(running.connect):
        await wait_for(lambda: near.serving)
        running.connection.stall()
        await wait_for(lambda: len(running.connections) == 2, within=10)
        await wait_for(lambda: near.serving)
    assert not near.serving  # stopped with the listener


def test_perf1_copies_are_bounded_in_number_and_in_age() -> None:
    near = near_cache(ttl=0.05)
    near._answered(time.monotonic() + 60)  # as if Redis had just answered, for a minute
    for index in range(5):
        near.keep(f"svc:cache:{{{index}}}", b"x", near.epoch)
    assert len(near) == 3  # the oldest went first
    assert near.get("svc:cache:{0}") is None
    assert near.get("svc:cache:{4}") == b"x"
    time.sleep(0.06)
    assert near.get("svc:cache:{4}") is None  # no older than the cache's TTL


def test_perf1_copies_are_bounded_in_bytes() -> None:
    near = NearCache(
        prefix="svc:cache:",
        max_staleness_seconds=BOUND,
        max_entries=100,
        ttl_seconds=60,
        max_bytes=100,
    )
    near._answered(time.monotonic() + 60)
    keys = [f"svc:cache:{{{index}}}" for index in range(4)]  # 13 characters each
    for key in keys:
        near.keep(key, b"x" * 27, near.epoch)  # 40 bytes with its key
    assert len(near) == 2  # the oldest went first
    assert near.size_bytes == 80
    assert near.get(keys[1]) is None
    assert near.get(keys[3]) == b"x" * 27
    near.keep(keys[3], b"y" * 7, near.epoch)  # replaced: counted once, at its new size
    assert near.size_bytes == 60
    near.invalidate(keys[2])
    assert near.size_bytes == 20
    near.keep("svc:cache:{big}", b"z" * 200, near.epoch)  # larger than the bound: not kept
    assert near.get("svc:cache:{big}") is None
    assert near.size_bytes == 20
