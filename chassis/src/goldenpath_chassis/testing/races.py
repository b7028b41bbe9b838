"""Races made to happen, not hoped for: one request held just before a statement reaches the
database while another runs to its end, then let go.

`overtaken(engine, "UPDATE items", first, second)` is how a test proves DB-3's answer to a
write overtaken between its read and its write (a 409, never a 500 or a silent overwrite):
sending many writes at once may never hit that window, this always does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

__all__ = ["StatementHold", "held", "overtaken"]


class StatementHold:
    """A `before_cursor_execute` listener that holds the first statement starting with
    `prefix` until `release` is set; every other statement passes."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def __call__(self, *args: Any) -> None:
        statement: str = args[2]
        if self.reached.is_set() or not statement.startswith(self.prefix):
            return
        self.reached.set()
        # Listeners run inside SQLAlchemy's greenlet: this suspends only the held request.
        await_only(self.release.wait())

    async def until_held(self, task: asyncio.Future[Any]) -> None:
        """Wait until the statement is held; fails if `task` ends without reaching it."""
        reached = asyncio.ensure_future(self.reached.wait())
        await asyncio.wait({task, reached}, return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        assert self.reached.is_set(), f"it ended without being held: {task.result()!r}"


@asynccontextmanager
async def held(engine: AsyncEngine, prefix: str) -> AsyncIterator[StatementHold]:
    """A hold on `engine`'s next statement starting with `prefix`, released and removed on
    leaving, whatever happened inside."""
    hold = StatementHold(prefix)
    event.listen(engine.sync_engine, "before_cursor_execute", hold)
    try:
        yield hold
    finally:
        hold.release.set()
        event.remove(engine.sync_engine, "before_cursor_execute", hold)


async def overtaken[Result](
    engine: AsyncEngine, prefix: str, first: Awaitable[Result], second: Awaitable[Result]
) -> tuple[Result, Result]:
    """Run `first` up to its statement starting with `prefix`, then `second` to its end, then
    the rest of `first`; both results, first's first."""
    async with held(engine, prefix) as hold:
        task = asyncio.ensure_future(first)
        try:
            await hold.until_held(task)
            answer = await second
        except BaseException:
            # Let the held request finish before the test goes on: left running, it would
            # write after the test's checks, or hold its connection past the test's clean-up.
            hold.release.set()
            await asyncio.gather(task, return_exceptions=True)
            raise
        hold.release.set()
        return await task, answer
