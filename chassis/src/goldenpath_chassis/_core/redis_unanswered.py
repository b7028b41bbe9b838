"""Redis stopped answering: skip it for a moment, for every user of the client at once (RES-1).

A Redis that stops answering (paused, its packets dropped, its host frozen) costs each command
sent to it one `REDIS_TIMEOUT_SECONDS`. One request reaches Redis through several parts (the
rate limiter's two layers, the sign-out check, the cache), each with its own cool-down or
breaker, so their waits added up within the request. So the first timeout any of the client's
connections meets marks Redis as not answering for a moment: meanwhile every command of that
client fails at once with `RedisUnansweredError`, before anything is sent or a connection
opened, and each part takes the path it takes for any outage (the rate limiter counts in
memory, the sign-out check refuses the session, the cache reads the source, readiness reports
the check failing). A request then pays at most one timeout, and a process one per moment
(plus one per request already waiting when Redis stopped).

Only a timeout marks it: a refused or reset connection fails at once, so trying again costs
nothing, and skipping after one would keep Redis skipped a moment after it was back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.exceptions import ConnectionError as RedisConnectionError

from .resilience import NotSentError

# How long the client skips Redis after a timeout: longer than what a request does after its
# Redis timeout, short enough that a Redis back from a pause is used again at once.
UNANSWERED_SKIP_SECONDS = 1.0


class RedisUnansweredError(RedisConnectionError, NotSentError):
    """Not sent: Redis timed out moments ago, and its users skip it for a moment. An outage to
    each user; to the cache's breaker, nothing (one timeout must not open it for seconds)."""


class UnansweredWindow:
    """Since when, and until when, Redis is skipped after a timeout; one per client."""

    def __init__(
        self,
        *,
        seconds: float = UNANSWERED_SKIP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._until = 0.0

    def timed_out(self) -> None:
        """A command or a connection attempt waited its whole timeout."""
        self._until = self._clock() + self._seconds

    def refuse_while_open(self) -> None:
        """Raise `RedisUnansweredError` while Redis is skipped."""
        if self._until and self._clock() < self._until:
            raise RedisUnansweredError("Redis did not answer moments ago; not asked again yet")
