"""ARCH-3: jobs commit with the business write, run once, retry with backoff, survive workers.

On the example service's `widgets.publish` job: creating a widget enqueues it, and the worker
turns the widget from `pending` to `active`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update
from structlog.testing import capture_logs

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core import queue
from goldenpath_chassis._core.database import Database, open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.queue import Job
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis._core.worker_process import run_worker
from goldenpath_chassis.jobs import PermanentJobError
from goldenpath_chassis.settings import ChassisSettings
from goldenpath_chassis.testing.databases import create_postgres_database, drop_postgres_database
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from goldenpath_chassis.testing.processes import free_port

from tests.example.widgets import PUBLISH, Widget
from tests.support.not_found import ACCESS_TOKEN, NotFound, url_with_token

pytestmark = pytest.mark.integration


def database_of(app: FastAPI) -> Database:
    return chassis_of(app).resources.database


async def jobs_in(database: Database) -> list[Job]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(Job))).all())


async def until(condition: Callable[[], Awaitable[bool]], failure: str, within: float = 10) -> None:
    """Poll `condition` (a query) until it holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, failure
        await asyncio.sleep(0.05)


async def test_arch3_creating_a_widget_enqueues_its_job(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    widget = (await client.post("/v1/widgets", json={"name": "queued"})).json()
    jobs = await jobs_in(database_of(app))
    assert [(job.kind, job.payload, job.status) for job in jobs] == [
        (PUBLISH, {"widget_id": widget["id"]}, "queued")
    ]


async def test_arch3_a_refused_write_enqueues_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.post("/v1/widgets", json={"name": "twin"})
    refused = await client.post("/v1/widgets", json={"name": "twin"})
    assert refused.status_code == 409
    assert len(await jobs_in(database_of(app))) == 1


async def test_arch3_a_rolled_back_transaction_leaves_no_job(app: FastAPI) -> None:
    database = database_of(app)
    async with database.sessionmaker() as session:
        session.add(Widget(owner="user:tester", name="never"))
        queue.enqueue(session, PUBLISH, {"widget_id": str(uuid.uuid4())})
        await session.flush()
        await session.rollback()
    assert await jobs_in(database) == []


async def test_arch3_the_worker_publishes_the_widget_and_removes_the_job(
    client: httpx.AsyncClient, app: FastAPI, service: Service
) -> None:
    widget = (await client.post("/v1/widgets", json={"name": "to publish"})).json()
    assert widget["status"] == "pending"
    worker = Worker(database_of(app), service.jobs)
    assert await worker.run_once() == 1
    assert (await client.get(f"/v1/widgets/{widget['id']}")).json()["status"] == "active"
    assert await jobs_in(database_of(app)) == []
    assert await worker.run_once() == 0  # nothing runs twice


async def test_arch3_a_job_for_a_deleted_widget_completes_quietly(
    client: httpx.AsyncClient, app: FastAPI, service: Service
) -> None:
    widget = (await client.post("/v1/widgets", json={"name": "gone soon"})).json()
    await client.delete(f"/v1/widgets/{widget['id']}")
    assert await Worker(database_of(app), service.jobs).run_once() == 1
    assert await jobs_in(database_of(app)) == []


async def failing(_: Any, __: dict[str, Any]) -> None:
    raise ConnectionResetError("the webhook hung up")


async def make_due(database: Database) -> None:
    async with database.sessionmaker() as session:
        await session.execute(
            update(Job).values(run_after=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()


async def test_arch3_a_failing_job_is_retried_with_growing_backoff_then_failed(
    app: FastAPI,
) -> None:
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "flaky", {}, max_attempts=3)
        await session.commit()
    worker = Worker(database, {"flaky": failing})
    delays = []
    for attempt in (1, 2):
        before = datetime.now(UTC)
        assert await worker.run_once() == 1
        (job,) = await jobs_in(database)
        assert (job.status, job.attempts) == ("queued", attempt)
        assert job.last_error == "ConnectionResetError: the webhook hung up"
        delays.append((job.run_after - before).total_seconds())
        assert await worker.run_once() == 0  # not due yet
        await make_due(database)
    assert 0.9 <= delays[0] < delays[1] <= 4.1
    assert await worker.run_once() == 1
    (job,) = await jobs_in(database)
    assert (job.status, job.attempts) == ("failed", 3)  # kept for a human to inspect
    await make_due(database)
    assert await worker.run_once() == 0


async def test_arch3_a_failed_jobs_error_keeps_no_credential_of_the_url_it_called(
    app: FastAPI,
) -> None:
    database = database_of(app)
    with loopback_http_server(NotFound) as downstream:
        url, redacted = url_with_token(downstream)

        async def call_downstream(_: Any, __: dict[str, Any]) -> None:
            async with httpx.AsyncClient() as http:
                (await http.get(url)).raise_for_status()

        async with database.sessionmaker() as session:
            queue.enqueue(session, "call", {}, max_attempts=1)
            await session.commit()
        assert await Worker(database, {"call": call_downstream}).run_once() == 1
    (job,) = await jobs_in(database)
    assert job.status == "failed"
    assert job.last_error is not None
    # What failed is still there to read, the URL's credential is not.
    assert job.last_error.startswith("HTTPStatusError: Client error '404 Not Found' for url")
    assert f"'{redacted}'" in job.last_error
    assert ACCESS_TOKEN not in job.last_error


async def test_arch3_a_job_that_can_never_succeed_is_failed_at_once_and_said(
    app: FastAPI,
) -> None:
    """A payload whose shape changed fails the same way each time: the handler says so with
    PermanentJobError, and the job is failed on its first attempt, not after all of them."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "reshaped", {"old_field": 1}, max_attempts=5)
        await session.commit()
    attempts: list[str] = []

    async def reshaped(_: Any, __: dict[str, Any]) -> None:
        attempts.append("ran")
        raise PermanentJobError(
            "no 'widget_id' in the payload; its source: "
            f"https://api.example/v1/callback?access_token={ACCESS_TOKEN}"
        )

    worker = Worker(database, {"reshaped": reshaped})
    with capture_logs() as logs:
        assert await worker.run_once() == 1
        await make_due(database)
        assert await worker.run_once() == 0  # never retried
    assert attempts == ["ran"]
    (job,) = await jobs_in(database)
    reason = (
        "no 'widget_id' in the payload; its source: "
        "https://api.example/v1/callback?access_token=REDACTED"
    )
    assert (job.status, job.attempts, job.locked_until) == ("failed", 1, None)
    assert job.last_error == f"PermanentJobError: {reason}"
    assert [line for line in logs if line["log_level"] != "info"] == [
        {
            "event": "job_failed",
            "log_level": "warning",
            "job_id": str(job.id),
            "job_kind": "reshaped",
            "error": "PermanentJobError",
            "reason": reason,
            "attempts": 1,
            "final": True,
            "permanent": True,
        }
    ]


async def test_arch3_a_job_whose_worker_died_is_retried_after_its_lease(app: FastAPI) -> None:
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "slow", {})
        await session.commit()
        claimed = await queue.claim(session, limit=1, lease=timedelta(seconds=60), kinds=["slow"])
    assert len(claimed) == 1
    # The worker that claimed it vanished; until the lease runs out, nobody else takes it.
    done: list[str] = []

    async def record(_: Any, __: dict[str, Any]) -> None:
        done.append("ran")

    worker = Worker(database, {"slow": record})
    assert await worker.run_once() == 0
    async with database.sessionmaker() as session:
        await session.execute(
            update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await worker.run_once() == 1
    assert done == ["ran"]
    assert await jobs_in(database) == []


async def test_arch3_a_worker_failing_after_its_lease_ran_out_leaves_the_new_claim_alone(
    app: FastAPI,
) -> None:
    """Its lease ran out mid-job and another worker claimed the job again: its failure must not
    requeue the job under that worker, or a third worker would run it at the same time."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "slow", {}, max_attempts=5)
        await session.commit()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_then_failing(_: Any, __: dict[str, Any]) -> None:
        started.set()
        await release.wait()
        raise ConnectionResetError("the webhook hung up")

    first = asyncio.create_task(Worker(database, {"slow": slow_then_failing}).run_once())
    await asyncio.wait_for(started.wait(), 10)
    async with database.sessionmaker() as session:
        await session.execute(
            update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
        (second,) = await queue.claim(session, limit=1, lease=timedelta(seconds=60), kinds=["slow"])
    assert second.attempts == 2
    release.set()
    assert await first == 1
    (job,) = await jobs_in(database)
    assert (job.status, job.attempts, job.locked_until) == ("running", 2, second.locked_until)
    await make_due(database)
    async with database.sessionmaker() as session:
        assert (
            await queue.claim(session, limit=1, lease=timedelta(seconds=60), kinds=["slow"]) == []
        )


async def test_arch3_a_job_abandoned_on_its_last_attempt_is_failed_and_blocks_nothing(
    app: FastAPI,
) -> None:
    """Its lease ran out with no attempt left: claiming it again would break the attempts'
    bound and fail every claim, so it is marked failed and the queue moves on."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "last", {}, max_attempts=1)
        await session.commit()
        (abandoned,) = await queue.claim(
            session, limit=1, lease=timedelta(seconds=60), kinds=["last"]
        )
        queue.enqueue(session, "next", {})
        await session.commit()
        await session.execute(
            update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    ran: list[str] = []

    async def record(_: Any, __: dict[str, Any]) -> None:
        ran.append("next")

    worker = Worker(database, {"last": record, "next": record})
    with capture_logs() as logs:
        assert await worker.run_once() == 1
    assert ran == ["next"]
    # Its worker died on each attempt (a job that crashes the process): said, not only kept.
    assert [line for line in logs if line["event"] == "job_abandoned"] == [
        {
            "event": "job_abandoned",
            "log_level": "warning",
            "job_id": str(abandoned.id),
            "job_kind": "last",
            "attempts": 1,
        }
    ]
    (job,) = await jobs_in(database)
    assert job.id == abandoned.id
    assert (job.status, job.attempts, job.locked_until) == ("failed", 1, None)
    assert job.last_error == queue.ABANDONED_ERROR
    assert await worker.run_once() == 0  # kept for a human, never claimed again


async def test_arch3_a_hung_job_is_cancelled_at_its_max_run_time_and_retried(
    app: FastAPI,
) -> None:
    """A handler that never returns would hold its slot for ever, its lease kept alive by the
    heartbeat: it is cancelled at the end of its run time (JOB_MAX_RUN_SECONDS, here several
    leases long), a failed attempt."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "hung", {}, max_attempts=3)
        await session.commit()

    async def hung(_: Any, __: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    worker = Worker(database, {"hung": hung}, lease_seconds=0.6, max_run_seconds=2)
    assert await asyncio.wait_for(worker.run_once(), timeout=10) == 1
    (job,) = await jobs_in(database)
    assert (job.status, job.attempts, job.locked_until) == ("queued", 1, None)
    assert job.last_error == (
        "JobRunTimeExceededError: ran past its run time limit of 2 s (JOB_MAX_RUN_SECONDS)"
    )


async def test_arch3_a_worker_leaves_a_kind_it_has_no_handler_for(app: FastAPI) -> None:
    """An older worker, during a rolling deployment, must not spend the attempts of a job only
    the new version handles: it leaves the job queued, untouched, and runs what it knows."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "newer.kind", {})
        queue.enqueue(session, "known", {})
        await session.commit()
    ran: list[str] = []

    async def record(_: Any, __: dict[str, Any]) -> None:
        ran.append("known")

    older = Worker(database, {"known": record})
    assert await older.run_once() == 1
    assert await older.run_once() == 0
    assert ran == ["known"]
    (job,) = await jobs_in(database)
    assert (job.kind, job.status, job.attempts, job.last_error) == ("newer.kind", "queued", 0, None)


async def test_arch3_stopping_lets_the_job_in_hand_finish(app: FastAPI) -> None:
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "slow", {})
        await session.commit()
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(_: Any, __: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    worker = Worker(database, {"slow": slow}, poll_seconds=0.05, shutdown_grace_seconds=5)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), timeout=5)
    worker.stop()
    await asyncio.wait_for(running, timeout=5)
    assert finished.is_set()
    assert await jobs_in(database) == []


async def test_arch3_a_job_cut_off_by_the_grace_period_keeps_its_lease(app: FastAPI) -> None:
    """Nothing is lost: the job stays claimed, and another worker retries it after its lease."""
    database = database_of(app)
    async with database.sessionmaker() as session:
        queue.enqueue(session, "stuck", {})
        await session.commit()
    started = asyncio.Event()

    async def stuck(_: Any, __: dict[str, Any]) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes by itself

    worker = Worker(
        database,
        {"stuck": stuck},
        poll_seconds=0.05,
        lease_seconds=60,
        shutdown_grace_seconds=0.2,
    )
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), timeout=5)
    worker.stop()
    await asyncio.wait_for(running, timeout=5)

    (job,) = await jobs_in(database)
    assert (job.status, job.attempts, job.last_error) == ("running", 1, None)
    assert job.locked_until is not None
    assert job.locked_until > datetime.now(UTC) + timedelta(seconds=50)
    ran: list[str] = []

    async def record(_: Any, __: dict[str, Any]) -> None:
        ran.append("again")

    successor = Worker(database, {"stuck": record})
    assert await successor.run_once() == 0  # the lease still holds
    async with database.sessionmaker() as session:
        await session.execute(
            update(Job).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await successor.run_once() == 1
    assert ran == ["again"]


async def test_arch3_the_worker_process_runs_the_services_jobs_and_stops_on_sigterm(
    client: httpx.AsyncClient, app: FastAPI, service: Service, settings: ChassisSettings
) -> None:
    """`run_worker` (what `python -m <package> worker` runs): the service's jobs on resources of
    its own, until SIGTERM stops it cleanly."""
    worker_settings = settings.model_copy(
        update={
            "worker": settings.worker.model_copy(
                update={"poll_seconds": 0.05, "http_port": free_port()}
            )
        }
    )
    previous = signal.getsignal(signal.SIGTERM)
    running = asyncio.create_task(run_worker(service, worker_settings))
    try:
        widget = (await client.post("/v1/widgets", json={"name": "published"})).json()
        database = database_of(app)

        async def published() -> bool:
            async with database.sessionmaker() as session:
                found = await session.get(Widget, uuid.UUID(widget["id"]))
                return found is not None and found.status == "active"

        await until(published, "the worker never published the widget")
        # It handles SIGTERM by now (before it ran a job): the signal stops it, not pytest.
        assert signal.getsignal(signal.SIGTERM) is not previous
        assert await jobs_in(database) == []
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, timeout=10)  # stopped, without an error
    finally:
        if not running.done():
            running.cancel()


@pytest.fixture
def never_migrated_database(
    service: Service, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """An empty database of the example's kind: no jobs table to claim from."""
    if service.settings.database_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/never-migrated.sqlite3"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    yield url
    drop_postgres_database(admin_url, url)


async def test_arch3_a_worker_whose_claims_keep_failing_says_so_again_while_it_lasts(
    service: Service, settings: ChassisSettings, never_migrated_database: str
) -> None:
    """A database never migrated: said at once, then again each interval (a minute; here a
    fifth of a second), with what failed, so an operator tailing the log sees it lasts."""
    unmigrated = settings.model_copy(
        update={
            "database": settings.database.model_copy(
                update={"url": SecretStr(never_migrated_database)}
            )
        }
    )
    async with open_database(unmigrated, HealthRegistry()) as database:
        worker = Worker(
            database, {"any": failing}, poll_seconds=0.02, claim_failed_every_seconds=0.2
        )
        with capture_logs() as logs:
            running = asyncio.create_task(worker.run())

            async def said_twice() -> bool:
                return len([line for line in logs if line["event"] == "job_claim_failed"]) >= 2

            await until(said_twice, "job_claim_failed not said again")
            worker.stop()
            await asyncio.wait_for(running, timeout=5)
    first, second = [line for line in logs if line["event"] == "job_claim_failed"][:2]
    assert first["failures"] == 1
    assert second["failures"] > 1  # the polls in between, counted
    for line in (first, second):
        assert line["error"] in {"ProgrammingError", "OperationalError"}
        assert "jobs" in line["message"]
