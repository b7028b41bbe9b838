"""The rate limiter's counters while Redis cannot be reached (`RATE_LIMIT_ON_STORAGE_ERROR=local`).

Each process counts in its own memory, with the sliding-window counter Redis counts with, so an
outage leaves every limit in place per process: the replicas together admit at most the limit
times the number of processes, instead of without limit. The limiter consults these counters
only after a storage error and during the cool-down that follows it, never while Redis answers.

Not the `limits` library's MemoryStorage: it keeps every key until it expires (twice the
window), with no bound on their number, and each hit starts a sweep over all of them, so a
sprayer of source addresses would grow both its memory and every request's cost. Here each layer
keeps at most `MAX_LOCAL_KEYS` callers, the least recently seen forgotten first, and a hit costs
the same however many there are. A forgotten caller starts again with its whole limit; but
forgetting one takes `MAX_LOCAL_KEYS` requests from as many other callers, each admitted on its
own budget anyway, so the sprayer gains at most limit / MAX_LOCAL_KEYS more requests per request
it sends.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import limits

# Callers counted per layer; a sprayer past this makes the least recently seen start again.
MAX_LOCAL_KEYS = 50_000


@dataclass(slots=True)
class _Window:
    """One caller's count in the window numbered `number` and the one before it."""

    number: int
    current: int
    previous: int


@dataclass(frozen=True, slots=True)
class LocalRefusal:
    """A hit over the limit: when to retry (seconds from now), as the Redis counter says it."""

    retry_after: float


class LocalWindows:
    """Sliding-window counters in this process's memory, bounded in callers."""

    def __init__(self, max_keys: int = MAX_LOCAL_KEYS) -> None:
        self._max_keys = max_keys
        self._callers: dict[str, OrderedDict[str, _Window]] = {}

    def __len__(self) -> int:
        return sum(len(callers) for callers in self._callers.values())

    def hit(
        self, item: limits.RateLimitItem, layer: str, key: str, now: float
    ) -> LocalRefusal | None:
        """Count one request at `now` (seconds, any monotonic origin); a refusal over the limit."""
        length = item.get_expiry()
        position = now / length
        number = math.floor(position)
        callers = self._callers.setdefault(layer, OrderedDict())
        window = callers.get(key)
        if window is None:
            window = callers[key] = _Window(number, 0, 0)
            if len(callers) > self._max_keys:
                callers.popitem(last=False)
        else:
            callers.move_to_end(key)
            if number != window.number:
                window.previous = window.current if number == window.number + 1 else 0
                window.current = 0
                window.number = number
        # The share of the previous window still inside the last window length.
        overlap = 1 - (position - number)
        if math.floor(window.previous * overlap + window.current) + 1 <= item.amount:
            window.current += 1
            return None
        # As `limits` answers for Redis: the sooner of the previous window's weight losing one
        # request, and the current window's end.
        resets = [overlap * length] if window.current else []
        if window.previous:
            resets.append((overlap * length) % (length / window.previous))
        return LocalRefusal(retry_after=min(resets))
