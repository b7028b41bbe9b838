"""DB-2: `migrate` has its own bounds, not the application's.

A migration's statement may run past DATABASE_STATEMENT_TIMEOUT_MS (an index built, a table
backfilled): MIGRATION_STATEMENT_TIMEOUT_MS, no bound by default. A migration's wait for a lock
is short (MIGRATION_LOCK_TIMEOUT_MS): while an ALTER TABLE waits, every query on the table queues
behind its request, so it gives up, says so in one line and exits 75 (the Job retries), and the
queued queries go on.

The migrations are tests/example/migrations/versions/0003_long.py, asked for by the environment.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from goldenpath_chassis import Service
from goldenpath_chassis._core import migrations
from goldenpath_chassis._core.database import create_engine
from goldenpath_chassis.testing.databases import create_postgres_database, drop_postgres_database

from tests.example.service import BACKEND
from tests.support.example_process import EXAMPLE_COMMAND, importable

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's statement and lock bounds"),
]

# An interpreter's start, imports and a connection, on a busy machine.
START_SECONDS = 30
LOCK_TIMEOUT_MS = 1000
# As a migration Job with long statements would have set it before MIGRATION_*: a bound the
# lock wait would sit out (and so would the queries behind it).
LONG_STATEMENT_TIMEOUT_MS = 600_000


@contextmanager
def database_before_0003(service: Service, postgres_admin_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_admin_url)
    try:
        settings = service.load_settings(app_env="test", database_url=url)
        migrations.upgrade(settings, "0002", location=service.migrations)
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


def migrate_env(url: str, **variables: str) -> dict[str, str]:
    return importable() | {"APP_ENV": "test", "DATABASE_URL": url} | variables


def test_db2_a_migration_statement_runs_past_the_applications_statement_timeout(
    service: Service, postgres_admin_url: str
) -> None:
    with database_before_0003(service, postgres_admin_url) as url:
        env = migrate_env(
            url,
            DATABASE_STATEMENT_TIMEOUT_MS="200",
            # Past the statement timeout and the driver's margin above it.
            EXAMPLE_SLOW_MIGRATION_SECONDS="1.5",
        )
        result = subprocess.run(
            [sys.executable, *EXAMPLE_COMMAND, "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_SECONDS,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert asyncio.run(revision(url)) == "0003"


def test_db2_a_migration_waiting_for_a_lock_gives_up_and_lets_queries_through(
    service: Service, postgres_admin_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "migrate.log"
    with database_before_0003(service, postgres_admin_url) as url:
        count, waited, exit_code = asyncio.run(migrate_against_a_lock(service, url, log_path))
        output = log_path.read_text()
        assert count == 0
        # Let through once the migration gave up, not failed by its own statement timeout.
        assert waited < service.load_settings().database.statement_timeout_ms / 1000, output
        assert exit_code == 75, output
        last = json.loads(output.splitlines()[-1])
        assert last["event"] == "migration_timed_out", output
        assert last["error"] == "canceling statement due to lock timeout", output
        assert (last["setting"], last["bound_ms"]) == (
            "MIGRATION_LOCK_TIMEOUT_MS",
            LOCK_TIMEOUT_MS,
        ), output
        assert "Traceback" not in output, output
        assert asyncio.run(revision(url)) == "0002"


async def migrate_against_a_lock(
    service: Service, url: str, log_path: Path
) -> tuple[int, float, int]:
    """The migration's ALTER TABLE queued behind another transaction's lock, then an application
    query on the table: the query's answer and wait, and the migration's exit code."""
    env = migrate_env(
        url,
        EXAMPLE_ALTERING_MIGRATION="1",
        MIGRATION_LOCK_TIMEOUT_MS=str(LOCK_TIMEOUT_MS),
        DATABASE_STATEMENT_TIMEOUT_MS=str(LONG_STATEMENT_TIMEOUT_MS),
    )
    async with holding_a_lock_on_widgets(url):
        log = log_path.open("wb")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *EXAMPLE_COMMAND, "migrate", env=env, stdout=log, stderr=log
            )
            try:
                await wait_until_the_alter_waits(url, process)
                queued_at = time.monotonic()
                # With the application's bounds (a 5 s statement timeout), issued once the
                # ALTER waits: it queues behind the ALTER's request.
                count = await application_query(service, url)
                waited = time.monotonic() - queued_at
                exit_code = await asyncio.wait_for(process.wait(), START_SECONDS)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        finally:
            log.close()
    return count, waited, exit_code


@asynccontextmanager
async def holding_a_lock_on_widgets(url: str) -> AsyncIterator[AsyncConnection]:
    """A transaction that has read `widgets` and stays open: a long report, an idle session."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection, connection.begin():
            await connection.execute(text("LOCK TABLE widgets IN ACCESS SHARE MODE"))
            yield connection
    finally:
        await engine.dispose()


async def wait_until_the_alter_waits(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_SECONDS
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            while not (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE relation = 'widgets'::regclass"
                        " AND mode = 'AccessExclusiveLock' AND NOT granted"
                    )
                )
            ).scalar_one():
                await connection.rollback()  # a fresh snapshot of pg_locks
                assert process.returncode is None, "the migration ended before its ALTER waited"
                assert time.monotonic() < deadline, "the migration's ALTER never waited"
                await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


async def application_query(service: Service, url: str) -> int:
    engine = create_engine(service.load_settings(app_env="test", database_url=url))
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(text("SELECT count(*) FROM widgets"))).scalar_one()
            )
    finally:
        await engine.dispose()


async def revision(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return str(result.scalar_one())
    finally:
        await engine.dispose()
