"""Signed-out sessions (SEC-2): a revocation record per session, until it would have expired,
and one per user for "every session opened before this moment".

The session cookie is stateless, so signing out cannot delete anything: it records that the
session is over, and every request a session authenticates asks whether it is. The record lives
in Redis when `REDIS_URL` is set, so a sign-out on one replica holds on all of them, and it
expires with the session (a record for a session that has expired anyway would be dead weight).
In development without Redis it lives in the process's memory.

Signing out everywhere (the user, or an operator's `sessions revoke` after an account was
stolen) cannot name every session: it records the moment instead, per user (and tenant: the
same `sub` in two tenants is two users), and a session issued before it is refused. That record
lives as long as the longest session, `AUTH_SESSION_MAX_AGE_SECONDS`. Both records are read in
one `MGET`, so the check stays one round trip.

Records are keyed by digests: Redis never holds an id a cookie carries, nor a user's id.

When Redis cannot answer, whether a session was revoked cannot be known, so the session is not
trusted (the caller answers 503, as it does when the identity provider's keys cannot be
fetched); bearer tokens and API keys never depend on it. After a failure, Redis is skipped for
a short cool-down, so an unreachable Redis costs one timeout per cool-down, not one per request;
after another part's timeout the client fails the check at once (`redis_unanswered.py`).
The warning, `session_revocations_unavailable`, is said at once (with the error's type), then at
most once a minute with the number of requests refused since, the rest when the authenticator
closes (`throttled_line.py`): an outage is not a line per cool-down and per request in flight.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence

import orjson
from redis.asyncio import Redis

from ..logging import get_logger
from ..throttled_line import ThrottledLine
from .session import Session

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
        session_max_age_seconds: int,
        cooldown_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._namespace = namespace
        self._session_max_age_seconds = session_max_age_seconds
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._redis: Redis | None = None
        # Development without Redis: key -> (value, when it expires).
        self._memory: dict[str, tuple[bytes, float]] = {}
        self._skip_until = 0.0
        # Requests refused while Redis cannot answer, said as a flood; the last failure's type.
        self._refused = ThrottledLine(
            _log, "session_revocations_unavailable", count_name="requests"
        )
        self._failure = ""

    def use_redis(self, redis: Redis) -> None:
        self._redis = redis

    def _session_key(self, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        return f"{self._namespace}:revoked-session:{digest}"

    def _subject_key(self, subject: str, tenant: str | None) -> str:
        # JSON keeps the pair unambiguous: no subject and tenant can spell another pair.
        digest = hashlib.sha256(orjson.dumps([tenant, subject])).hexdigest()
        return f"{self._namespace}:revoked-subject:{digest}"

    async def revoke(self, session_id: str, *, expires_at: float) -> None:
        """Refuse this session from now until `expires_at` (a Unix time), on every replica."""
        remaining = math.ceil(expires_at - self._clock())
        if remaining <= 0:
            return  # it has expired: nothing can use it any more
        await self._set(self._session_key(session_id), b"1", remaining)

    async def revoke_subject(self, subject: str, *, tenant: str | None) -> float:
        """Refuse every session of this user issued until now, on every replica; the moment."""
        now = self._clock()
        # Every session issued before now has expired once the longest lifetime has passed.
        await self._set(
            self._subject_key(subject, tenant), repr(now).encode(), self._session_max_age_seconds
        )
        return now

    async def is_revoked(self, session: Session) -> bool:
        signed_out, signed_out_everywhere = await self._get(
            self._session_key(session.session_id),
            self._subject_key(session.subject, session.tenant),
        )
        return signed_out is not None or (
            signed_out_everywhere is not None and session.issued_at < _moment(signed_out_everywhere)
        )

    async def _set(self, key: str, value: bytes, seconds: int) -> None:
        if self._redis is None:
            self._remember(key, value, self._clock() + seconds)
            return
        self._ensure_reachable()
        try:
            await self._redis.set(key, value, ex=seconds)
        except Exception as error:  # a storage failure is a 503, never a 500
            raise self._unavailable(error) from None

    async def _get(self, *keys: str) -> Sequence[bytes | str | None]:
        if self._redis is None:
            now = self._clock()
            found = [self._memory.get(key) for key in keys]
            return [None if item is None or item[1] <= now else item[0] for item in found]
        self._ensure_reachable()
        try:
            values: list[bytes | str | None] = await self._redis.mget(keys)
        except Exception as error:  # a storage failure is a 503, never a 500
            raise self._unavailable(error) from None
        return values

    def _ensure_reachable(self) -> None:
        if self._monotonic() < self._skip_until:
            self._refused.add(error=self._failure)
            raise RevocationUnavailableError

    def _unavailable(self, error: Exception) -> RevocationUnavailableError:
        self._skip_until = self._monotonic() + self._cooldown_seconds
        self._failure = type(error).__name__
        self._refused.add(error=self._failure)
        return RevocationUnavailableError()

    def say_rest(self) -> None:
        """At shutdown: the refusals not said yet."""
        self._refused.say_rest()

    def _remember(self, key: str, value: bytes, expires_at: float) -> None:
        if len(self._memory) >= _MEMORY_PRUNE_AT:
            now = self._clock()
            self._memory = {k: item for k, item in self._memory.items() if item[1] > now}
        self._memory[key] = (value, expires_at)


def _moment(value: bytes | str) -> float:
    """The recorded moment; one that does not read as a number revokes everything (fail closed)."""
    try:
        return float(value)
    except ValueError:
        return math.inf
