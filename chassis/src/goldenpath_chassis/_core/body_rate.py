"""A minimum data rate for a request's body (SEC-1, CWE-400: slow clients), as Kestrel's
`MinRequestBodyDataRate`.

Once a request's head is complete, uvicorn times nothing: a client that sends its body a byte
a second (each byte cancels the keep-alive timer, and no new head starts) holds the connection
for as many seconds as the body has bytes, even after the service has answered it without
reading (a 401 sent before the body). An idle-between-reads timeout is beaten by a byte every
few seconds, and a whole-body deadline fails a legitimate slow upload of a large body; a rate
is neither. After a grace period, a body must have arrived at `min_bytes_per_second` on
average: by `t` seconds after its head, at least `(t - grace) * min_bytes_per_second` bytes.

One timer per body, armed for the moment the bytes received so far stop being enough, and
re-armed only when it fires (receiving a chunk only adds to a count). Time in which the server
holds the client back (reading paused because the handler has not taken what was sent, or a
`100 Continue` not sent yet) is not the client's, and is not counted. The timer sees a hold
only when it fires, so an interval that began or ended held back is not counted at all: a hold
that ends just before a check (the handler's first read sends `100 Continue`) still leaves the
client a whole grace period to start sending, and the rate errs towards the client by at most
one interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .throttled_line import ThrottledLine


class BodyRate:
    """One connection's body timer: started when a request's body begins, stopped at its end."""

    __slots__ = (
        "_checked_at",
        "_grace_seconds",
        "_held_back",
        "_loop",
        "_min_bytes_per_second",
        "_received",
        "_slow_bodies",
        "_started_at",
        "_timer",
        "_transport",
        "_was_held_back",
    )

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        *,
        min_bytes_per_second: float,
        grace_seconds: float,
        slow_bodies: ThrottledLine,
        held_back: Callable[[], bool],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._min_bytes_per_second = min_bytes_per_second
        self._grace_seconds = grace_seconds
        self._slow_bodies = slow_bodies
        self._held_back = held_back
        self._timer: asyncio.TimerHandle | None = None
        self._started_at = self._checked_at = 0.0
        self._received = 0
        self._was_held_back = False

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """A request's head is complete and its body is not: time the body from now."""
        self.stop()
        self._started_at = self._checked_at = self._loop.time()
        self._received = 0
        self._was_held_back = self._held_back()  # a `100 Continue` not sent yet, for one
        self._timer = self._loop.call_later(self._grace_seconds, self._check)

    def received(self, count: int) -> None:
        self._received += count

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._transport.is_closing():
            return
        now = self._loop.time()
        held_back = self._held_back()
        if held_back or self._was_held_back:
            # The server, not the client, stopped the bytes for some of the time since the last
            # check (until now, or since then): the client is not charged for any of it.
            self._started_at += now - self._checked_at
        self._was_held_back = held_back
        self._checked_at = now
        enough_until = (
            self._started_at + self._grace_seconds + self._received / self._min_bytes_per_second
        )
        if enough_until > now:
            self._timer = self._loop.call_at(enough_until, self._check)
            return
        self._transport.close()
        self._slow_bodies.add()
