"""Signed-out sessions (SEC-2): a revocation record per session, until it would have expired.

The session cookie is stateless, so signing out cannot delete anything: it records that the
session is over, and every request a session authenticates asks whether it is. The record lives
in Redis when `REDIS_URL` is set, so a sign-out on one replica holds on all of them, and it
expires with the session (a record for a session that has expired anyway would be dead weight).
In development without Redis it lives in the process's memory.

Records are keyed by a digest of the session id: Redis never holds an id a cookie carries.

When Redis cannot answer, whether a session was revoked cannot be known, so the session is not
trusted (the caller answers 503, as it does when the identity provider's keys cannot be
fetched); bearer tokens and API keys never depend on it. After a failure, Redis is skipped for
a short cool-down, so an unreachable Redis costs one timeout per cool-down, not one per request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from redis.asyncio import Redis

from ..logging import get_logger

# Beyond this many records in memory (development only), the expired ones are dropped.
_MEMORY_PRUNE_AT = 10_000

_log = get_logger(__name__)


class RevocationUnavailableError(Exception):
    """The revocation records cannot be read or written right now."""


class SessionRevocations:
    def __init__(
        self,
        *,
        namespace: str,
        cooldown_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._namespace = namespace
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._redis: Redis | None = None
        self._memory: dict[str, float] = {}
        self._skip_until = 0.0

    def use_redis(self, redis: Redis) -> None:
        self._redis = redis

    def _key(self, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        return f"{self._namespace}:{digest}"

    async def revoke(self, session_id: str, *, expires_at: float) -> None:
        """Refuse this session from now until `expires_at` (a Unix time), on every replica."""
        remaining = math.ceil(expires_at - self._clock())
        if remaining <= 0:
            return  # it has expired: nothing can use it any more
        key = self._key(session_id)
        if self._redis is None:
            self._remember(key, expires_at)
            return
        self._ensure_reachable()
        try:
            await self._redis.set(key, b"1", ex=remaining)
        except Exception as error:  # a storage failure is a 503, never a 500
            raise self._unavailable(error) from None

    async def is_revoked(self, session_id: str) -> bool:
        key = self._key(session_id)
        if self._redis is None:
            expires_at = self._memory.get(key)
            return expires_at is not None and expires_at > self._clock()
        self._ensure_reachable()
        try:
            return bool(await self._redis.exists(key))
        except Exception as error:  # a storage failure is a 503, never a 500
            raise self._unavailable(error) from None

    def _ensure_reachable(self) -> None:
        if self._monotonic() < self._skip_until:
            raise RevocationUnavailableError

    def _unavailable(self, error: Exception) -> RevocationUnavailableError:
        self._skip_until = self._monotonic() + self._cooldown_seconds
        _log.warning("session_revocations_unavailable", error=type(error).__name__)
        return RevocationUnavailableError()

    def _remember(self, key: str, expires_at: float) -> None:
        if len(self._memory) >= _MEMORY_PRUNE_AT:
            now = self._clock()
            self._memory = {k: at for k, at in self._memory.items() if at > now}
        self._memory[key] = expires_at
