"""ARCH-3: a short lease kept alive by the worker's heartbeat while a job runs.

A job runs for longer than its lease (up to JOB_MAX_RUN_SECONDS) without a second worker
claiming it; a worker that dies leaves its job to another within about a lease; a worker that
can no longer extend its lease, or finds its claim taken, stops the handler before another
worker may run it. On the example's database (PostgreSQL, or SQLite with EXAMPLE_BACKEND=sqlite).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from structlog.testing import capture_logs

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core import queue
from goldenpath_chassis._core.database import Database
from goldenpath_chassis._core.job_leases import HEARTBEAT_TASK_NAME
from goldenpath_chassis._core.queue import Job
from goldenpath_chassis._core.worker import Worker

pytestmark = pytest.mark.integration

LEASE = 1.5  # extended every 0.5 s
KIND = "long"
Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]


def database_of(app: FastAPI) -> Database:
    return chassis_of(app).resources.database


async def until(condition: Callable[[], Awaitable[bool]], failure: str, within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, failure
        await asyncio.sleep(0.02)


async def enqueue(database: Database) -> uuid.UUID:
    async with database.sessionmaker() as session:
        job = queue.enqueue(session, KIND, {}, max_attempts=5)
        await session.commit()
        return job.id


async def job_row(database: Database, job_id: uuid.UUID) -> Job | None:
    async with database.sessionmaker() as session:
        return await session.get(Job, job_id)


async def lease_of(database: Database, job_id: uuid.UUID) -> datetime:
    job = await job_row(database, job_id)
    assert job is not None
    assert job.locked_until is not None
    return job.locked_until


def worker_for(database: Database, handler: Handler) -> Worker:
    return Worker(database, {KIND: handler}, poll_seconds=0.05, lease_seconds=LEASE)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), timeout=10)


async def heartbeat_started() -> asyncio.Task[Any]:
    """The heartbeat of the one worker running so far."""
    for _ in range(100):
        found = [task for task in asyncio.all_tasks() if task.get_name() == HEARTBEAT_TASK_NAME]
        if found:
            (heartbeat,) = found
            return heartbeat
        await asyncio.sleep(0)
    raise AssertionError("no heartbeat task")


async def test_arch3_a_job_running_for_several_leases_is_not_claimed_again_and_runs_once(
    app: FastAPI,
) -> None:
    database = database_of(app)
    job_id = await enqueue(database)
    ran: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def first_handler(_: Any, __: dict[str, Any]) -> None:
        ran.append("first")
        started.set()
        await release.wait()

    async def second_handler(_: Any, __: dict[str, Any]) -> None:
        ran.append("second")

    async with running(worker_for(database, first_handler)):
        await asyncio.wait_for(started.wait(), timeout=10)
        claimed_until = await lease_of(database, job_id)
        async with running(worker_for(database, second_handler)):
            # Three leases beyond the first: the second worker polled all along, long after
            # the lease the claim took had run out.
            async def kept_for_three_more_leases() -> bool:
                return await lease_of(database, job_id) >= claimed_until + timedelta(
                    seconds=3 * LEASE
                )

            await until(kept_for_three_more_leases, "the lease was not kept", within=8 * LEASE)
            release.set()

            async def done() -> bool:
                return await job_row(database, job_id) is None

            await until(done, "the job never completed", within=10)
    assert ran == ["first"]


async def test_arch3_the_job_of_a_worker_that_died_is_retried_within_about_a_lease(
    app: FastAPI,
) -> None:
    """It ran for longer than its lease, then its worker died (its heartbeat and its job stop,
    nothing recorded): another worker takes the job once the last lease extended runs out."""
    database = database_of(app)
    job_id = await enqueue(database)
    started = asyncio.Event()
    job_task: list[asyncio.Task[Any]] = []
    retried_at: list[datetime] = []
    retried = asyncio.Event()

    async def dies_with_its_worker(_: Any, __: dict[str, Any]) -> None:
        job_task.append(asyncio.current_task())  # type: ignore[arg-type]
        started.set()
        await asyncio.Event().wait()

    async def retry(_: Any, __: dict[str, Any]) -> None:
        retried_at.append(datetime.now(UTC))
        retried.set()

    first = worker_for(database, dies_with_its_worker)
    first_task = asyncio.create_task(first.run())
    heartbeat = await heartbeat_started()
    await asyncio.wait_for(started.wait(), timeout=10)
    claimed_until = await lease_of(database, job_id)

    async def extended() -> bool:
        return await lease_of(database, job_id) > claimed_until + timedelta(seconds=LEASE)

    await until(extended, "the lease was not kept past the first", within=4 * LEASE)
    async with running(worker_for(database, retry)):
        for task in (heartbeat, *job_task, first_task):  # the worker dies
            task.cancel()
        await asyncio.gather(heartbeat, *job_task, first_task, return_exceptions=True)
        died_at = datetime.now(UTC)
        last_lease = await lease_of(database, job_id)
        await asyncio.wait_for(retried.wait(), timeout=4 * LEASE)
    (retried_when,) = retried_at
    assert retried_when >= last_lease  # never while the lease held
    assert retried_when - died_at < timedelta(seconds=LEASE + 1)


async def test_arch3_a_worker_that_cannot_extend_its_lease_stops_the_job_before_it_runs_out(
    app: FastAPI,
) -> None:
    """Its heartbeat stopped (the database unreachable for it alone, say): the handler is
    cancelled before the lease runs out, so it never runs beside the retry."""
    database = database_of(app)
    job_id = await enqueue(database)
    started, retried = asyncio.Event(), asyncio.Event()
    moments: list[tuple[str, datetime]] = []

    async def hangs_the_first_time(_: Any, __: dict[str, Any]) -> None:
        if started.is_set():  # the retry, by either worker
            moments.append(("retried", datetime.now(UTC)))
            retried.set()
            return
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            moments.append(("first stopped", datetime.now(UTC)))

    with capture_logs() as logs:
        async with running(worker_for(database, hangs_the_first_time)):
            heartbeat = await heartbeat_started()
            await asyncio.wait_for(started.wait(), timeout=10)
            heartbeat.cancel()
            claimed_until = await lease_of(database, job_id)
            async with running(worker_for(database, hangs_the_first_time)):
                await asyncio.wait_for(retried.wait(), timeout=6 * LEASE)
    assert [what for what, _ in moments] == ["first stopped", "retried"]
    assert moments[0][1] < claimed_until
    (failed,) = [line for line in logs if line["event"] == "job_failed"]
    assert (failed["error"], failed["attempts"]) == ("JobLeaseLostError", 1)


async def test_arch3_a_worker_whose_claim_was_taken_stops_the_job_and_leaves_the_claim_alone(
    app: FastAPI,
) -> None:
    """Another worker claimed the job again (the first's lease ran out): the first worker's
    heartbeat extends only its own claim, finds it gone, and cancels the handler."""
    database = database_of(app)
    job_id = await enqueue(database)
    started, stopped = asyncio.Event(), asyncio.Event()

    async def runs_on(_: Any, __: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    with capture_logs() as logs:
        async with running(worker_for(database, runs_on)):
            await asyncio.wait_for(started.wait(), timeout=10)
            async with database.sessionmaker() as session:
                await session.execute(
                    update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
                )
                await session.commit()
                (second,) = await queue.claim(
                    session, limit=1, lease=timedelta(seconds=60), kinds=[KIND]
                )
            await asyncio.wait_for(stopped.wait(), timeout=4 * LEASE)
    job = await job_row(database, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.locked_until) == ("running", 2, second.locked_until)
    (failed,) = [line for line in logs if line["event"] == "job_failed"]
    assert (failed["error"], failed["attempts"]) == ("JobLeaseLostError", None)


async def test_arch3_a_run_that_ends_after_its_claim_was_taken_is_rolled_back(
    app: FastAPI,
) -> None:
    """The claim was taken between two heartbeats and the handler finished before the next
    noticed: its writes are rolled back and the job stays the other claim's, not deleted from
    under it (that run counts, as it would had this one crashed)."""
    database = database_of(app)
    job_id = await enqueue(database)
    claims: list[Job] = []

    async def finishes_after_losing_its_claim(session: Any, _: dict[str, Any]) -> None:
        async with database.sessionmaker() as other:
            await other.execute(
                update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await other.commit()
            claims.extend(
                await queue.claim(other, limit=1, lease=timedelta(seconds=60), kinds=[KIND])
            )
        queue.enqueue(session, "written-by-the-lost-run", {}, max_attempts=1)

    # A lease long enough that no heartbeat comes before the handler ends.
    worker = Worker(database, {KIND: finishes_after_losing_its_claim}, lease_seconds=30)
    with capture_logs() as logs:
        assert await worker.run_once() == 1
    [second] = claims
    job = await job_row(database, job_id)
    assert job is not None, "the other claim's job was deleted"
    assert (job.status, job.attempts, job.locked_until) == ("running", 2, second.locked_until)
    async with database.sessionmaker() as session:
        kinds = (await session.scalars(select(Job.kind))).all()
    assert kinds == [KIND], "the lost run's writes were committed"
    (failed,) = [line for line in logs if line["event"] == "job_failed"]
    assert failed["error"] == "JobLeaseLostError"
