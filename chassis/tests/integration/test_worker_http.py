"""OBS-1/ARCH-3: the worker's probes follow its claim loop, on a real listener and database.

Liveness is the claim loop going round: when its task dies while the event loop runs on, the
probe answers 503 once the bound has passed (and a restart brings a new loop). A worker that
stops claiming is no longer ready, but stays live while it drains. Each run is counted by its
kind and outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.api_keys.service import ApiKeyService
from goldenpath_chassis._core.attached_resources import attached_resources
from goldenpath_chassis._core.database import open_database
from goldenpath_chassis._core.metrics import Metrics
from goldenpath_chassis._core.resources import Instruments, open_resources
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis._core.worker_http import build_worker_app, liveness_bound_seconds, serving
from goldenpath_chassis.jobs import PermanentJobError, enqueue
from goldenpath_chassis.settings import ChassisSettings
from goldenpath_chassis.testing.processes import free_port

from tests.example.widgets import PUBLISH, publish_widget

pytestmark = pytest.mark.integration


@pytest.fixture
def quick(settings: ChassisSettings) -> ChassisSettings:
    """A short poll and database timeouts: a liveness bound of about a second."""
    return settings.model_copy(
        update={
            "worker": settings.worker.model_copy(
                update={"poll_seconds": 0.05, "http_port": free_port()}
            ),
            "database": settings.database.model_copy(
                update={
                    "pool_timeout_seconds": 0.2,
                    "connect_timeout_seconds": 0.2,
                    "statement_timeout_ms": 200,
                }
            ),
        }
    )


@pytest.fixture
async def served(
    service: Service, quick: ChassisSettings
) -> AsyncIterator[tuple[Worker, httpx.AsyncClient]]:
    """A worker, not yet running, and a client of its listener."""
    instruments = Instruments.build(quick, service_version=service.version)
    async with open_database(quick, instruments.health) as database:
        worker = Worker(database, {PUBLISH: publish_widget}, poll_seconds=0.05)
        app = build_worker_app(service, quick, instruments, worker)
        base_url = f"http://127.0.0.1:{quick.worker.http_port}"
        async with serving(app, quick), httpx.AsyncClient(base_url=base_url) as client:
            yield worker, client


async def status_becomes(
    client: httpx.AsyncClient, path: str, status: int, *, within: float
) -> float:
    """Poll `path` until it answers `status`; return when it did (the loop's time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (await client.get(path)).status_code != status:
        assert loop.time() < deadline, f"{path} never answered {status}"
        await asyncio.sleep(0.02)
    return loop.time()


async def test_obs1_liveness_fails_once_the_claim_loop_task_is_dead(
    served: tuple[Worker, httpx.AsyncClient], quick: ChassisSettings
) -> None:
    worker, client = served
    assert (await client.get("/health/live")).status_code == 503  # not going round yet
    claiming = asyncio.create_task(worker.run())
    try:
        await status_becomes(client, "/health/live", 200, within=5)
        assert (await client.get("/health/ready")).status_code == 200
    finally:
        claiming.cancel()  # the claim loop's task dies; the event loop and listener run on
        await asyncio.wait([claiming])
    died = asyncio.get_running_loop().time()
    bound = liveness_bound_seconds(quick)
    failed = await status_becomes(client, "/health/live", 503, within=bound + 5)
    assert failed - died >= bound / 2  # live while within the bound, not failed at once
    assert (await client.get("/health/live")).json() == {"status": "stalled"}


async def test_obs1_a_stopping_worker_is_not_ready_but_stays_live(
    served: tuple[Worker, httpx.AsyncClient], quick: ChassisSettings
) -> None:
    worker, client = served
    claiming = asyncio.create_task(worker.run())
    await status_becomes(client, "/health/ready", 200, within=5)
    worker.stop()
    await asyncio.wait_for(claiming, timeout=5)
    assert (await client.get("/health/ready")).status_code == 503
    # Past the bound, as a long drain would be: still live.
    await asyncio.sleep(liveness_bound_seconds(quick))
    assert (await client.get("/health/live")).status_code == 200


async def test_obs1_job_runs_are_counted_by_kind_and_outcome(
    app: FastAPI, service: Service
) -> None:
    """A retried, a failed (permanently) and a succeeded run, each under its kind."""
    database = chassis_of(app).resources.database
    metrics = Metrics(service_name="example", service_version=service.version)

    async def fails(_: AsyncSession, payload: dict[str, Any]) -> None:
        raise RuntimeError("the receiver is down")

    async def never(_: AsyncSession, payload: dict[str, Any]) -> None:
        raise PermanentJobError("a payload of a shape no longer read")

    async def works(_: AsyncSession, payload: dict[str, Any]) -> None:
        return None

    handlers = {"test.fails": fails, "test.never": never, "test.works": works}
    async with database.sessionmaker() as session:
        for kind in handlers:
            enqueue(session, kind, {}, max_attempts=2)
        await session.commit()
    worker = Worker(database, handlers, metrics=metrics)
    assert await worker.run_once() == 3

    def runs(kind: str, outcome: str) -> float | None:
        return metrics.registry.get_sample_value(
            "job_runs_total", {"kind": kind, "outcome": outcome}
        )

    assert runs("test.fails", "retried") == 1
    assert runs("test.never", "failed") == 1
    assert runs("test.works", "succeeded") == 1
    assert runs("test.works", "failed") is None
    for kind in handlers:
        count = metrics.registry.get_sample_value("job_run_duration_seconds_count", {"kind": kind})
        assert count == 1


async def test_obs1_a_scrape_the_database_cannot_serve_is_a_503_problem(
    app: FastAPI, service: Service, quick: ChassisSettings
) -> None:
    """An API key's lookup finds the worker's pool taken (its jobs hold every connection): the
    scrape is answered as the API answers it, 503 database-unavailable, not a bare 500 with a
    traceback in the worker's log."""
    async with chassis_of(app).resources.database.sessionmaker() as session:
        _, key = await ApiKeyService(session, declared_scopes=service.scopes).create(
            name="prometheus", scopes=["metrics:read"]
        )
    one_connection = quick.model_copy(
        update={"database": quick.database.model_copy(update={"pool_size": 1, "max_overflow": 0})}
    )
    instruments = Instruments.build(one_connection, service_version=service.version)
    async with open_resources(
        one_connection, service_version=service.version, instruments=instruments
    ) as resources:
        worker = Worker(resources.database, {PUBLISH: publish_widget})
        listener = build_worker_app(service, one_connection, instruments, worker)
        base_url = f"http://127.0.0.1:{one_connection.worker.http_port}"
        async with (
            attached_resources(listener, one_connection, resources),
            serving(listener, one_connection),
            httpx.AsyncClient(base_url=base_url) as client,
            resources.database.engine.connect() as held,  # the pool's only connection
        ):
            await held.execute(text("SELECT 1"))
            scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert scrape.status_code == 503
    assert scrape.headers["content-type"].startswith("application/problem+json")
    assert scrape.json()["type"].endswith("database-unavailable")
