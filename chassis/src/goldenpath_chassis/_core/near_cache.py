"""The near cache (PERF-1): copies of cache entries in process memory, coherent with Redis.

A read through the shared cache costs a Redis round trip, more CPU than the rest of a cached
request. The near cache keeps a copy of what this process read, and Redis's server-assisted
client-side caching keeps the copies coherent: on a connection of its own, the listener turns on
`CLIENT TRACKING` in broadcast mode for the cache's key prefix and subscribes to the
invalidations, so every change to a cache key by any process (an invalidation, a store, an
expiry, a flush) reaches this one as a message that drops the copy.

The bound (`CACHE_NEAR_MAX_STALENESS_MS`): copies are served only while a PING that the
listener sent less than one bound ago has been answered. Redis queues a write's invalidation
messages before it answers the writer (in broadcast mode it sends them before it flushes its
replies), and answers a PING only after what it queued earlier on the same connection. So the
invalidation of a write that completed more than one bound ago has been applied before any copy
is served. When the connection is slow or lost, copies are not served (reads go to Redis, as
without a near cache), and every copy is dropped before one is served on a new connection.

A copy is kept only if no invalidation of its key arrived while the read that fetched it was in
flight, so a read that started before a write never keeps the old value after the write's
message.

The listener listens only to a primary. A replica forwards the invalidations of the writes it
replicates, but while its link to the primary is down it still answers PINGs and forwards
nothing, so copies would be served stale up to their TTL. So a session begins by asking ROLE
(unless an ACL withholds it) and refuses a replica (reconnecting later, copies not served), and
a session in progress ends when the shared client is refused as a replica (`reconnect`, called
by `redis.when_refused_as_replica`): the server behind the address was demoted, or the address
moved after a failover, and the listener follows it as the shared client's connections do.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.exceptions import ResponseError

from .logging import get_logger

INVALIDATION_CHANNEL = "__redis__:invalidate"
# Redis's key for an entry's generation is the value's key with this suffix (cache.py).
GENERATION_SUFFIX = ":gen"
# Invalidations remembered for reads in flight; older ones count as "maybe this key".
MAX_REMEMBERED_INVALIDATIONS = 10_000
# PINGs per bound: one late answer does not stop the copies being served.
PINGS_PER_BOUND = 4
# Without an answer for this long (or this many bounds), the connection is replaced.
SILENCE_LIMIT_SECONDS = 2.0
SILENCE_LIMIT_BOUNDS = 10
RECONNECT_SECONDS = (0.1, 5.0)

_log = get_logger(__name__)


class TrackingConnection(Protocol):
    """What the listener needs of a connection (redis-py's `Connection`)."""

    async def send_command(self, *args: Any, **kwargs: Any) -> None: ...

    async def read_response(self, *args: Any, **kwargs: Any) -> Any: ...

    async def disconnect(self, *args: Any, **kwargs: Any) -> None: ...


Connect = Callable[[], Awaitable[TrackingConnection]]


class NearCache:
    """Copies of Redis entries by their Redis key; see the module docstring."""

    def __init__(
        self,
        *,
        prefix: str,
        max_staleness_seconds: float,
        max_entries: int,
        ttl_seconds: float,
        max_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.max_staleness_seconds = max_staleness_seconds
        self._max_entries = max_entries
        # Entries vary from one item to a page of many: the count alone does not bound memory.
        self._max_bytes = max_bytes
        self._bytes = 0
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Every invalidation (a key's, or all of them) advances the epoch.
        self._epoch = 0
        self._invalidated: OrderedDict[str, int] = OrderedDict()
        self._forgotten_until = 0  # invalidations up to this epoch may have been forgotten
        self._serving_until = -math.inf
        self.listening = False
        self.sessions = 0  # connections that started listening, for tests and logs
        self._reconnect_asked = asyncio.Event()

    @property
    def serving(self) -> bool:
        return self._clock() < self._serving_until

    @property
    def epoch(self) -> int:
        """Pass it to `keep` with what a read returns: the epoch before the read started."""
        return self._epoch

    def get(self, key: str) -> bytes | None:
        if self._clock() >= self._serving_until:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            self._drop(key)
            return None
        return value

    def keep(self, key: str, value: bytes, since: int) -> None:
        """Keep a copy of what a read that began at epoch `since` returned, unless the key was
        (or may have been) invalidated meanwhile."""
        if not self.serving:
            return
        if since != self._epoch and (
            since < self._forgotten_until or self._invalidated.get(key, -1) > since
        ):
            return
        size = _size(key, value)
        if size > self._max_bytes:
            return
        self._drop(key)
        self._entries[key] = (self._clock() + self._ttl, value)
        self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def invalidate(self, key: str) -> None:
        self._epoch += 1
        self._drop(key)
        self._invalidated[key] = self._epoch
        self._invalidated.move_to_end(key)
        while len(self._invalidated) > MAX_REMEMBERED_INVALIDATIONS:
            _, epoch = self._invalidated.popitem(last=False)
            self._forgotten_until = epoch

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._bytes = 0
        self._invalidated.clear()
        self._forgotten_until = self._epoch

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """What the kept keys and values take, as counted against `max_bytes`."""
        return self._bytes

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _size(key, entry[1])

    # --- the listener -----------------------------------------------------------------------------
    def _answered(self, sent_at: float) -> None:
        self._serving_until = max(self._serving_until, sent_at + self.max_staleness_seconds)

    def _stop_serving(self) -> None:
        self._serving_until = -math.inf
        self.clear()

    def _apply(self, message: Any, pings: deque[float]) -> None:
        if not isinstance(message, list) or not message:
            return
        kind = message[0]
        if kind == b"message" and len(message) == 3:
            keys = message[2]
            if keys is None:  # FLUSHALL / FLUSHDB: everything
                self.clear()
                return
            for raw in keys:
                key = raw.decode() if isinstance(raw, bytes) else str(raw)
                self.invalidate(key)
                if key.endswith(GENERATION_SUFFIX):  # a new generation: the value is gone too
                    self.invalidate(key.removesuffix(GENERATION_SUFFIX))
        elif kind == b"pong" and pings:
            # Everything Redis queued on this connection before the PING has been applied.
            self._answered(pings.popleft())

    async def _refuse_a_replica(self, connection: TrackingConnection) -> None:
        await connection.send_command("ROLE")
        try:
            role = await connection.read_response()
        except ResponseError:  # ROLE withheld by an ACL: an answer is all it can tell
            return
        if role[0] not in (b"master", "master"):
            raise ConnectionError("Redis answers as a replica")

    async def _track(self, connection: TrackingConnection) -> None:
        await self._refuse_a_replica(connection)
        await connection.send_command("CLIENT", "ID")
        client_id = await connection.read_response()
        await connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", self.prefix
        )
        if await connection.read_response() != b"OK":
            raise ConnectionError("CLIENT TRACKING was refused")
        await connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
        await connection.read_response()  # the subscription's confirmation

    async def _read(self, connection: TrackingConnection, pings: deque[float]) -> None:
        while True:
            self._apply(await connection.read_response(timeout=math.inf), pings)

    async def _ping(self, connection: TrackingConnection, pings: deque[float]) -> None:
        interval = self.max_staleness_seconds / PINGS_PER_BOUND
        silence = max(SILENCE_LIMIT_SECONDS, SILENCE_LIMIT_BOUNDS * self.max_staleness_seconds)
        while True:
            now = self._clock()
            if pings and now - pings[0] > silence:
                raise TimeoutError(f"no answer to PING for {silence:g} s")
            pings.append(now)
            await connection.send_command("PING", check_health=False)
            await asyncio.sleep(interval)

    def reconnect(self) -> None:
        """End the listening session, if any: the listener connects again, through the address."""
        self._reconnect_asked.set()

    async def _until_reconnect_asked(self) -> None:
        await self._reconnect_asked.wait()
        raise ConnectionError("asked to reconnect: Redis refused a command as a replica")

    async def _session(self, connect: Connect) -> None:
        # Asked before this session began: about a connection already closed.
        self._reconnect_asked.clear()
        connection = await connect()
        try:
            await self._track(connection)
            # What this process kept before may have changed while nothing was listening.
            self.clear()
            self.listening = True
            self.sessions += 1
            _log.info("near_cache_listening", prefix=self.prefix)
            pings: deque[float] = deque()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(connection, pings))
                group.create_task(self._ping(connection, pings))
                group.create_task(self._until_reconnect_asked())
        finally:
            self.listening = False
            self._stop_serving()
            await connection.disconnect()

    async def listen(self, connect: Connect) -> None:
        """Keep the copies coherent until cancelled, reconnecting after any failure."""
        shortest, longest = RECONNECT_SECONDS
        delay = shortest
        while True:
            sessions = self.sessions
            try:
                await self._session(connect)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # never let the listener die: the copies stop serving
                if self.sessions != sessions:
                    delay = shortest  # it was listening: a new failure, not a repeated one
                errors = error.exceptions if isinstance(error, ExceptionGroup) else [error]
                _log.warning(
                    "near_cache_disconnected",
                    error=", ".join(type(each).__name__ for each in errors),
                    retry_seconds=delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    @asynccontextmanager
    async def listening_while(self, connect: Connect) -> AsyncIterator[None]:
        """Run the listener for the duration of the block."""
        task = asyncio.create_task(self.listen(connect), name="near-cache-listener")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._stop_serving()


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value)
