"""Rate limiting in two layers (SEC-4), with the `limits` library.

1. Per client IP, before authentication (`IpRateLimitMiddleware`): cheap, stops floods and
   credential guessing before any token is verified or key looked up.
2. Per principal (user or API key), after authentication (`Authenticator` calls
   `RateLimiter.hit("principal", ...)`): fair shares between callers behind one address.

Counters live in Redis when `REDIS_URL` is set, so every replica enforces the same budget; in
development without Redis they live in process memory. The sliding-window-counter strategy
weighs the previous window's count by how much of it still overlaps the last window length, so
a burst just past a window's edge gets only what that weight leaves, not the whole limit again
as with a fixed window: any s seconds (of a window of T) admit about the limit x (1 + s/T), at
worst twice the limit within one window length, as two bursts a window apart. IPv6 clients are
counted per /64 network, the block one subscriber usually holds.

Leases keep busy callers off Redis: a Redis round trip costs more service CPU than the rest of
a cached read, and two layers made two of them per request. A caller whose previous lease was
used up within `LEASE_SECONDS` takes the next one twice as large (at most 1% of its limit, and
`MAX_LEASE`), in one round trip, and spends it locally. Leased tokens are counted in Redis when
taken, so replicas together never admit more than the limit; what a lease leaves unspent when
its caller slows down is lost (at most 1% of the limit per replica, the safe direction). A
slow caller, a limit under 200 per window, and a caller near its limit (a lease that does not
fit falls back to a single token) are counted exactly, one round trip a request, as before.

A rejected request gets a 429 problem with `Retry-After` and the `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` headers (IETF draft, widely understood). Admitted
requests carry no counters: that would cost a second round trip on every request. The IP layer
runs outside CORS, so that preflights are counted too: its refusal of a cross-origin request
carries the CORS headers itself, or a page on an allowed origin could not read it.

When Redis fails, the limiter follows `RATE_LIMIT_ON_STORAGE_ERROR`: `local` (the default)
counts in this process's memory instead (rate_limit_fallback.py), so each process still holds
every limit and the replicas together admit at most the limit times their number; `allow`
serves the request unlimited; `deny` answers 503. Each tells the observers (metrics) which policy
answered. The warning, `rate_limit_storage_unavailable`, is said at once per layer (with the
error's type), then at most once a minute with the number of requests answered without Redis
since, the rest when the authenticator closes (`throttled_line.py`). The limiter then skips
Redis for a short cool-down, so an unreachable Redis costs one timeout per cool-down, not one
per request, and counts in Redis again once it answers. (After a timeout anywhere, the shared
client skips Redis for a moment too, cool-down or none: `redis_unanswered.py`.) The local
counters are consulted only then: while Redis answers, a request costs what it did without them.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal, Protocol

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import problem_response, problem_type
from ..logging import get_logger
from ..throttled_line import ThrottledLine
from .client_ip import ClientIpResolver
from .cors import CorsHeaders
from .rate_limit_fallback import LocalWindows

Layer = Literal["ip", "principal"]
StoragePolicy = Literal["local", "allow", "deny"]
# A lease is spent within this time or its rest is lost; the next one doubles only if it was.
LEASE_SECONDS = 1.0
# Leases are at most 1% of the limit (so a limit under 200 is counted exactly) and this many.
LEASE_SHARE_DIVISOR = 100
MAX_LEASE = 64
# Callers with a lease held in memory; the least recently seen are forgotten first.
MAX_LEASED_CALLERS = 10_000

_log = get_logger(__name__)


class RateLimitObserver(Protocol):
    """Told about rejections and storage failures; metrics plug in here (OBS-1)."""

    def rejected(self, layer: Layer) -> None: ...

    def storage_failed(self, layer: Layer, policy: StoragePolicy) -> None: ...


@dataclass(slots=True)
class _Lease:
    """Tokens taken from the shared counter in one round trip, to spend in this process."""

    tokens: int
    size: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request may not proceed, with the headers that tell the client when to retry."""

    status: int
    headers: dict[str, str]
    detail: str

    @property
    def code(self) -> str:
        if self.status == HTTPStatus.TOO_MANY_REQUESTS:
            return "rate-limited"
        return "rate-limiter-unavailable"


