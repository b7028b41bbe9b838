"""A cache backend wrapper that counts what reaches the backend it wraps (a real one), so a
test knows when every reader has missed, or how many invalidations were tried; it can hold
the next invalidation until the test lets it go."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from goldenpath_chassis._core.cache import CacheBackend, Entry


class CountingBackend:
    def __init__(self, inner: CacheBackend, *, reads_expected: int = 0) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.reads = 0
        self.reads_expected = reads_expected
        self.all_read = asyncio.Event()  # set once `reads_expected` reads completed
        self.invalidations = 0  # tried, whether they reached the backend or not
        self.invalidating = asyncio.Event()  # set when an invalidation starts
        self.hold_next_invalidation: asyncio.Event | None = None  # the next one awaits it

    async def read(self, entry: Entry) -> tuple[bytes | None, bytes]:
        try:
            return await self.inner.read(entry)
        finally:
            self.reads += 1
            if self.reads >= self.reads_expected:
                self.all_read.set()

    async def write(
        self, entry: Entry, value: bytes, *, ttl_seconds: float, generation: bytes
    ) -> None:
        await self.inner.write(entry, value, ttl_seconds=ttl_seconds, generation=generation)

    async def generation(self, entry: Entry) -> bytes:
        return await self.inner.generation(entry)

    async def invalidate(self, entries: Sequence[Entry]) -> Sequence[Entry]:
        self.invalidations += 1
        self.invalidating.set()
        hold, self.hold_next_invalidation = self.hold_next_invalidation, None
        if hold is not None:
            await hold.wait()
        return await self.inner.invalidate(entries)

    async def clear(self) -> None:
        await self.inner.clear()

    def refusing(self) -> bool:
        return self.inner.refusing()
