"""One `migrate` at a time on a PostgreSQL database (DB-2): a session-level advisory lock.

Two runs at once happen in practice: a migration Job's retry while the pod on a lost node still
runs, two deploy pipelines, a run by hand during a release. Without the lock both apply the same
revision: a DDL migration fails in one (a failed Job), a data migration's backfill is applied
twice. The second run waits instead, says so once, and then finds nothing left to apply.

Session-level, not `pg_advisory_xact_lock`: Alembic commits the run's transaction and begins
another inside a migration's `autocommit_block()` (CREATE INDEX CONCURRENTLY), and the lock must
outlast those commits. It is held on the migration's own connection, released when the run ends
however it ends, and by PostgreSQL when the session ends (a killed process's socket closes).

The key is the version table Alembic writes, qualified by its schema: the runs that would apply
the same revisions are exactly those that share it. Two services sharing a database in separate
schemas do not wait for one another; advisory locks are per database already.

SQLite has no advisory locks and needs none: one file, and SQLite's own write lock lets one
migration's transaction write at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .logging import get_logger

# Alembic's default, which the chassis does not change.
VERSION_TABLE = "alembic_version"
# How often a waiting run asks again. Polled rather than blocked in pg_advisory_lock: no
# statement waits, so neither MIGRATION_STATEMENT_TIMEOUT_MS nor the driver's bound on an answer
# cuts the wait short, and a SIGTERM while waiting finds no query in flight.
POLL_SECONDS = 0.25

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
# A bigint key shows in pg_locks as its high and low 32 bits, objsubid 1.
_HOLDER = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
)


class MigrationLockBusy(Exception):
    """Another run held the migration lock past the wait's bound: nothing was applied."""

    def __init__(self, holder_pid: int | None, waited_seconds: float) -> None:
        holder = f"PostgreSQL pid {holder_pid}" if holder_pid else "a session now gone"
        super().__init__(
            f"another migrate held the migration lock ({holder}) for {waited_seconds:.0f}s"
        )
        self.holder_pid = holder_pid


def lock_key(schema: str, table: str = VERSION_TABLE) -> int:
    """The advisory lock's key for a version table: stable across processes and releases."""
    digest = hashlib.sha256(f"goldenpath migrate {schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def holding_the_migration_lock(
    connection: AsyncConnection, wait_seconds: float
) -> AsyncIterator[None]:
    """The block runs holding the lock on `connection` (PostgreSQL); waits for it at most
    `wait_seconds` (0: for ever), else raises MigrationLockBusy."""
    if connection.dialect.name != "postgresql":
        yield
        return
    schema = (await connection.execute(text("SELECT current_schema()"))).scalar_one_or_none()
    key = lock_key(schema or "")
    await _acquire(connection, key, wait_seconds)
    try:
        yield
    finally:
        await _release(connection, key)


async def _acquire(connection: AsyncConnection, key: int, wait_seconds: float) -> None:
    started = time.monotonic()
    said = False
    while not await _try(connection, key):
        waited = time.monotonic() - started
        if wait_seconds and waited >= wait_seconds:
            raise MigrationLockBusy(await _holder(connection, key), waited)
        if not said:
            # Normal while another run migrates; the holder named, should it be stuck.
            get_logger(__name__).info(
                "migration_waiting_for_lock",
                holder_pid=await _holder(connection, key),
                lock_key=key,
                wait_seconds=wait_seconds,
            )
            said = True
        await asyncio.sleep(POLL_SECONDS)
    if said:
        get_logger(__name__).info(
            "migration_lock_acquired", waited_seconds=round(time.monotonic() - started, 1)
        )


async def _try(connection: AsyncConnection, key: int) -> bool:
    acquired = bool((await connection.execute(_TRY_LOCK, {"key": key})).scalar_one())
    await connection.commit()  # Alembic begins the run's transaction itself
    return acquired


async def _holder(connection: AsyncConnection, key: int) -> int | None:
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    pid = (await connection.execute(_HOLDER, {"high": high, "low": low})).scalar()
    await connection.commit()
    return None if pid is None else int(pid)


async def _release(connection: AsyncConnection, key: int) -> None:
    """Unlocked on every way out, a failed or stopped run's too."""
    if connection.closed or connection.invalidated:
        return
    try:
        await connection.rollback()  # a failed migration's transaction, aborted
        await connection.execute(_UNLOCK, {"key": key})
        await connection.commit()
    except Exception:  # the run's own error is the one to report
        # Interrupted mid-statement (a SIGTERM): the session ends instead, and the lock with it.
        await connection.invalidate()
