"""The job worker while PostgreSQL is stopped and started again (ARCH-3, INF-1).

A claim that fails must not end the worker: the process would exit on every database restart
or failover, cancel the jobs in hand (retried only once their lease ran out) and, restarted by
the orchestrator, back off further each time. It says so at once (then once a minute while it
lasts), and claims again each poll. A job's failure it cannot record is said too, and the job
is retried once its lease runs out.
"""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from structlog.testing import capture_logs

from goldenpath_chassis import Service
from goldenpath_chassis._core import queue
from goldenpath_chassis._core.database import open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis.testing.servers import PostgresServer

pytestmark = pytest.mark.resilience


async def test_arch3_the_worker_rides_out_a_stopped_database_and_claims_again(
    postgres_service: Service, outage_database: str, postgres_server: PostgresServer
) -> None:
    settings = postgres_service.load_settings(
        app_env="test", database_url=outage_database, database_connect_timeout_seconds=1
    )
    ran = asyncio.Event()

    async def record(_: Any, __: dict[str, Any]) -> None:
        ran.set()

    async with open_database(settings, HealthRegistry()) as database:
        worker = Worker(database, {"after": record}, poll_seconds=0.05)
        with capture_logs() as logs:
            running = asyncio.create_task(worker.run())
            postgres_server.stop()
            deadline = asyncio.get_running_loop().time() + 10
            while not any(line["event"] == "job_claim_failed" for line in logs):
                assert not running.done(), running.exception()
                assert asyncio.get_running_loop().time() < deadline, logs
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # several polls on the stopped database
            assert not running.done(), running.exception()
            postgres_server.start()
            async with database.sessionmaker() as session:
                queue.enqueue(session, "after", {})
                await session.commit()
            await asyncio.wait_for(ran.wait(), timeout=10)
            worker.stop()
            await asyncio.wait_for(running, timeout=5)
    claims = [line for line in logs if line["event"].startswith("job_claim")]
    failed = claims[0]
    assert claims == [
        {
            "event": "job_claim_failed",
            "log_level": "warning",
            "error": failed["error"],
            "message": failed["message"],
            "failures": 1,
        },
        {"event": "job_claim_recovered", "log_level": "info"},
    ]
    assert failed["message"]  # what failed, not only its type


async def test_arch3_a_failure_the_worker_cannot_record_is_said_and_the_lease_retries_the_job(
    postgres_service: Service, outage_database: str, postgres_server: PostgresServer
) -> None:
    """The database stops as a job fails: recording the failure fails too. That is a warning
    of the chassis's (it escaped the job's task, where asyncio reported an exception never
    retrieved, raw), and the job, still claimed, runs again once its lease has run out."""
    settings = postgres_service.load_settings(
        app_env="test", database_url=outage_database, database_connect_timeout_seconds=1
    )
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    attempts: list[int] = []
    retried = asyncio.Event()

    async def fails_as_the_database_stops(_: Any, __: dict[str, Any]) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) > 1:
            retried.set()
            return
        await asyncio.to_thread(postgres_server.stop)
        raise ConnectionResetError("the webhook hung up")

    try:
        async with open_database(settings, HealthRegistry()) as database:
            async with database.sessionmaker() as session:
                queue.enqueue(session, "fragile", {}, max_attempts=3)
                await session.commit()
            worker = Worker(database, {"fragile": fails_as_the_database_stops}, poll_seconds=0.05)
            with capture_logs() as logs:
                running = asyncio.create_task(worker.run())
                deadline = loop.time() + 15
                while not any(line["event"] == "job_failure_not_recorded" for line in logs):
                    assert not running.done(), running.exception()
                    assert loop.time() < deadline, f"no job_failure_not_recorded: {logs}"
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(postgres_server.start)
                assert attempts == [1]  # its lease (30 s) holds it: nobody retries it yet
                async with database.sessionmaker() as session:
                    await session.execute(
                        update(queue.Job).values(
                            locked_until=datetime.now(UTC) - timedelta(seconds=1)
                        )
                    )
                    await session.commit()
                await asyncio.wait_for(retried.wait(), timeout=10)
                worker.stop()
                await asyncio.wait_for(running, timeout=5)
            del running
            gc.collect()  # a task's exception nobody retrieved is reported when it is collected
    finally:
        loop.set_exception_handler(previous_handler)
    assert unhandled == []
    assert attempts == [1, 2]
    (not_recorded,) = [line for line in logs if line["event"] == "job_failure_not_recorded"]
    assert not_recorded == {
        "event": "job_failure_not_recorded",
        "log_level": "warning",
        "job_id": not_recorded["job_id"],
        "job_kind": "fragile",
        "error": "ConnectionResetError",
        "record_error": not_recorded["record_error"],
    }
    assert [line["event"] for line in logs if line["event"].startswith("job_")][-1] == "job_done"
