"""DB-1: pre-ping on a real PostgreSQL, whose server processes the tests terminate.

A pooled connection that was idle past `DATABASE_POOL_PRE_PING_IDLE_SECONDS` is tested before
use, so a connection the server dropped costs no failed statement; one returned within that
window is trusted, which saves three round trips a request, and when it turns out dead, its
statement fails once and the pool recovers by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from goldenpath_chassis._core.database import create_engine
from goldenpath_chassis.settings import ChassisSettings, load_settings

pytestmark = pytest.mark.integration

EngineFactory = Callable[[float], AsyncEngine]


@pytest.fixture(scope="module")
def postgres_url(database_url: str, postgres_admin_url: str) -> str:
    """PostgreSQL whatever the example runs on (EXAMPLE_BACKEND=sqlite): the suite's database,
    or the server's own; these tests need a server, not a schema."""
    return database_url if database_url.startswith("postgresql") else postgres_admin_url


@pytest.fixture
async def pooled_engine(postgres_url: str) -> AsyncIterator[EngineFactory]:
    """The chassis's engine with one pooled connection and a given pre-ping window."""
    engines: list[AsyncEngine] = []

    def build(idle_seconds: float) -> AsyncEngine:
        settings = load_settings(
            ChassisSettings,
            {
                "app_env": "test",
                "database_url": postgres_url,
                "database_pool_size": 1,
                "database_max_overflow": 0,
                "database_pool_pre_ping_idle_seconds": idle_seconds,
            },
            environ={},
        )
        engines.append(create_engine(settings))
        return engines[-1]

    yield build
    for engine in engines:
        await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    """The server process behind the pool's connection (a new one after a reconnect)."""
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def terminate(database_url: str, pid: int) -> None:
    """End a server process as a failover or an idle-connection reaper would, and wait for it."""
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            ended = await connection.execute(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
            )
            assert ended.scalar_one() is True
    finally:
        await admin.dispose()


async def test_db1_a_connection_idle_past_the_window_is_tested_and_replaced(
    pooled_engine: EngineFactory, postgres_url: str
) -> None:
    engine = pooled_engine(0.05)
    first = await backend_pid(engine)
    await terminate(postgres_url, first)
    await asyncio.sleep(0.2)  # idle past the window: the next checkout tests it

    second = await backend_pid(engine)  # no error: the test found it dead and reconnected

    assert second != first


async def test_db1_a_zero_window_tests_every_checkout(
    pooled_engine: EngineFactory, postgres_url: str
) -> None:
    engine = pooled_engine(0)
    first = await backend_pid(engine)
    await terminate(postgres_url, first)

    assert await backend_pid(engine) != first  # at once, without an idle period


async def test_db1_a_connection_returned_within_the_window_is_trusted_and_recovers(
    pooled_engine: EngineFactory, postgres_url: str
) -> None:
    engine = pooled_engine(60)
    first = await backend_pid(engine)
    await terminate(postgres_url, first)

    # Not tested (it was in use a moment ago): its statement finds out, once.
    with pytest.raises(DBAPIError) as failure:
        await backend_pid(engine)
    assert failure.value.connection_invalidated

    assert await backend_pid(engine) != first  # the pool replaced it by itself
