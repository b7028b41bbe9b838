"""Test databases: a fresh, migrated database per test session, and tools to keep tests apart.

PostgreSQL services test against PostgreSQL (TEST_DATABASE_URL from CI's service container, or a
private server from the local binaries); SQLite services against a file. Either way the schema
comes from the real migrations, not from `create_all`, so the tests also prove the migrations.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .._core import migrations
from .._core.service import Service
from .servers import PostgresServer


async def _execute_autocommit(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_postgres_database(server_url: str) -> str:
    """Create an empty database beside `server_url`'s and return its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_execute_autocommit(server_url, f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    asyncio.run(_execute_autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(service: Service, database_url: str) -> None:
    settings = service.load_settings(app_env="test", database_url=database_url)
    migrations.upgrade(settings, location=service.migrations)


async def delete_all_rows(service: Service, engine: AsyncEngine) -> None:
    """Empty every table, children first: each test starts from an empty database."""
    async with engine.begin() as connection:
        for table in reversed(service.metadata.sorted_tables):
            await connection.execute(table.delete())


@contextmanager
def temporary_database(service: Service, directory: Path) -> Iterator[str]:
    """A fresh, migrated database of the project's kind, gone afterwards: what the test session
    gets, for tools that run outside pytest (the load command). PostgreSQL comes from
    TEST_DATABASE_URL's server or a private one from the local binaries."""
    if service.settings.database_backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory}/temporary.sqlite3"
        migrate(service, url)
        yield url
        return
    with ExitStack() as stack:
        admin_url = os.environ.get("TEST_DATABASE_URL")
        if not admin_url:
            server = PostgresServer.create()
            stack.callback(server.destroy)
            server.start()
            admin_url = server.url
        url = create_postgres_database(admin_url)
        stack.callback(drop_postgres_database, admin_url, url)
        migrate(service, url)
        yield url


def empty_database(service: Service, database_url: str) -> None:
    """`delete_all_rows` through a connection of its own, for tests that ran the service as a
    process (the database then holds what those requests wrote)."""

    async def empty() -> None:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            await delete_all_rows(service, engine)
        finally:
            await engine.dispose()

    asyncio.run(empty())


@dataclass(frozen=True)
class TableState:
    rows: int
    digest: str


def _table_names(connection: Connection) -> list[str]:
    return sorted(inspect(connection).get_table_names())


async def table_states(engine: AsyncEngine) -> dict[str, TableState]:
    """Every table's row count and a digest of its rows (any insert, update or delete changes
    it), read through a connection of the test's own: what the service wrote, not what it
    says it wrote."""
    async with engine.connect() as connection:
        states = {}
        for name in await connection.run_sync(_table_names):
            quoted = connection.dialect.identifier_preparer.quote(name)
            query = text(f"SELECT * FROM {quoted}")  # noqa: S608 - a name from the catalogue
            rows = (await connection.execute(query)).all()
            content = "\n".join(sorted(repr(tuple(row)) for row in rows))
            states[name] = TableState(len(rows), hashlib.sha256(content.encode()).hexdigest())
        return states


@dataclass
class QueryCounter:
    """The SQL statements an engine ran while counting (PERF-2's N+1 guard)."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, *args: Any) -> None:
        statement = args[2]
        self.statements.append(statement)


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)


@contextmanager
def assert_max_queries(engine: AsyncEngine, limit: int) -> Iterator[QueryCounter]:
    """Fail when the block runs more than `limit` statements: an N+1 query creeping in."""
    with count_queries(engine) as counter:
        yield counter
    if counter.count > limit:
        listing = "\n".join(f"  {n}. {s[:200]}" for n, s in enumerate(counter.statements, 1))
        raise AssertionError(f"expected at most {limit} queries, ran {counter.count}:\n{listing}")
