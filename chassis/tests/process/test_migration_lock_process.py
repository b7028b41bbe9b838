"""DB-2: one `migrate` at a time on a PostgreSQL database.

Two runs at once (a Job's retry while a pod on a lost node still runs, two pipelines, a run by
hand): without a lock both apply the same revision, and one fails, or a backfill is applied
twice. The second run waits for the first, says so once, and finds nothing left to apply; its
wait is bounded (MIGRATION_LOCK_WAIT_SECONDS: one line, exit 75, the Job retries); a holder
stopped by SIGTERM lets the next run through. `alembic upgrade` by hand takes the same lock, gives
up in Alembic's one line, and names invalid indexes as `migrate` does.

The migration is tests/example/migrations/versions/0003_long.py's data migration: it inserts a
row, then waits at a gate (an advisory lock the test holds), so that each step below waits for
a state, never for time.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from goldenpath_chassis import Service
from goldenpath_chassis._core.migration_lock import lock_key

from tests.example.service import BACKEND
from tests.process.test_migration_timeouts_process import (
    START_SECONDS,
    database_before_0003,
    migrate_env,
    revision,
)
from tests.support.example_process import EXAMPLE_COMMAND

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's advisory locks"),
]

GATE = 730_001
WAIT_BOUND_SECONDS = 1


class Migrate:
    """`migrate` as a process, logging to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *EXAMPLE_COMMAND, "migrate"],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def wait(self) -> int:
        return self.process.wait(timeout=START_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@contextmanager
def migrate_runs(url: str, folder: Path) -> Iterator[Callable[..., Migrate]]:
    """Starts `migrate` runs, each logging to `<name>.log`; every one ended on the way out."""
    started: list[Migrate] = []

    def start(name: str, **variables: str) -> Migrate:
        started.append(Migrate(migrate_env(url, **variables), folder / f"{name}.log"))
        return started[-1]

    try:
        yield start
    finally:
        for run in started:
            run.stop()


def gated_env() -> dict[str, str]:
    # The gate is a lock the migration waits for as long as the test holds it.
    return {"EXAMPLE_DATA_MIGRATION_GATE": str(GATE), "MIGRATION_LOCK_TIMEOUT_MS": "0"}


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def scalar(connection: AsyncConnection, sql: str, **params: object) -> object:
    return (await connection.execute(text(sql), params)).scalar()


async def until(condition: Callable[[], Awaitable[bool]], runs: list[Migrate], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not await condition():
        for run in runs:
            assert run.process.poll() is None, f"ended before {what}:\n{run.output()}"
        assert time.monotonic() < deadline, f"never {what}: " + "\n".join(
            run.output() for run in runs
        )
        await asyncio.sleep(0.02)


async def waiting_at_the_gate(connection: AsyncConnection) -> int:
    return int(
        str(
            await scalar(
                connection,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = 0 AND objid = :gate AND NOT granted",
                gate=GATE,
            )
        )
    )


def said(run: Migrate, event: str) -> bool:
    return f'"event":"{event}"' in run.output()


@pytest.fixture
def database(service: Service, postgres_admin_url: str) -> Iterator[str]:
    with database_before_0003(service, postgres_admin_url) as url:
        asyncio.run(create_runs_table(url))
        yield url


async def create_runs_table(url: str) -> None:
    async with connected(url) as connection:
        await connection.execute(text("CREATE TABLE data_migration_runs (id serial PRIMARY KEY)"))


async def applied(connection: AsyncConnection) -> int:
    return int(str(await scalar(connection, "SELECT count(*) FROM data_migration_runs")))


def test_db2_two_migrate_runs_at_once_apply_a_data_migration_once(
    database: str, tmp_path: Path
) -> None:
    first_exit, second_exit, rows, first, second = asyncio.run(two_runs_at_once(database, tmp_path))
    assert (first_exit, second_exit) == (0, 0), first.output() + second.output()
    assert rows == 1
    assert asyncio.run(revision(database)) == "0003"
    waiting = [line for line in second.lines() if line["event"] == "migration_waiting_for_lock"]
    assert len(waiting) == 1, second.output()
    assert waiting[0]["holder_pid"] is not None, second.output()
    assert said(second, "migration_lock_acquired"), second.output()
    assert not said(first, "migration_waiting_for_lock"), first.output()


async def two_runs_at_once(url: str, tmp_path: Path) -> tuple[int, int, int, Migrate, Migrate]:
    async with connected(url) as connection:
        await scalar(connection, "SELECT pg_advisory_lock(:gate)", gate=GATE)
        with migrate_runs(url, tmp_path) as start:
            first = start("first", **gated_env())
            await until(lambda: at_least(connection, 1), [first], "the first run at the gate")
            second = start("second", **gated_env())

            async def second_waits() -> bool:
                # With the lock it waits for the first run; without, it reaches the gate too.
                return said(second, "migration_waiting_for_lock") or await at_least(connection, 2)

            await until(second_waits, [first, second], "the second run waiting")
            await scalar(connection, "SELECT pg_advisory_unlock(:gate)", gate=GATE)
            first_exit, second_exit = first.wait(), second.wait()
        return first_exit, second_exit, await applied(connection), first, second


async def at_least(connection: AsyncConnection, runs: int) -> bool:
    return await waiting_at_the_gate(connection) >= runs


def test_db2_a_run_gives_up_waiting_for_a_stuck_lock_holder_in_one_line(
    database: str, tmp_path: Path
) -> None:
    holder_pid, exit_code, run = asyncio.run(migrate_behind_a_stuck_holder(database, tmp_path))
    output = run.output()
    assert exit_code == 75, output
    lines = run.lines()
    waiting = [line for line in lines if line["event"] == "migration_waiting_for_lock"]
    assert [line["holder_pid"] for line in waiting] == [holder_pid], output
    last = lines[-1]
    assert last["event"] == "migration_timed_out", output
    assert (last["setting"], last["bound_ms"], last["code"]) == (
        "MIGRATION_LOCK_WAIT_SECONDS",
        WAIT_BOUND_SECONDS * 1000,
        75,
    ), output
    assert f"PostgreSQL pid {holder_pid}" in str(last["error"]), output
    assert "Traceback" not in output, output
    assert asyncio.run(revision(database)) == "0002"


async def migrate_behind_a_stuck_holder(url: str, tmp_path: Path) -> tuple[int, int, Migrate]:
    """The migration lock held by a session that never lets go (a client on a lost node)."""
    async with connected(url) as connection:
        holder_pid = await hold_the_migration_lock(connection)
        with migrate_runs(url, tmp_path) as start:
            run = start("migrate", MIGRATION_LOCK_WAIT_SECONDS=str(WAIT_BOUND_SECONDS))
            exit_code = run.wait()
    return holder_pid, exit_code, run


async def hold_the_migration_lock(connection: AsyncConnection) -> int:
    """Takes the lock a run of this database's schema takes; the holder's pid."""
    schema = str(await scalar(connection, "SELECT current_schema()"))
    await scalar(connection, "SELECT pg_advisory_lock(:key)", key=lock_key(schema))
    return int(str(await scalar(connection, "SELECT pg_backend_pid()")))


def test_db2_a_run_stopped_by_sigterm_lets_the_waiting_run_through(
    database: str, tmp_path: Path
) -> None:
    first_exit, second_exit, rows, first, second = asyncio.run(
        holder_stopped_while_another_waits(database, tmp_path)
    )
    assert first_exit == 128 + signal.SIGTERM, first.output()
    assert first.lines()[-1]["event"] == "command_stopped", first.output()
    assert "Traceback" not in first.output(), first.output()
    assert second_exit == 0, second.output()
    assert rows == 1  # the stopped run's row rolled back, the second run's committed
    assert asyncio.run(revision(database)) == "0003"


async def holder_stopped_while_another_waits(
    url: str, tmp_path: Path
) -> tuple[int, int, int, Migrate, Migrate]:
    async with connected(url) as connection:
        await scalar(connection, "SELECT pg_advisory_lock(:gate)", gate=GATE)
        with migrate_runs(url, tmp_path) as start:
            first = start("first", **gated_env())
            await until(lambda: at_least(connection, 1), [first], "the first run at the gate")
            second = start("second", **gated_env())
            await until(
                lambda: said_async(second, "migration_waiting_for_lock"),
                [first, second],
                "the second run waiting",
            )
            first.process.send_signal(signal.SIGTERM)
            first_exit = first.wait()
            # Through to the migration while the gate is still closed: the lock, let go.
            await until(
                lambda: said_async(second, "migration_lock_acquired"),
                [second],
                "the second run through",
            )
            await scalar(connection, "SELECT pg_advisory_unlock(:gate)", gate=GATE)
            second_exit = second.wait()
        return first_exit, second_exit, await applied(connection), first, second


async def said_async(run: Migrate, event: str) -> bool:
    return said(run, event)


def test_db2_alembic_from_the_command_line_takes_the_same_lock(
    service: Service, database: str, tmp_path: Path
) -> None:
    """`alembic upgrade head` by hand: env.py connects from the settings, waits too, and gives up
    in Alembic's one line, as `migrate` does in its own."""
    holder_pid, result = asyncio.run(alembic_behind_a_stuck_holder(service, database, tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    failed = [line for line in output.splitlines() if line.startswith("FAILED: ")]
    assert len(failed) == 1, output
    assert f"migration lock (PostgreSQL pid {holder_pid})" in failed[0], output
    assert failed[0].endswith("(MIGRATION_LOCK_WAIT_SECONDS=0.5)"), output
    assert asyncio.run(revision(database)) == "0002"


async def alembic_behind_a_stuck_holder(
    service: Service, url: str, tmp_path: Path
) -> tuple[int, subprocess.CompletedProcess[str]]:
    async with connected(url) as connection:
        holder_pid = await hold_the_migration_lock(connection)
        result = alembic_by_hand(service, url, tmp_path, MIGRATION_LOCK_WAIT_SECONDS="0.5")
    return holder_pid, result


def test_db2_alembic_from_the_command_line_names_invalid_indexes(
    service: Service, database: str, tmp_path: Path
) -> None:
    """The warning `migrate` gives after every run on PostgreSQL, by hand too."""
    asyncio.run(leave_an_invalid_index(database))
    result = alembic_by_hand(service, database, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if "migration_left_invalid_indexes" in line]
    assert len(warnings) == 1, output
    assert "public.ix_one_run" in warnings[0], output
    assert asyncio.run(revision(database)) == "0003"


async def leave_an_invalid_index(url: str) -> None:
    """A concurrent build that fails (a duplicate under UNIQUE) leaves its index INVALID."""
    async with connected(url) as connection:
        await connection.execute(text("INSERT INTO data_migration_runs DEFAULT VALUES"))
        await connection.execute(text("INSERT INTO data_migration_runs DEFAULT VALUES"))
        with pytest.raises(IntegrityError):
            await connection.execute(
                text("CREATE UNIQUE INDEX CONCURRENTLY ix_one_run ON data_migration_runs ((1))")
            )


def alembic_by_hand(
    service: Service, url: str, folder: Path, **variables: str
) -> subprocess.CompletedProcess[str]:
    """`alembic upgrade head` on the command line: env.py finds the database in the settings."""
    config = folder / "alembic.ini"
    config.write_text(f"[alembic]\nscript_location = {service.migrations}\n")
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(config), "upgrade", "head"],
        env=migrate_env(url, **variables),
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )
