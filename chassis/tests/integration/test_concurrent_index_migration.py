"""DB-2: a migration that builds an index with CREATE INDEX CONCURRENTLY, as the service's
database guide writes it, runs under the chassis's `migrate` (migrations.upgrade).

PostgreSQL refuses CONCURRENTLY inside a transaction block, so the migration leaves the run's
transaction with Alembic's autocommit_block(). The build waits for every transaction writing the
table, and blocks none of them; a build that fails leaves an INVALID index behind, which the
run names, and which the guide's migration drops before it builds again. On SQLite the same
migration builds a plain index (Alembic ignores postgresql_concurrently there).

The migrations are written to a folder of the test's own: the example's stay as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from goldenpath_chassis import Service
from goldenpath_chassis._core import migrations
from goldenpath_chassis._core.database import create_engine
from goldenpath_chassis._core.migration_lock import lock_key
from goldenpath_chassis.settings import ChassisSettings
from goldenpath_chassis.testing.databases import create_postgres_database, drop_postgres_database

from tests.example.service import BACKEND

WAIT_SECONDS = 30

ENV = """\
import sqlalchemy as sa

from goldenpath_chassis.migrations import run_migrations

from tests.example.service import SERVICE

run_migrations(sa.MetaData(), SERVICE.load_settings)
"""

LEDGER = '''\
"""The table.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger")
'''

# The service's database guide's example (template/docs/database.md.jinja), word for word.
LEDGER_INDEX = '''\
"""Index ledger.note without blocking writes.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # CONCURRENTLY cannot run inside a transaction: this block commits the run's transaction
    # (the migrations before this one stay applied) and runs each statement on its own.
    with op.get_context().autocommit_block():
        # A build that failed before left an INVALID index of this name behind: drop it first.
        op.drop_index(
            "ix_ledger_note", table_name="ledger", postgresql_concurrently=True, if_exists=True
        )
        if postgresql:
            # The build waits for every transaction writing the table, blocking none of them:
            # not bounded by MIGRATION_LOCK_TIMEOUT_MS, or a long one makes it fail.
            op.execute("SET lock_timeout = 0")
        op.create_index("ix_ledger_note", "ledger", ["note"], postgresql_concurrently=True)
        if postgresql:
            op.execute("RESET lock_timeout")  # MIGRATION_LOCK_TIMEOUT_MS again


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_ledger_note", table_name="ledger", postgresql_concurrently=True, if_exists=True
        )
'''

# After the block, in the run's transaction again: what bounds its statements.
BOUNDS_AFTER = '''\
"""What bounds a migration after one with an autocommit block.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE bounds AS SELECT current_setting('lock_timeout') AS lock_timeout,"
        " current_setting('statement_timeout') AS statement_timeout"
    )


def downgrade() -> None:
    op.execute("DROP TABLE bounds")
