"""RES-1/RES-2 in use: the worker delivers item events to a real, flaky receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from {{ package_name }}.app import create_app
from {{ package_name }}.core.database import Database
from {{ package_name }}.core.queue import Job
from {{ package_name }}.core.settings import Settings, load_settings
from {{ package_name }}.core.webhooks import DELIVER_WEBHOOK, signature, webhook_handlers
from {{ package_name }}.core.worker import Worker
from {{ package_name }}.jobs import HANDLERS

from tests.support.asgi import asgi_client
from tests.support.databases import delete_all_rows
from tests.support.flaky_server import FlakyServer, Respond, flaky_server

pytestmark = pytest.mark.integration

SECRET = "whsec-test-secret"


@pytest.fixture
def receiver() -> Iterator[FlakyServer]:
    with flaky_server() as server:
        yield server


@pytest.fixture
def webhook_settings(
    receiver: FlakyServer, database_url: str, auth_settings: dict[str, str]
) -> Settings:
    return load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        webhook_url=receiver.url + "/hooks/orders",
        webhook_secret=SECRET,
        http_retry_attempts=2,
        http_retry_deadline_seconds=3,
    )


@pytest.fixture
async def webhook_app(webhook_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(webhook_settings)
    async with LifespanManager(application):
        yield application
        database: Database = application.state.database
        await delete_all_rows(database.engine)


def worker_for(app: FastAPI, settings: Settings) -> Worker:
    handlers = {**HANDLERS, **webhook_handlers(app.state.http, settings)}
    return Worker(app.state.database, handlers, cache=app.state.cache)


async def create_item(app: FastAPI, name: str, headers: dict[str, str]) -> dict[str, object]:
    async with asgi_client(app, headers=headers) as client:
        response = await client.post("/v1/items", json={"name": name})
    assert response.status_code == 201
    item: dict[str, object] = response.json()
    return item


async def webhook_jobs(app: FastAPI) -> list[Job]:
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        found = await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK))
        return list(found.all())


async def test_res2_a_created_item_is_announced_once_signed_and_idempotent(
    webhook_app: FastAPI,
    webhook_settings: Settings,
    receiver: FlakyServer,
    auth_headers: dict[str, str],
) -> None:
    item = await create_item(webhook_app, "Announced", auth_headers)
    assert len(await webhook_jobs(webhook_app)) == 1  # enqueued with the item, atomically
    receiver.then(Respond(503))  # one transient failure: retried within the same job run
    assert await worker_for(webhook_app, webhook_settings).run_once() == 2

    posts = [a for a in receiver.arrivals if a.method == "POST"]
    assert len(posts) == 2
    delivered = posts[-1]
    assert delivered.path == "/hooks/orders"
    event = json.loads(delivered.body)
    assert event["type"] == "item.created"
    assert event["data"]["id"] == item["id"]
    headers = {name.lower(): value for name, value in delivered.headers.items()}
    assert headers["webhook-id"] == event["id"] == headers["idempotency-key"]
    assert {posts[0].headers["webhook-id"]} == {event["id"]}  # the retry is the same event
    expected = signature(SECRET, event["id"], int(headers["webhook-timestamp"]), delivered.body)
    assert headers["webhook-signature"] == expected
    assert await webhook_jobs(webhook_app) == []  # delivered: the job is gone


async def test_res1_a_receiver_that_stays_down_fails_the_job_for_a_later_retry(
    webhook_app: FastAPI,
    webhook_settings: Settings,
    receiver: FlakyServer,
    auth_headers: dict[str, str],
) -> None:
    receiver.always(Respond(503))
    await create_item(webhook_app, "Unlucky", auth_headers)
    await worker_for(webhook_app, webhook_settings).run_once()
    [job] = await webhook_jobs(webhook_app)
    assert job.status == "queued"  # kept, and scheduled again with the queue's backoff
    assert job.attempts == 1
    assert job.last_error is not None
    assert "503" in job.last_error


async def test_res1_without_a_webhook_url_nothing_is_enqueued(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.post("/v1/items", json={"name": "Quiet"})).status_code == 201
    assert await webhook_jobs(app) == []
