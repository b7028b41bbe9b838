"""Cache-aside (PERF-1): reads from Redis, loads from the source on a miss, and a bounded
staleness across processes.

`Cache` is the process's cache; `cache.resource(name, codec)` gives one typed, namespaced view
(`items:3f9c0a7e`, the name versioned by its shape). Reads go `get_or_load(key, load)`; every
write path calls `invalidate(key)` after its transaction commits. The guarantees, and how:

- Explicit, jittered TTLs: each entry lives `ttl * (1 ± jitter)`, so entries written together
  do not expire together.
- No stale read after a write: a load that started before an invalidation never stores its
  (old) value. In-process, invalidation marks the in-flight load stale; across processes
  (replicas, the worker), Redis keeps a generation per key that invalidation bumps, and the
  store is a compare-and-set on it (one Lua script), so it fails if any writer came between.
- Reads without a round trip: each process keeps copies of what it read (`near_cache.py`),
  dropped by Redis's invalidation messages. A process never reads its own write's old value;
  another process's write is seen within `CACHE_NEAR_MAX_STALENESS_MS` of its completion (0:
  every read goes to Redis).
- Across versions: a resource's name carries its shape (`items:3f9c0a7e`), so a deployment
  that changes the shape reads and writes a namespace of its own. During a rolling deployment
  the old and the new replicas run side by side, and each write invalidates its key in every
  namespace of the resource that can still hold entries: each process registers its namespace
  in Redis before it reads or stores there, for a lease that outlives anything it stores. A
  store that finds its registration gone (Redis restarted empty, or was flushed) registers
  again and drops what it stored, which a write meanwhile could have missed.
- Stampede protection: concurrent misses of one key in one process share a single load
  (single flight); N replicas make at most N loads of a key, not one per request.
- Redis down: reads go to the source (counted in `cache_errors_total`), the "redis" circuit
  breaker makes that immediate (and, for a moment after any timeout, the client itself:
  `redis_unanswered.py`), and invalidations that could not be applied are replayed
  before the cache is trusted again (one replay at a time, tried only when the breaker lets a
  call through); until then this process bypasses it. Past 10,000 owed,
  the whole cache is cleared instead (`cache_invalidations_overflowed`, a warning), and a new
  reset in Redis, part of every generation a store checks, keeps any load that read the cache
  before from storing after.
- Development without Redis: a bounded in-memory LRU (`CACHE_MEMORY_MAX_ENTRIES`). It is one
  process's: the worker process cannot invalidate it, so its TTL is capped at 5 seconds, the
  longest a worker's write can go unseen there. Production requires Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from .logging import get_logger
from .metrics import Metrics
from .near_cache import NearCache
from .resilience import CircuitBreakers, CircuitOpenError
from .settings import ChassisSettings

REDIS_DEPENDENCY = "redis"
# Without Redis, another process (the worker) cannot reach this process's entries: bound how
# long one of its writes can stay unseen here.
MEMORY_TTL_CAP_SECONDS = 5.0
_AFTER_COMMIT = "cache_invalidations"
# Invalidation leaves a generation key behind for longer than any load can take.
GENERATION_TTL_SECONDS = 3600
# Invalidations remembered while Redis is unreachable; beyond this, the whole cache is cleared.
MAX_PENDING_INVALIDATIONS = 10_000
# The cache's reset (`RedisBackend.clear`) is under its prefix: the prefix and this.
RESET_KEY = "reset"
# A process renews its namespace's registration this often while it reads or stores there.
NAMESPACE_RENEWAL_SECONDS = 30.0
# Covers the round trips and clock steps between a registration and a store counted against it.
NAMESPACE_LEASE_MARGIN_SECONDS = 10.0

_log = get_logger(__name__)

# KEYS[1]: the value, KEYS[2]: its generation, KEYS[3]: the cache's reset; ARGV: value, TTL
# in ms, generation seen at read (as `RedisBackend.read` folds the reset into it).
_STORE_IF_GENERATION_UNCHANGED = """
local generation = redis.call('GET', KEYS[2]) or ''
local reset = redis.call('GET', KEYS[3])
if reset then
  generation = reset .. '.' .. generation
