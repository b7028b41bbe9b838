"""DB-2/DB-3/DB-4/PERF-2: migrations round-trip, the database enforces the rules by itself."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Uuid, bindparam, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from {{ package_name }}._project import DATABASE_BACKEND
from {{ package_name }}.core import migrations
from {{ package_name }}.core.database import create_engine
from {{ package_name }}.core.settings import load_settings
from {{ package_name }}.models import metadata

from tests.support.databases import create_postgres_database, drop_postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.database]


def schema_drift(connection: object) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
    return list(compare_metadata(context, metadata))


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def round_trip(url: str) -> None:
    settings = load_settings(app_env="test", database_url=url)
    engine = create_engine(settings)
    try:
        await migrations.upgrade_async(settings, "head")
        assert await table_names(engine) == set(metadata.tables)
        await migrations.downgrade_async(settings, "base")
        assert await table_names(engine) == set()
        await migrations.upgrade_async(settings, "head")
        async with engine.connect() as connection:
            drift = await connection.run_sync(schema_drift)
        assert drift == [], f"models and migrations disagree: {drift}"
    finally:
        await engine.dispose()


# Every service can run on the embedded SQLite in development; PostgreSQL services also on that.
BACKENDS = ["sqlite", "postgresql"] if DATABASE_BACKEND == "postgresql" else ["sqlite"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_db2_migrations_round_trip(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        asyncio.run(round_trip(f"sqlite+aiosqlite:///{tmp_path}/round-trip.sqlite3"))
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    try:
        asyncio.run(round_trip(url))
    finally:
        drop_postgres_database(admin_url, url)


# --- The database refuses bad rows written around the application (DB-3) -----------------------


@pytest.fixture
async def raw(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A bare connection inside a transaction that is rolled back: SQL around the app."""
    engine = create_engine(load_settings(app_env="test", database_url=database_url))
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()
    await engine.dispose()


# Typed parameters, so each backend gets UUIDs in its own storage format.
INSERT_ITEM = text(
    "INSERT INTO items (id, name, description, price_cents, status, category_id, version) "
    "VALUES (:id, :name, :description, :price_cents, :status, :category_id, :version)"
).bindparams(bindparam("id", type_=Uuid), bindparam("category_id", type_=Uuid))
GOOD_ITEM = {
    "name": "good",
    "description": "",
    "price_cents": 0,
    "status": "pending",
    "category_id": None,
    "version": 1,
}


def item_row(**changes: object) -> dict[str, object]:
    return {"id": uuid.uuid4(), **GOOD_ITEM, **changes}


async def test_db3_a_good_row_is_accepted(raw: AsyncConnection) -> None:
    await raw.execute(INSERT_ITEM, item_row())
    created = (await raw.execute(text("SELECT created_at, updated_at FROM items"))).one()
    assert created.created_at is not None  # the database sets the timestamps itself (DB-4)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"name": None}, "NOT NULL name"),
        ({"name": ""}, "CHECK name length"),
        ({"name": " padded "}, "CHECK name trimmed"),
        ({"name": "x" * 101}, "CHECK/VARCHAR name length"),
        ({"description": "d" * 10_001}, "CHECK description length (sanitized HTML)"),
        ({"price_cents": -1}, "CHECK price range"),
        ({"price_cents": 100_000_001}, "CHECK price range"),
        ({"status": "archived"}, "CHECK status"),
        ({"version": 0}, "CHECK version"),
        ({"category_id": uuid.uuid4()}, "FOREIGN KEY category"),
    ],
)
async def test_db3_the_database_refuses_bad_rows(
    raw: AsyncConnection, changes: dict[str, object], rule: str
) -> None:
    savepoint = await raw.begin_nested()
    # IntegrityError for constraints; PostgreSQL reports an over-long VARCHAR as a DataError.
    with pytest.raises(DBAPIError):
        await raw.execute(INSERT_ITEM, item_row(**changes))
    await savepoint.rollback()
    count = (await raw.execute(text("SELECT count(*) FROM items"))).scalar_one()
    assert count == 0, f"{rule} was not enforced"


async def test_db3_duplicate_names_are_refused(raw: AsyncConnection) -> None:
    await raw.execute(INSERT_ITEM, item_row(name="twin"))
    with pytest.raises(IntegrityError):
        await raw.execute(INSERT_ITEM, item_row(name="twin"))


async def test_db4_foreign_keys_and_query_paths_are_indexed(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            indexes = await connection.run_sync(
                lambda sync: {
                    table: [tuple(ix["column_names"]) for ix in inspect(sync).get_indexes(table)]
                    for table in ("items", "jobs")
                }
            )
    finally:
        await engine.dispose()
    assert ("category_id",) in indexes["items"]
    assert ("status", "run_after") in indexes["jobs"]


SLOW_QUERY = (
    "WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter "
    "WHERE n < 200000) SELECT count(*) FROM counter WHERE :secret = :secret"
)


async def test_perf2_slow_queries_are_logged_without_parameters(database_url: str) -> None:
    settings = load_settings(app_env="test", database_url=database_url, database_slow_query_ms=1)
    engine = create_engine(settings)
    try:
        with capture_logs() as logs:
            async with engine.connect() as connection:
                # Slow on every backend: count to 200,000 the long way.
                await connection.execute(text(SLOW_QUERY), {"secret": "hunter2"})
    finally:
        await engine.dispose()
    slow = [line for line in logs if line["event"] == "slow_query"]
    assert slow
    assert "RECURSIVE" in slow[0]["statement"]
    assert "hunter2" not in str(slow)