# Parsed once per address: a server sees the same few peers (its proxies) again and again.
@functools.lru_cache(maxsize=4096)
def ip_bucket(address: str) -> str:
    """The unit an IP limit applies to: the address, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


class RateLimiter:
    def __init__(
        self,
        *,
        per_ip: str,
        per_principal: str,
        on_storage_error: StoragePolicy = "local",
        namespace: str = "ratelimit",
        cooldown_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._items: dict[Layer, limits.RateLimitItem] = {
            "ip": limits.parse(per_ip),
            "principal": limits.parse(per_principal),
        }
        self._on_storage_error = on_storage_error
        self._local = LocalWindows() if on_storage_error == "local" else None
        self._namespace = namespace
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._storage: Storage = MemoryStorage()
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        self._skip_until = 0.0
        # Requests each layer answered without Redis, said as a flood; the last failure's type.
        self._unavailable: dict[Layer, ThrottledLine] = {
            layer: ThrottledLine(
                _log,
                "rate_limit_storage_unavailable",
                count_name="requests",
                layer=layer,
                policy=on_storage_error,
            )
            for layer in self._items
        }
        self._failure = ""
        self._leases: OrderedDict[tuple[Layer, str], _Lease] = OrderedDict()
        self._max_lease: dict[Layer, int] = {
            layer: max(1, min(MAX_LEASE, item.amount // LEASE_SHARE_DIVISOR))
            for layer, item in self._items.items()
        }
        self.observers: list[RateLimitObserver] = []

    @property
    def shared(self) -> bool:
        return isinstance(self._storage, RedisStorage)

    def use_redis(self, client: Redis) -> None:
        """Count in Redis, through the app's connection pool, shared by all replicas."""
        self._storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=client.connection_pool,  # type: ignore[arg-type] # passed through
            key_prefix=self._namespace,
            wrap_exceptions=True,
        )
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    async def hit(self, layer: Layer, key: str) -> Rejection | None:
        """Count one request; a `Rejection` when it must not proceed."""
        now = self._clock()
        lease = self._leases.get((layer, key))
        if lease is not None and lease.tokens > 0 and now < lease.expires_at:
            lease.tokens -= 1
            self._leases.move_to_end((layer, key))
            return None
        if now < self._skip_until:
            return self._storage_unavailable(layer, key, now)
        item = self._items[layer]
        size = self._next_lease_size(layer, lease, now)
        try:
            if size > 1 and await self._strategy.hit(item, layer, key, cost=size):
                self._lease(layer, key, size, now)
                return None
            # No lease (or it would not fit under the limit): one token, counted exactly.
            if await self._strategy.hit(item, layer, key):
                self._lease(layer, key, 1, now)
                return None
            reset_at, remaining = await self._strategy.get_window_stats(item, layer, key)
        except Exception as error:  # storage errors must never become a 500
            failed_at = self._clock()
            self._skip_until = failed_at + self._cooldown_seconds
            self._failure = type(error).__name__
            return self._storage_unavailable(layer, key, failed_at)
        return self._too_many(layer, remaining, reset_at - time.time())

    def _too_many(self, layer: Layer, remaining: int, reset_in: float) -> Rejection:
        item = self._items[layer]
        for observer in self.observers:
            observer.rejected(layer)
        retry_after = max(1, math.ceil(reset_in))
        return Rejection(
            status=HTTPStatus.TOO_MANY_REQUESTS,
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": str(max(0, remaining)),
                "RateLimit-Reset": str(retry_after),
            },
            detail=f"Too many requests: the limit is {item}. Retry after {retry_after}s.",
        )

    def _next_lease_size(self, layer: Layer, previous: _Lease | None, now: float) -> int:
        """Double a lease that was spent in time; otherwise one token. Only with shared counters:
        in one process's memory a round trip costs nothing."""
        if not self.shared or previous is None or now >= previous.expires_at:
            return 1
        return min(previous.size * 2, self._max_lease[layer])

    def _lease(self, layer: Layer, key: str, size: int, now: float) -> None:
        """Keep what is left of `size` tokens (one is this request's) for the next requests."""
        tokens = size - 1
        current = self._leases.get((layer, key))
        if current is not None and now < current.expires_at:
            tokens += current.tokens  # a concurrent request's lease: keep its tokens too
        self._leases[(layer, key)] = _Lease(tokens, size, now + LEASE_SECONDS)
        self._leases.move_to_end((layer, key))
        while len(self._leases) > MAX_LEASED_CALLERS:
            self._leases.popitem(last=False)

    def _storage_unavailable(self, layer: Layer, key: str, now: float) -> Rejection | None:
        for observer in self.observers:
            observer.storage_failed(layer, self._on_storage_error)
        self._unavailable[layer].add(error=self._failure)
        if self._local is not None:
            refusal = self._local.hit(self._items[layer], layer, key, now)
            return None if refusal is None else self._too_many(layer, 0, refusal.retry_after)
        if self._on_storage_error == "allow":
            return None
        return Rejection(
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(max(1, math.ceil(self._cooldown_seconds)))},
            detail="Rate limiting is unavailable; retry shortly.",
        )

    def say_rest(self) -> None:
        """At shutdown: the requests answered without Redis not said yet."""
        for line in self._unavailable.values():
            line.say_rest()


class IpRateLimitMiddleware:
    """The first layer: one counter per client address, before anything else is done."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        client_ip: ClientIpResolver,
        exempt_prefixes: tuple[str, ...] = ("/health/",),
        cors: CorsHeaders | None = None,
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._client_ip = client_ip
        self._exempt = exempt_prefixes
        # This layer runs outside CORS (preflights count): its refusals get their headers here.
        self._cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = self._client_ip(scope)
        scope.setdefault("state", {})["client_ip"] = address
        if not scope["path"].startswith(self._exempt):
            rejection = await self._limiter.hit("ip", ip_bucket(address))
            if rejection is not None:
                response = problem_response(
                    status=rejection.status,
                    scope=scope,
                    detail=rejection.detail,
                    type_=problem_type(rejection.code),
                    headers=rejection.headers,
                )
                if self._cors is not None:
                    send = self._cors.send(scope, send)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