end
if generation == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS[1]: the registry of a resource's namespaces; ARGV: this namespace, the lease in ms.
# Redis's clock, not the process's: every replica's leases are measured on one clock.
_REGISTER_NAMESPACE = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
"""


class CacheUnavailableError(Exception):
    """The backend could not answer; callers fall back to the source."""


class Codec[T](Protocol):
    def encode(self, value: T) -> bytes: ...
    def decode(self, data: bytes) -> T: ...


class JsonCodec[T]:
    """JSON through pydantic: models, dataclasses and plain types."""

    def __init__(self, type_: type[T]) -> None:
        self._adapter = TypeAdapter(type_)

    def encode(self, value: T) -> bytes:
        return self._adapter.dump_json(value)

    def decode(self, data: bytes) -> T:
        return self._adapter.validate_json(data)

    def versioned(self, name: str) -> str:
        """`name` with the fingerprint of the type's JSON shape: `items` -> `items:3f9c0a7e`.

        Named so, a resource's entries change namespace whenever a deployment changes the
        cached type's shape (a field added, removed, renamed or retyped), so no deployment
        decodes entries written in another shape, and nobody has to remember to bump a version.
        A type pydantic cannot describe in JSON Schema raises here: name its resource by hand.
        """
        return f"{name}:{json_shape_fingerprint(self._adapter)}"


# JSON Schema keywords that annotate a schema without constraining it; an edited docstring or
# field description does not change what is stored. A property *named* like one of them is a
# schema (a dict), and stays.
_ANNOTATIONS = frozenset({"title", "description", "examples"})


def _without_annotations(node: object) -> object:
    if isinstance(node, dict):
        return {
            key: _without_annotations(value)
            for key, value in node.items()
            if not (key in _ANNOTATIONS and not isinstance(value, dict))
        }
    if isinstance(node, list):
        return [_without_annotations(value) for value in node]
    return node


def json_shape_fingerprint(adapter: TypeAdapter[Any]) -> str:
    """Eight hex digits of a SHA-256 over the type's JSON Schemas, as read and as written."""
    schemas = [adapter.json_schema(mode=mode) for mode in ("validation", "serialization")]
    canonical = json.dumps(_without_annotations(schemas), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


# An entry's address: its resource's namespace (`items:3f9c0a7e`) and its key in it.
type Entry = tuple[str, str]


def entry_key(entry: Entry) -> str:
    """The entry's key across the cache: `items:3f9c0a7e:<key>`."""
    return f"{entry[0]}:{entry[1]}"


def resource_label(namespace: str) -> str:
    """What every version of a resource's namespace shares: `items` of `items:3f9c0a7e`."""
    return namespace.partition(":")[0]


class CacheBackend(Protocol):
    kind: str

    async def read(self, entry: Entry) -> tuple[bytes | None, bytes]:
        """The value (None on a miss) and the generation to pass to `write`."""
        ...

    async def write(
        self, entry: Entry, value: bytes, *, ttl_seconds: float, generation: bytes
    ) -> None:
        """Store unless `entry` was invalidated since the read that returned `generation`."""
        ...

    async def generation(self, entry: Entry) -> bytes:
        """The entry's generation: what `invalidate` changes (for groups, `CachedResource`)."""
        ...

    async def invalidate(self, entries: Sequence[Entry]) -> Sequence[Entry]:
        """Every version's copy of each entry is gone for its readers; returns the entries
        reached in other versions' namespaces."""
        ...

    async def clear(self) -> None: ...

    def refusing(self) -> bool:
        """True while a call would fail at once without being tried (Redis's breaker is open):
        the cache does not retry owed invalidations then."""
        ...


class MemoryBackend:
    """A bounded LRU with expiry, for one process without Redis."""

    kind = "memory"

    def __init__(self, *, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Generations of invalidated keys: never reused, so an old entry is never found again.
        self._generations: dict[str, bytes] = {}
        self._invalidations = itertools.count(1)
        # The generation of a key never invalidated, or forgotten: a new one each time they are
        # forgotten, so a load that read the old one stores where no reader looks any more.
        self._unknown_generation = b""

    async def read(self, entry: Entry) -> tuple[bytes | None, bytes]:
        key = entry_key(entry)
        found = self._entries.get(key)
        if found is None:
            return None, b""
        expires_at, value = found
        if expires_at <= time.monotonic():
            del self._entries[key]
            return None, b""
        self._entries.move_to_end(key)
        return value, b""

    async def write(
        self, entry: Entry, value: bytes, *, ttl_seconds: float, generation: bytes
    ) -> None:
        # One process: in-flight loads are marked stale by `Cache.invalidate` itself.
        key = entry_key(entry)
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def generation(self, entry: Entry) -> bytes:
        return self._generations.get(entry_key(entry), self._unknown_generation)

    async def invalidate(self, entries: Sequence[Entry]) -> Sequence[Entry]:
        # One process runs one version: no other namespace of a resource to reach.
        for key in map(entry_key, entries):
            self._entries.pop(key, None)
            self._generations[key] = str(next(self._invalidations)).encode()
        if len(self._generations) > self._max_entries:
            # Forgetting a generation could find entries of an older one: forget those too.
            self._forget_all()
        return ()

    async def clear(self) -> None:
        self._forget_all()

    def refusing(self) -> bool:
        return False  # in this process's memory: it always answers

    def _forget_all(self) -> None:
        self._entries.clear()
        self._generations.clear()
        self._unknown_generation = f"reset-{next(self._invalidations)}".encode()

    def __len__(self) -> int:
        return len(self._entries)


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


class RedisBackend:
    """Redis, shared by every replica and the worker, behind the "redis" circuit breaker.

    `max_entry_ttl_seconds` bounds how long a stored entry lives: a namespace's registration
    lasts that long past the last store it covers.
    """

    kind = "redis"

    def __init__(
        self,
        redis: Redis,
        *,
        breakers: CircuitBreakers,
        prefix: str,
        near: NearCache | None = None,
        generation_ttl_seconds: float = GENERATION_TTL_SECONDS,
        max_entry_ttl_seconds: float = GENERATION_TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self._breakers = breakers
        self._prefix = prefix
        # Outside the near cache's tracked prefix: a registration is not an entry's change.
        self._registry_prefix = prefix.rstrip(":") + "-namespaces:"
        # Set by `clear()`, read with every entry: part of every generation a store checks.
        self._reset_key = prefix + RESET_KEY
        self._generation_ttl = max(1, int(generation_ttl_seconds))
        self._lease_ms = int(
            (max_entry_ttl_seconds + NAMESPACE_RENEWAL_SECONDS + NAMESPACE_LEASE_MARGIN_SECONDS)
            * 1000
        )
        # How long after a renewal began its lease certainly still runs, on this process's clock.
        self._lease_seconds_held = self._lease_ms / 1000 - NAMESPACE_LEASE_MARGIN_SECONDS
        self._registered: dict[str, float] = {}  # namespace -> when its lease was last renewed
        self._store = redis.register_script(_STORE_IF_GENERATION_UNCHANGED)
        self._register = redis.register_script(_REGISTER_NAMESPACE)
        # Copies in process memory, served while Redis's invalidations are known to arrive.
        self.near = near

    def _keys(self, key: str) -> tuple[str, str]:
        # The braces keep an entry's keys in one Redis Cluster slot; but the reset key is read
        # with every entry, so the cache needs one Redis (so does `clear()`'s SCAN).
        value_key = self._prefix + "{" + key + "}"
        return value_key, value_key + ":gen"

    def _registry(self, label: str) -> str:
        return self._registry_prefix + label

    @asynccontextmanager
    async def _guarded(self) -> AsyncIterator[None]:
        try:
            async with self._breakers.protect(REDIS_DEPENDENCY):
                yield
        except (RedisError, OSError, TimeoutError, CircuitOpenError) as exc:
            # Redis may come back empty: each namespace registers again before its next read
            # (and a store that finds its registration gone anyway, below, drops its entry).
            self._registered.clear()
            raise CacheUnavailableError(type(exc).__name__) from exc

    async def _ensure_registered(self, namespace: str) -> None:
        """Renew this namespace's lease when due. Called before every read of Redis and every
        store, so a writer that lists the live namespaces after its commit finds this one
        whenever a read here could have loaded the value its write replaced."""
        renewed = self._registered.get(namespace)
        now = time.monotonic()
        if renewed is not None and now - renewed < NAMESPACE_RENEWAL_SECONDS:
            return
        if renewed is not None and now - renewed < self._lease_seconds_held:
            # The lease still runs, so reads meanwhile need not wait for its renewal (a failure
            # forgets every registration: the next read waits for one).
            self._registered[namespace] = now
        async with self._guarded():
            await self._register(
                keys=[self._registry(resource_label(namespace))], args=[namespace, self._lease_ms]
            )
        self._registered[namespace] = now

    async def read(self, entry: Entry) -> tuple[bytes | None, bytes]:
        keys = self._keys(entry_key(entry))
        near = self.near
        if near is not None:
            copy = near.get(keys[0])
            if copy is not None:
                return copy, b""
            since = near.epoch
        await self._ensure_registered(entry[0])
        async with self._guarded():
            value, generation, reset = await self._redis.mget(*keys, self._reset_key)
        found = _as_bytes(value)
        if near is not None and found is not None:
            near.keep(keys[0], found, since)
        return found, _with_reset(generation, reset)

    async def generation(self, entry: Entry) -> bytes:
        # Without the reset: a group's page is read, and stored against it, as an entry.
        generation_key = self._keys(entry_key(entry))[1]
        near = self.near
        if near is not None:
            copy = near.get(generation_key)
            if copy is not None:
                return copy
            since = near.epoch
        await self._ensure_registered(entry[0])
        async with self._guarded():
            found = _as_bytes(await self._redis.get(generation_key)) or b""
        if near is not None:
            near.keep(generation_key, found, since)
        return found

    async def write(
        self, entry: Entry, value: bytes, *, ttl_seconds: float, generation: bytes
    ) -> None:
        namespace = entry[0]
        await self._ensure_registered(namespace)
        keys = self._keys(entry_key(entry))
        async with self._guarded():
            stored = await self._store(
                keys=[*keys, self._reset_key],
                args=[value, max(1, int(ttl_seconds * 1000)), generation],
            )
            registry = self._registry(resource_label(namespace))
            if not stored or await self._redis.zscore(registry, namespace) is not None:
                return
        # Redis lost the registration (a restart without persistence, a flush) after this
        # process made it, so a write through another version may have missed this entry:
        # register again, then drop what was stored.
        self._registered.pop(namespace, None)
        await self._ensure_registered(namespace)
        async with self._guarded():
            pipeline = self._redis.pipeline(transaction=False)
            self._queue_invalidations(pipeline, [entry_key(entry)])
            await pipeline.execute()

    async def invalidate(self, entries: Sequence[Entry]) -> Sequence[Entry]:
        """Each entry in its own namespace and in every other live one of its resource.

        One round trip asks for the live namespaces and invalidates the entries' own; a second
        reaches the other versions, only while there are any (a rolling deployment)."""
        if not entries:
            return ()
        own = sorted({entry_key(entry) for entry in entries})
        labels = sorted({resource_label(namespace) for namespace, _ in entries})
        if self.near is not None:
            for key in own:  # at once: this process's own reads never see the old copy
                for copied in self._keys(key):
                    self.near.invalidate(copied)
        async with self._guarded():
            # Plain commands, not a script: a pipeline with a script costs a SCRIPT EXISTS round
            # trip. Redis's clock is read before the leases, so none that runs is missed.
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.time()
            for label in labels:
                pipeline.zrange(self._registry(label), 0, -1, withscores=True)
            self._queue_invalidations(pipeline, own)
            replies = await pipeline.execute()
            seconds, micros = replies[0]
            now_ms = seconds * 1000 + micros // 1000
            live = {
                label: {_as_text(name) for name, lease_end in leases if lease_end > now_ms}
                for label, leases in zip(labels, replies[1 : len(labels) + 1], strict=True)
            }
            others = sorted(
                {
                    (other, key)
                    for namespace, key in entries
                    for other in live[resource_label(namespace)] - {namespace}
                }
            )
            if others:
                pipeline = self._redis.pipeline(transaction=False)
                self._queue_invalidations(pipeline, [entry_key(entry) for entry in others])
                await pipeline.execute()
        return others

    def _queue_invalidations(self, pipeline: Any, keys: Sequence[str]) -> None:
        for key in keys:
            value_key, generation_key = self._keys(key)
            pipeline.incr(generation_key)
            pipeline.expire(generation_key, self._generation_ttl)
            pipeline.unlink(value_key)

    async def clear(self) -> None:
        """Every entry is gone for its readers, and no load that read the cache before this
        call stores where a reader after it looks.

        Deleting the generations alone would not do: a key would be back at "no generation",
        or count its invalidations up to the one a load read, and the load's old value would
        be stored there. The new reset, never used before, is part of every generation from
        now on, so such a store fails; one that came before is deleted with the rest."""
        if self.near is not None:
            self.near.clear()
        async with self._guarded():
            await self._redis.set(self._reset_key, secrets.token_hex(8))
            batch: list[Any] = []
            # Entries only (the braces): the reset stays, and so do the registrations.
            async for key in self._redis.scan_iter(match=self._prefix + "{*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    await self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                await self._redis.unlink(*batch)

    def refusing(self) -> bool:
        return self._breakers.state(REDIS_DEPENDENCY) == "open"


def _with_reset(generation: bytes | str | None, reset: bytes | str | None) -> bytes:
    """An entry's generation as the store script sees it: the cache's reset, if it was ever
    cleared, then the entry's own."""
    own = _as_bytes(generation) or b""
    found = _as_bytes(reset)
    return own if found is None else found + b"." + own


def _as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(eq=False)
class _Flight:
    """One load in progress; `stale` once the key was invalidated while it ran."""

    task: asyncio.Task[Any] | None = None
    stale: bool = False


class Cache:
    """The process's cache-aside layer over one backend; see the module docstring."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        ttl_seconds: float,
        ttl_jitter: float = 0.1,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.ttl_seconds = ttl_seconds
        self.ttl_jitter = ttl_jitter
        self._metrics = metrics
        self._flights: dict[Entry, _Flight] = {}
        self._pending: set[Entry] = set()
        self._clear_pending = False
        self._replaying = False

    def resource[T](self, name: str, codec: Codec[T]) -> CachedResource[T]:
        return CachedResource(self, name, codec)

    def ttl(self) -> float:
        """One entry's TTL: the configured one, spread by up to ±jitter."""
        spread = random.uniform(-self.ttl_jitter, self.ttl_jitter)  # noqa: S311 - not security
        return self.ttl_seconds * (1 + spread)

    # --- used by CachedResource -----------------------------------------------------------------
    async def get_or_load[T](
        self, entry: Entry, load: Callable[[], Awaitable[T | None]], codec: Codec[T]
    ) -> T | None:
        if (self._pending or self._clear_pending) and not await self._replay_pending():
            self._count("errors", entry)
            return await load()  # invalidations are owed: do not trust the cache yet
        try:
            cached, generation = await self.backend.read(entry)
        except CacheUnavailableError:
            self._count("errors", entry)
            return await self._single_flight(entry, load, codec, generation=None)
        if cached is not None:
            try:
                value = codec.decode(cached)
            except ValueError:
                _log.warning("cache_entry_undecodable", key=entry_key(entry))
            else:
                self._count("hits", entry)
                return value
        self._count("misses", entry)
        return await self._single_flight(entry, load, codec, generation=generation)

    async def generation(self, entry: Entry) -> bytes | None:
        """`entry`'s generation (for a group), or None when the cache cannot be trusted now."""
        if (self._pending or self._clear_pending) and not await self._replay_pending():
            self._count("errors", entry)
            return None
        try:
            return await self.backend.generation(entry)
        except CacheUnavailableError:
            self._count("errors", entry)
            return None

    async def apply_invalidations(self, session: AsyncSession) -> None:
        """Invalidate what `invalidate_after_commit` noted on `session`; call after its commit."""
        noted: list[Entry] = session.info.pop(_AFTER_COMMIT, [])
        if noted:
            await self.invalidate(noted)

    async def invalidate(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        for entry in entries:
            flight = self._flights.pop(entry, None)
            if flight is not None:
                flight.stale = True
        try:
            others = await self.backend.invalidate(entries)
        except CacheUnavailableError:
            self._count("errors", entries[0])
            self._owe(entries)
            return
        if self._metrics is not None:
            for reached, reach in ((entries, "own"), (others, "other_versions")):
                for namespace, _ in reached:
                    self._metrics.cache_invalidations.labels(resource_label(namespace), reach).inc()

    # --- internals ------------------------------------------------------------------------------
    async def _single_flight[T](
        self,
        entry: Entry,
        load: Callable[[], Awaitable[T | None]],
        codec: Codec[T],
        *,
        generation: bytes | None,
    ) -> T | None:
        flight = self._flights.get(entry)
        owner = flight is None
        if flight is None:
            flight = _Flight()
            flight.task = asyncio.create_task(
                self._load_and_store(entry, load, codec, flight, generation)
            )
            flight.task.add_done_callback(lambda _: self._land(entry, flight))
            self._flights[entry] = flight
        assert flight.task is not None
        try:
            # Shielded: one caller giving up (a client disconnect) must not cancel the others.
            result: T | None = await asyncio.shield(flight.task)
        except Exception:
            if owner:
                raise
            return await load()  # the shared load failed (its caller's session may be gone)
        return result

    async def _load_and_store[T](
        self,
        entry: Entry,
        load: Callable[[], Awaitable[T | None]],
        codec: Codec[T],
        flight: _Flight,
        generation: bytes | None,
    ) -> T | None:
        value = await load()
        if value is None or generation is None or flight.stale:
            return value
        with contextlib.suppress(CacheUnavailableError):
            await self.backend.write(
                entry, codec.encode(value), ttl_seconds=self.ttl(), generation=generation
            )
        return value

    def _land(self, entry: Entry, flight: _Flight) -> None:
        if self._flights.get(entry) is flight:
            del self._flights[entry]
        task = flight.task
        if task is not None and not task.cancelled():
            task.exception()  # retrieved here, so asyncio does not warn when no caller waits

    def _owe(self, entries: Sequence[Entry]) -> None:
        if self._clear_pending:
            return
        self._pending.update(entries)
        if len(self._pending) > MAX_PENDING_INVALIDATIONS:
            # Said once an outage: the cache is wiped when Redis is back, so every read misses.
            _log.warning(
                "cache_invalidations_overflowed",
                owed=len(self._pending),
                limit=MAX_PENDING_INVALIDATIONS,
                then="the whole cache is cleared once Redis answers",
            )
            self._pending.clear()
            self._clear_pending = True

    async def _replay_pending(self) -> bool:
        # Every read asks while invalidations are owed, and a replay's cost grows with what is
        # owed: only one at a time, and none while the backend refuses calls untried. A read
        # that does not replay bypasses the cache, as during the outage.
        if self._replaying or self.backend.refusing():
            return False
        self._replaying = True
        owed, clear = set(self._pending), self._clear_pending
        try:
            if clear:
                await self.backend.clear()
            else:
                await self.backend.invalidate(sorted(owed))
        except CacheUnavailableError:
            return False
        finally:
            self._replaying = False
        self._pending -= owed
        if clear:
            self._clear_pending = False
        _log.info("cache_invalidations_replayed", keys=len(owed), cleared=clear)
        return True

    def _count(self, outcome: str, entry: Entry) -> None:
        if self._metrics is None:
            return
        counter = {
            "hits": self._metrics.cache_hits,
            "misses": self._metrics.cache_misses,
            "errors": self._metrics.cache_errors,
        }[outcome]
        counter.labels(resource_label(entry[0])).inc()


class CachedResource[T]:
    """One namespaced, typed part of the cache: `items:3f9c0a7e` holding `ItemRead` values.

    Name it with `JsonCodec.versioned("items")`, so its namespace changes with the cached shape
    and a deployment never decodes entries written by another in a different shape. (With a
    codec of another kind, name it `<resource>:<version>` and bump the version when the shape
    changes.) Every version of a resource shares what comes before the first colon, and an
    invalidation reaches each live version's copy of the key: a key must name the same value in
    every version.

    Entries can belong to a group (`group=`), invalidated together with `invalidate_group`:
    the pages of one owner's list, say, whose keys (cursors, page sizes) no writer could name.
    The group's generation is part of each entry's key, so invalidating the group (a new
    generation) leaves its entries unreachable until their TTL removes them.
    """

    def __init__(self, cache: Cache, name: str, codec: Codec[T]) -> None:
        self.cache = cache
        self.name = name
        self.codec = codec

    async def get_or_load(
        self, key: str, load: Callable[[], Awaitable[T | None]], *, group: str | None = None
    ) -> T | None:
        """The cached value, or `load()`'s (stored unless None or invalidated meanwhile)."""
        if group is not None:
            generation = await self.cache.generation((self.name, group_key(group)))
            if generation is None:  # the cache cannot be trusted now: the source it is
                return await load()
            key = f"{group}@{generation.decode()}/{key}"
        return await self.cache.get_or_load((self.name, key), load, self.codec)

    async def invalidate(self, *keys: str) -> None:
        """Call after the write commits, on every path that changes or deletes the value."""
        await self.cache.invalidate([(self.name, key) for key in keys])

    async def invalidate_group(self, *groups: str) -> None:
        """Call after the write commits: every entry of each group is gone for its readers."""
        await self.cache.invalidate([(self.name, group_key(group)) for group in groups])


def group_key(group: str) -> str:
    """The key whose generation a group of a resource's entries shares."""
    return f"group/{group}"


def invalidate_after_commit(session: AsyncSession, resource: str, *keys: str) -> None:
    """Note entries to invalidate once `session` commits, for code that does not commit itself
    (job handlers: the worker commits, then calls `Cache.apply_invalidations`)."""
    session.info.setdefault(_AFTER_COMMIT, []).extend((resource, key) for key in keys)


def invalidate_group_after_commit(session: AsyncSession, resource: str, *groups: str) -> None:
    """`invalidate_after_commit` for groups of entries (`CachedResource.invalidate_group`)."""
    session.info.setdefault(_AFTER_COMMIT, []).extend((resource, group_key(g)) for g in groups)


def build_cache(
    settings: ChassisSettings,
    redis: Redis | None,
    *,
    breakers: CircuitBreakers,
    metrics: Metrics | None = None,
) -> Cache:
    """Redis when configured; otherwise the bounded in-memory fallback (development)."""
    if redis is None:
        return Cache(
            MemoryBackend(max_entries=settings.cache.memory_max_entries),
            ttl_seconds=min(settings.cache.ttl_seconds, MEMORY_TTL_CAP_SECONDS),
            ttl_jitter=settings.cache.ttl_jitter,
            metrics=metrics,
        )
    breakers.declare(REDIS_DEPENDENCY, reset_seconds=min(5.0, settings.breakers.reset_seconds))
    prefix = f"{settings.service_name}:cache:"
    near = (
        NearCache(
            prefix=prefix,
            max_staleness_seconds=settings.cache.near_max_staleness_ms / 1000,
            max_entries=settings.cache.near_max_entries,
            max_bytes=settings.cache.near_max_bytes,
            ttl_seconds=settings.cache.ttl_seconds,
        )
        if settings.cache.near_max_staleness_ms > 0
        else None
    )
    # A group's generation must outlive its entries: were it to expire and start again, entries
    # of the generation that starts again could still be there.
    generation_ttl = max(GENERATION_TTL_SECONDS, 3 * settings.cache.ttl_seconds)
    return Cache(
        RedisBackend(
            redis,
            breakers=breakers,
            prefix=prefix,
            near=near,
            generation_ttl_seconds=generation_ttl,
            max_entry_ttl_seconds=settings.cache.ttl_seconds * (1 + settings.cache.ttl_jitter),
        ),
        ttl_seconds=settings.cache.ttl_seconds,
        ttl_jitter=settings.cache.ttl_jitter,
        metrics=metrics,
    )
