"""A count said in the log at most once an interval, so an outage is a few lines, not one an
event: the first event is said at once, the ones after it are summed into the next line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ThrottledCount:
    def __init__(
        self, interval_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._unsaid = 0
        self._next_line_at = float("-inf")

    def add(self, count: int = 1) -> int:
        """Count `count` events; the number to say now (those since the last line), or 0."""
        with self._lock:
            self._unsaid += count
            now = self._clock()
            if now < self._next_line_at:
                return 0
            self._next_line_at = now + self._interval
            said, self._unsaid = self._unsaid, 0
            return said

    def rest(self) -> int:
        """The events not said yet, to say at shutdown."""
        with self._lock:
            said, self._unsaid = self._unsaid, 0
            return said
