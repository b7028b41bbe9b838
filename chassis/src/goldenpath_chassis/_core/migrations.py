"""Alembic, driven from code (DB-2): `python -m <package> migrate` and the tests use this.

The migration scripts live inside the service's package (`migrations/`), so they ship in its
wheel and image, and the migration Job runs exactly the code it deploys. The service's
`migrations/env.py` calls `run_migrations` with the service's metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import ServerTimeouts, create_engine
from .invalid_indexes import say_invalid_indexes
from .migration_lock import MigrationLockBusy, holding_the_migration_lock
from .models import UTCDateTime
from .settings import ChassisSettings


def alembic_config(location: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def migration_timeouts(settings: ChassisSettings) -> ServerTimeouts:
    """The migration's own bounds, not the application's: a statement that builds an index or
    backfills a table may run for minutes, while a wait for a lock must be short, as every query
    on the table queues behind the migration's request (an outage while it waits)."""
    return ServerTimeouts(
        statement_ms=settings.migration.statement_timeout_ms,
        lock_ms=settings.migration.lock_timeout_ms,
    )


# A migration whose process ends (SIGTERM to the Job or init container, a kill) is rolled back
# by PostgreSQL once its backend sees the client gone, which it does at its next read of the
# socket: after the statement running then, which may hold its locks for as long as
# MIGRATION_STATEMENT_TIMEOUT_MS allows (no bound by default). Asked to, PostgreSQL 14+ looks
# while a statement runs.
CLIENT_CHECK_INTERVAL = "1s"


async def _stop_when_the_client_goes(connection: AsyncConnection) -> None:
    dialect = connection.dialect
    if dialect.name == "postgresql" and (dialect.server_version_info or (0,)) >= (14,):
        await connection.exec_driver_sql(
            f"SET client_connection_check_interval = '{CLIENT_CHECK_INTERVAL}'"
        )


class MigrationTimedOut(Exception):
    """A migration gave up at one of its bounds (PostgreSQL's on a statement, or the wait for
    another run's migration lock); nothing was applied (the transaction is rolled back), and a
    retry may find the lock free."""

    def __init__(self, setting: str, bound_ms: int, message: str, *, value: str = "") -> None:
        # `value` is the setting as written where it is not in milliseconds.
        super().__init__(f"{message} ({setting}={value or bound_ms})")
        self.setting = setting
        self.bound_ms = bound_ms
        self.message = message


_LOCK_NOT_AVAILABLE = "55P03"
_QUERY_CANCELED = "57014"  # also a cancel by hand: only a timeout's says so


def _timed_out(error: DBAPIError, settings: ChassisSettings) -> MigrationTimedOut | None:
    sqlstate = getattr(error.orig, "sqlstate", None)
    # The driver's own error says PostgreSQL's message alone, which names no value.
    driver_error = error.orig.__cause__ or error.orig if error.orig else error
    message = (str(driver_error).splitlines() or [""])[0]
    bounds = settings.migration
    if sqlstate == _LOCK_NOT_AVAILABLE:
        return MigrationTimedOut("MIGRATION_LOCK_TIMEOUT_MS", bounds.lock_timeout_ms, message)
    if sqlstate == _QUERY_CANCELED and "statement timeout" in message:
        setting, bound = "MIGRATION_STATEMENT_TIMEOUT_MS", bounds.statement_timeout_ms
        return MigrationTimedOut(setting, bound, message)
    return None


async def _run(settings: ChassisSettings, action: str, revision: str, location: Path) -> None:
    await _migrating(settings, _run_sync, action, revision, location)


async def _migrating(settings: ChassisSettings, run: Callable[..., None], *args: object) -> None:
    """`run(connection, *args)` in Alembic's transaction, holding the migration lock, under the
    migration's bounds; the invalid indexes named after it, whatever its end. `migrate` and
    `alembic` by hand both run this way."""
    engine = create_engine(settings, timeouts=migration_timeouts(settings))
    try:
        try:
            async with engine.connect() as connection:
                await _stop_when_the_client_goes(connection)
                async with _one_run_at_a_time(connection, settings):
                    await _run_in_alembics_transaction(connection, run, *args)
        except MigrationLockBusy:
            raise  # nothing ran
        except Exception:
            await say_invalid_indexes(engine)
            raise
        await say_invalid_indexes(engine)
    except MigrationLockBusy as busy:
        wait_ms = round(settings.migration.lock_wait_seconds * 1000)
        raise MigrationTimedOut(
            "MIGRATION_LOCK_WAIT_SECONDS",
            wait_ms,
            str(busy),
            value=f"{settings.migration.lock_wait_seconds:g}",
        ) from busy
    except DBAPIError as error:
        timed_out = _timed_out(error, settings)
        if timed_out is None:
            raise
        raise timed_out from error
    finally:
        await engine.dispose()


def _one_run_at_a_time(
    connection: AsyncConnection, settings: ChassisSettings
) -> AbstractAsyncContextManager[None]:
    return holding_the_migration_lock(connection, settings.migration.lock_wait_seconds)


async def _run_in_alembics_transaction(
    connection: AsyncConnection, run: Callable[..., None], *args: object
) -> None:
    """Alembic begins and commits the run's transaction itself: a migration's
    `autocommit_block()` (CREATE INDEX CONCURRENTLY) commits it and begins another, which it
    cannot do to a transaction its caller holds (an AssertionError inside Alembic)."""
    await connection.commit()  # the session's settings, applied; no transaction left open
    await connection.run_sync(run, *args)
    await connection.commit()


def _run_sync(connection: Connection, action: str, revision: str, location: Path) -> None:
    config = alembic_config(location, connection)
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


def upgrade(settings: ChassisSettings, revision: str = "head", *, location: Path) -> None:
    asyncio.run(_run(settings, "upgrade", revision, location))


def downgrade(settings: ChassisSettings, revision: str, *, location: Path) -> None:
    asyncio.run(_run(settings, "downgrade", revision, location))


async def upgrade_async(
    settings: ChassisSettings, revision: str = "head", *, location: Path
) -> None:
    await _run(settings, "upgrade", revision, location)


async def downgrade_async(settings: ChassisSettings, revision: str, *, location: Path) -> None:
    await _run(settings, "downgrade", revision, location)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write chassis column types as plain SQLAlchemy types: migrations never import the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by dropping it, which SQLite refuses for a table that
        # other rows refer to while it enforces foreign keys. So no enforcement during the run
        # (switched before any transaction: SQLite ignores the switch inside one), and every
        # reference checked once at its end instead.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        tables = sorted({str(row[0]) for row in dangling})
        raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {tables}")


def run_migrations(metadata: MetaData, load_settings: Callable[[], ChassisSettings]) -> None:
    """The body of a service's `migrations/env.py`.

    From code and tests, Alembic is handed a connection; from the `alembic` command line
    (`alembic revision --autogenerate`), the service's settings say where the database is.
    """
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection, metadata)
    else:
        try:
            asyncio.run(_migrating(load_settings(), _configure_and_run, metadata))
        except MigrationTimedOut as timed_out:
            # Alembic's command line prints a CommandError as one line (FAILED: ...), with no
            # traceback: a lock held elsewhere or a bound reached is no bug.
            raise CommandError(str(timed_out)) from timed_out
