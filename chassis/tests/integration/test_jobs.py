"""ARCH-3: jobs commit with the business write, run once, retry with backoff, survive workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from {{ package_name }}.core import queue
from {{ package_name }}.core.database import Database
from {{ package_name }}.core.queue import Job
from {{ package_name }}.core.worker import Worker
from {{ package_name }}.items.jobs import PUBLISH_ITEM
from {{ package_name }}.items.models import Item
from {{ package_name }}.jobs import HANDLERS

pytestmark = [pytest.mark.integration, pytest.mark.database]


async def jobs_in(database: Database) -> list[Job]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(Job))).all())


async def test_arch3_creating_an_item_enqueues_its_job(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = (await client.post("/v1/items", json={"name": "queued"})).json()
    jobs = await jobs_in(app.state.database)
    assert [(job.kind, job.payload, job.status) for job in jobs] == [
        (PUBLISH_ITEM, {"item_id": item["id"]}, "queued")
    ]


async def test_arch3_a_refused_write_enqueues_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.post("/v1/items", json={"name": "twin"})
    refused = await client.post("/v1/items", json={"name": "twin"})
    assert refused.status_code == 409
    assert len(await jobs_in(app.state.database)) == 1


async def test_arch3_a_rolled_back_transaction_leaves_no_job(app: FastAPI) -> None:
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        session.add(Item(name="never", version=1))
        queue.enqueue(session, PUBLISH_ITEM, {"item_id": "x"})
        await session.flush()
        await session.rollback()
    assert await jobs_in(database) == []


async def test_arch3_the_worker_publishes_the_item_and_removes_the_job(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = (await client.post("/v1/items", json={"name": "to publish"})).json()
    worker = Worker(app.state.database, HANDLERS)
    assert await worker.run_once() == 1
    assert (await client.get(f"/v1/items/{item['id']}")).json()["status"] == "active"
    assert await jobs_in(app.state.database) == []
    assert await worker.run_once() == 0  # nothing runs twice


async def test_arch3_a_job_for_a_deleted_item_completes_quietly(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = (await client.post("/v1/items", json={"name": "gone soon"})).json()
    await client.delete(f"/v1/items/{item['id']}")
    assert await Worker(app.state.database, HANDLERS).run_once() == 1
    assert await jobs_in(app.state.database) == []


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
    database: Database = app.state.database
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


async def test_arch3_a_job_whose_worker_died_is_retried_after_its_lease(app: FastAPI) -> None:
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        queue.enqueue(session, "slow", {})
        await session.commit()
        claimed = await queue.claim(session, limit=1, lease=timedelta(seconds=60))
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


async def test_arch3_stopping_lets_the_job_in_hand_finish(app: FastAPI) -> None:
    database: Database = app.state.database
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
