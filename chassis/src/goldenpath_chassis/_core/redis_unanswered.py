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

When the moment is over, one command tries Redis again (a half-open breaker's trial) while the
others are still refused at once: sent all together, each would wait its own timeout if Redis
is still not answering. Redis answering the trial (any reply, an error reply too) ends the
skipping for everyone; the trial timing out skips Redis for another moment. A trial that fails
any other way (a refused or reset connection, its task cancelled) lets the next command try.

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
# A trial that ends in none of the ways `_UnansweredMixin` sees (a path of redis-py's between two
# of its calls) stops holding back the others after this long: more than a connection attempt
# and a reply can wait at `REDIS_TIMEOUT_SECONDS`'s largest value.
TRIAL_LOST_SECONDS = 30.0


class RedisUnansweredError(RedisConnectionError, NotSentError):
    """Not sent: Redis timed out moments ago, and its users skip it for a moment. An outage to
    each user; to the cache's breaker, nothing (one timeout must not open it for seconds)."""


class UnansweredWindow:
    """Whether Redis is skipped after a timeout, and which command tries it again; one per
    client. The trial's outcome decides for everyone: an answer (a reply, even an error reply)
    stops the skipping, a timeout skips Redis for another moment."""

    def __init__(
        self,
        *,
        seconds: float = UNANSWERED_SKIP_SECONDS,
        trial_seconds: float = TRIAL_LOST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._trial_seconds = trial_seconds
        self._clock = clock
        self._until = 0.0  # 0 while Redis answers; then skipped until this time
        self._trial: object = None  # the connection trying Redis again, once the moment is over
        self._trial_until = 0.0

    def admit(self, asker: object) -> None:
        """Let `asker` (a connection) ask Redis, or raise `RedisUnansweredError`: while Redis is
        skipped, and once the moment is over, while another connection's trial is unresolved."""
        if not self._until or asker is self._trial:
            return
        now = self._clock()
        if now < self._until or (self._trial is not None and now < self._trial_until):
            raise RedisUnansweredError("Redis did not answer moments ago; not asked again yet")
        self._trial, self._trial_until = asker, now + self._trial_seconds

    def answered(self) -> None:
        """Redis answered a command: it is asked again by everyone."""
        if self._until:
            self._until, self._trial = 0.0, None

    def timed_out(self) -> None:
        """A command or a connection attempt waited its whole timeout."""
        self._until, self._trial = self._clock() + self._seconds, None

    def failed(self, asker: object) -> None:
        """`asker`'s command failed without a timeout or an answer (refused, reset, cancelled):
        Redis is still not known to answer, and the next command to ask is the trial."""
        if asker is self._trial:
            self._trial = None
