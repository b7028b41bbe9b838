"""INF-3: as PID 1, SIGTERM and SIGINT stop the service at any point of start-up, and stop
`migrate` with its transaction rolled back.

Each process runs as PID 1 of a new PID namespace (tests/support/pid1.py), where the kernel
drops a signal PID 1 has no handler for, as in the image (no init). Each test signals as soon as
the process exists and again until it exits: the signals that come before its handler are
dropped, and the process must still end within a bound far below any grace period.

The start-up is held right after `__main__`'s first statement, before the chassis is imported
(tests/example/held_import.py), and the migration in the middle of a statement that waits
(tests/example/migrations/versions/0002_held.py), each far longer than the bound: only a
handler in place by then ends them in time. Without one the test gives up at the bound.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goldenpath_chassis import Service
from goldenpath_chassis._core import migrations
from goldenpath_chassis.testing.databases import create_postgres_database, drop_postgres_database

from tests.example.service import BACKEND
from tests.support.example_process import EXAMPLE_COMMAND, development_env, importable
from tests.support.pid1 import (
    requires_pid_namespaces,
    signal_until_exit,
    spawn_as_pid1,
    stop,
    wait_until_handled,
)

pytestmark = [pytest.mark.process, requires_pid_namespaces]

HELD_SECONDS = 600
# Far below a pod's grace period (30 s by default); the stop itself takes a fraction of a second.
BOUND_SECONDS = 10


@pytest.mark.parametrize(
    ("command", "code"),
    # `migrate` has not done its work, so it is not a success: 128 + SIGTERM.
    [("serve", 0), ("worker", 0), ("migrate", 143)],
)
def test_inf3_sigterm_from_the_first_moment_of_start_up_ends_the_process(
    tmp_path: Path, command: str, code: int
) -> None:
    log_path = tmp_path / "out.log"
    process = spawn_as_pid1([*EXAMPLE_COMMAND, command], env=held_env(), log_path=log_path)
    try:
        exit_code, took = signal_until_exit(process, signal.SIGTERM, bound=BOUND_SECONDS)
    finally:
        stop(process)
    output = log_path.read_text()
    assert exit_code == code, f"exit {exit_code} after {took:.1f} s: {output}"
    assert output == "", output  # stopped before logging was configured: nothing said


@pytest.mark.parametrize(("command", "code"), [("serve", 0), ("migrate", 130)])
def test_inf3_sigint_during_start_up_ends_the_process_as_sigterm_does(
    tmp_path: Path, command: str, code: int
) -> None:
    """Sent once the entry handles SIGTERM: in the interpreter's own start, before any of the
    service's code, Python's default SIGINT handler ends it (a KeyboardInterrupt, exit 1)."""
    log_path = tmp_path / "out.log"
    process = spawn_as_pid1([*EXAMPLE_COMMAND, command], env=held_env(), log_path=log_path)
    try:
        handled = wait_until_handled(process, signal.SIGTERM, bound=BOUND_SECONDS)
        exit_code, took = signal_until_exit(process, signal.SIGINT, bound=BOUND_SECONDS)
    finally:
        stop(process)
    output = log_path.read_text()
    assert handled, output
    assert exit_code == code, f"exit {exit_code} after {took:.1f} s: {output}"
    assert output == "", output  # not KeyboardInterrupt's traceback


def held_env() -> dict[str, str]:
    return development_env() | {"EXAMPLE_HELD_IMPORT_SECONDS": str(HELD_SECONDS)}


@pytest.mark.skipif(BACKEND != "postgresql", reason="the held migration waits in PostgreSQL")
def test_inf3_sigterm_during_a_migration_leaves_the_database_at_the_previous_revision(
    tmp_path: Path, service: Service, postgres_admin_url: str
) -> None:
    url = create_postgres_database(postgres_admin_url)
    try:
        migrations.upgrade(
            service.load_settings(app_env="test", database_url=url),
            "0001",
            location=service.migrations,
        )
        log_path = tmp_path / "out.log"
        env = importable() | {
            "APP_ENV": "test",
            "DATABASE_URL": url,
            # The server does not end the held statement itself: a migration's statements have
            # no bound by default (MIGRATION_STATEMENT_TIMEOUT_MS).
            "EXAMPLE_HELD_MIGRATION": "1",
        }
        process = spawn_as_pid1([*EXAMPLE_COMMAND, "migrate"], env=env, log_path=log_path)
        try:
            wait_for_line(process, log_path, "held_migration")
            exit_code, took = signal_until_exit(process, signal.SIGTERM, bound=BOUND_SECONDS)
        finally:
            stop(process)
        output = log_path.read_text()
        assert exit_code == 143, f"exit {exit_code} after {took:.1f} s: {output}"
        last = json.loads(output.splitlines()[-1])
        assert last["event"] == "command_stopped", output
        assert (last["command"], last["signal"], last["code"]) == ("migrate", "SIGTERM", 143)
        assert "Traceback" not in output, output
        # The held statement ends too, instead of running on (with its locks) in the server.
        assert wait_until_no_statement_waits(url), "the held statement still runs"
        assert asyncio.run(revision_and_tables(url)) == ("0001", False)
    finally:
        drop_postgres_database(postgres_admin_url, url)


def wait_for_line(process: subprocess.Popen[bytes], log_path: Path, event: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS * 3  # an interpreter's start, imports, connect
    while f'"event":"{event}"' not in log_path.read_text():
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.05)


def wait_until_no_statement_waits(url: str) -> bool:
    deadline = time.monotonic() + BOUND_SECONDS
    while asyncio.run(statements_waiting(url)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def revision_and_tables(url: str) -> tuple[str, bool]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            revision = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
            held = (await connection.execute(text("SELECT to_regclass('held_migration')"))).scalar()
    finally:
        await engine.dispose()
    return revision, held is not None


async def statements_waiting(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            count = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE '%pg_sleep(600)%'"
                    " AND pid <> pg_backend_pid()"
                )
            )
            return int(count.scalar_one())
    finally:
        await engine.dispose()
