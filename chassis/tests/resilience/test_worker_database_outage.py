"""The job worker while PostgreSQL is stopped and started again (ARCH-3, INF-1).

A claim that fails must not end the worker: the process would exit on every database restart
or failover, cancel the jobs in hand (retried only once their lease ran out) and, restarted by
the orchestrator, back off further each time. It says so once, and claims again each poll.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
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

    try:
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
    finally:
        if not postgres_server.data.joinpath("postmaster.pid").exists():
            postgres_server.start()  # a failed test must not leave PostgreSQL down
    claims = [line for line in logs if line["event"].startswith("job_claim")]
    assert claims == [
        {"event": "job_claim_failed", "log_level": "warning", "error": claims[0]["error"]},
        {"event": "job_claim_recovered", "log_level": "info"},
    ]