'''


@pytest.fixture
def location(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(ENV)
    (folder / "versions" / "0001_ledger.py").write_text(LEDGER)
    (folder / "versions" / "0002_ledger_index.py").write_text(LEDGER_INDEX)
    return folder


@contextmanager
def postgres_database(postgres_admin_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


@asynccontextmanager
async def engine_for(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def writing_to_the_ledger(url: str) -> AsyncIterator[AsyncConnection]:
    """A transaction that has written a row of `ledger` and stays open: a long batch job."""
    async with engine_for(url) as engine, engine.connect() as connection, connection.begin():
        await connection.execute(text("INSERT INTO ledger (note) VALUES ('held')"))
        yield connection


async def until_the_build_waits(url: str, migration: asyncio.Task[None]) -> None:
    """Until the migration's CREATE INDEX CONCURRENTLY waits for the writing transaction."""
    deadline = time.monotonic() + WAIT_SECONDS
    async with engine_for(url) as engine, engine.connect() as connection:
        while not (
            await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'CREATE INDEX CONCURRENTLY%'"
                )
            )
        ).scalar_one():
            await connection.rollback()  # a fresh snapshot of pg_stat_activity
            if migration.done():
                migration.result()  # its error, if it failed
                raise AssertionError("the migration ended before its index build waited")
            assert time.monotonic() < deadline, "the index build never waited"
            await asyncio.sleep(0.02)


async def application_write(settings: ChassisSettings) -> None:
    """A write as the service makes it; one that had to queue behind the build's locks would
    give up after a second instead of waiting for the build."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL lock_timeout = '1s'"))
            await connection.execute(text("INSERT INTO ledger (note) VALUES ('meanwhile')"))
    finally:
        await engine.dispose()


async def index_state(url: str) -> tuple[bool, ...]:
    """indisvalid of each index named ix_ledger_note (none: not there)."""
    async with engine_for(url) as engine, engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT indisvalid FROM pg_index"
                " WHERE indexrelid::regclass::text = 'ix_ledger_note'"
            )
        )
        return tuple(bool(valid) for (valid,) in result)


async def scalar(url: str, query: str) -> object:
    async with engine_for(url) as engine, engine.connect() as connection:
        return (await connection.execute(text(query))).one()


on_postgresql = pytest.mark.skipif(
    BACKEND != "postgresql", reason="the example service is declared on SQLite"
)


@on_postgresql
def test_db2_a_concurrent_index_builds_under_migrate_while_the_table_takes_writes(
    service: Service, postgres_admin_url: str, location: Path
) -> None:
    (location / "versions" / "0003_bounds_after.py").write_text(BOUNDS_AFTER)
    with postgres_database(postgres_admin_url) as url:
        settings = service.load_settings(
            app_env="test",
            database_url=url,
            migration_lock_timeout_ms=1500,
            migration_statement_timeout_ms=600_000,
        )
        migrations.upgrade(settings, "0001", location=location)

        async def scenario() -> None:
            async with writing_to_the_ledger(url):
                migration = asyncio.create_task(
                    migrations.upgrade_async(settings, location=location)
                )
                await until_the_build_waits(url, migration)
                await application_write(settings)
                # The write went through while the build still waited: not blocked by it.
                assert not migration.done()
            # The writing transaction committed: the build goes on and ends.
            await asyncio.wait_for(migration, WAIT_SECONDS)

        asyncio.run(scenario())
        assert asyncio.run(index_state(url)) == (True,)
        assert asyncio.run(scalar(url, "SELECT version_num FROM alembic_version")) == ("0003",)
        # The migration's own bounds still hold after the block (RESET, not the server's).
        assert asyncio.run(scalar(url, "SELECT * FROM bounds")) == ("1500ms", "10min")


@on_postgresql
def test_db2_a_failed_concurrent_build_names_its_invalid_index_and_the_next_run_rebuilds_it(
    service: Service, postgres_admin_url: str, location: Path
) -> None:
    with postgres_database(postgres_admin_url) as url:
        # A bound the build's wait for the writing transaction runs into.
        settings = service.load_settings(
            app_env="test", database_url=url, migration_statement_timeout_ms=300
        )
        migrations.upgrade(settings, "0001", location=location)

        async def failed_run() -> None:
            async with writing_to_the_ledger(url):
                await migrations.upgrade_async(settings, location=location)

        with capture_logs() as logs, pytest.raises(migrations.MigrationTimedOut) as timed_out:
            asyncio.run(failed_run())
        assert timed_out.value.setting == "MIGRATION_STATEMENT_TIMEOUT_MS"
        assert asyncio.run(index_state(url)) == (False,)
        assert asyncio.run(scalar(url, "SELECT version_num FROM alembic_version")) == ("0001",)
        invalid = [line for line in logs if line["event"] == "migration_left_invalid_indexes"]
        assert len(invalid) == 1, logs
        assert invalid[0]["indexes"] == ["public.ix_ledger_note"]
        assert invalid[0]["log_level"] == "warning"

        # Nothing writing now: the guide's migration drops the invalid index and builds it.
        with capture_logs() as logs:
            migrations.upgrade(settings, location=location)
        assert asyncio.run(index_state(url)) == (True,)
        assert asyncio.run(scalar(url, "SELECT version_num FROM alembic_version")) == ("0002",)
        assert not [line for line in logs if line["event"] == "migration_left_invalid_indexes"]


@on_postgresql
def test_db2_an_invalid_index_a_run_skipped_is_named_after_it_succeeds(
    service: Service, postgres_admin_url: str, location: Path
) -> None:
    """CREATE INDEX IF NOT EXISTS takes an invalid index for built: said, not silent."""
    with postgres_database(postgres_admin_url) as url:
        settings = service.load_settings(
            app_env="test", database_url=url, migration_statement_timeout_ms=300
        )
        migrations.upgrade(settings, "0001", location=location)
        # The guide's migration without its drop, and the build IF NOT EXISTS.
        skipping = LEDGER_INDEX.replace(
            "postgresql_concurrently=True)\n", "postgresql_concurrently=True, if_not_exists=True)\n"
        ).replace("op.drop_index(", "(lambda *_, **__: None)(")
        assert skipping.count("if_not_exists=True") == 1
        (location / "versions" / "0002_ledger_index.py").write_text(skipping)

        async def failed_run() -> None:
            async with writing_to_the_ledger(url):
                await migrations.upgrade_async(settings, location=location)

        with pytest.raises(migrations.MigrationTimedOut):
            asyncio.run(failed_run())
        with capture_logs() as logs:
            migrations.upgrade(settings, location=location)
        assert asyncio.run(index_state(url)) == (False,)
        invalid = [line for line in logs if line["event"] == "migration_left_invalid_indexes"]
        assert [line["indexes"] for line in invalid] == [["public.ix_ledger_note"]], logs


def test_db2_the_concurrent_index_migration_runs_on_sqlite(
    service: Service, location: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ledger.sqlite3"
    settings = service.load_settings(app_env="test", database_url=url)
    migrations.upgrade(settings, location=location)

    async def indexes() -> object:
        async with engine_for(url) as engine, engine.connect() as connection:
            result = await connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_ledger_note'")
            )
            return result.scalar_one()

    # A plain index: postgresql_concurrently is PostgreSQL's alone.
    assert asyncio.run(indexes()) == "CREATE INDEX ix_ledger_note ON ledger (note)"
    assert asyncio.run(scalar(url, "SELECT version_num FROM alembic_version")) == ("0002",)
    migrations.downgrade(settings, "0001", location=location)
    assert asyncio.run(
        scalar(url, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_ledger_note'")
    ) == (0,)


@on_postgresql
def test_db2_a_lock_wait_given_up_names_its_bound_in_seconds(
    service: Service, postgres_admin_url: str, location: Path
) -> None:
    """Another run's migration lock outlasting MIGRATION_LOCK_WAIT_SECONDS: the error says the
    setting as written (seconds), not the milliseconds the log line's `bound_ms` carries."""
    with postgres_database(postgres_admin_url) as url:
        settings = service.load_settings(
            app_env="test", database_url=url, migration_lock_wait_seconds=0.5
        )

        async def behind_a_holder() -> None:
            async with engine_for(url) as engine, engine.connect() as holder:
                schema = (await holder.execute(text("SELECT current_schema()"))).scalar_one()
                key = lock_key(str(schema))
                await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                await migrations.upgrade_async(settings, location=location)

        with pytest.raises(migrations.MigrationTimedOut) as timed_out:
            asyncio.run(behind_a_holder())
        assert timed_out.value.bound_ms == 500
        assert "(MIGRATION_LOCK_WAIT_SECONDS=0.5)" in str(timed_out.value), timed_out.value
