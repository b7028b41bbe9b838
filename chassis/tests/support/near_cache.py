"""The near cache in the suite's own tests: a listening one on a real Redis, and waiting for
what its listener does (it runs as a task of its own, so a test waits for a condition)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial

from goldenpath_chassis._core.near_cache import NearCache
from goldenpath_chassis._core.redis import tracking_connection


async def wait_for(condition: Callable[[], bool], *, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


async def listening_near_cache(
    stack: AsyncExitStack,
    redis_url: str,
    *,
    prefix: str,
    bound_seconds: float,
    ttl_seconds: float,
) -> NearCache:
    """A process's near cache, its listener on a connection of its own until `stack` closes."""
    near = NearCache(
        prefix=prefix,
        max_staleness_seconds=bound_seconds,
        max_entries=100,
        ttl_seconds=ttl_seconds,
    )
    connect = partial(tracking_connection, redis_url, connect_timeout=5)
    await stack.enter_async_context(near.listening_while(connect))
    return near
