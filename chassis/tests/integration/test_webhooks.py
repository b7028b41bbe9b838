"""RES-1/RES-2 in use: the worker delivers widget events to a real, flaky receiver on loopback.

The example service enqueues a `widget.created` webhook with each widget it creates, in the same
transaction, when WEBHOOK_URL is set.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.queue import Job
from goldenpath_chassis._core.webhooks import DELIVER_WEBHOOK, signature, webhook_handlers
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis.settings import ChassisSettings
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.databases import delete_all_rows

from tests.support.flaky_server import FlakyServer, Respond, flaky_server
from tests.support.unbounded_server import unbounded_server
from tests.support.verifying_receiver import VerifyingReceiver, verifying_receiver

pytestmark = pytest.mark.integration

SECRET = "whsec-test-secret-of-32-characters"


@pytest.fixture
def receiver() -> Iterator[FlakyServer]:
    with flaky_server() as server:
        yield server


@pytest.fixture
def webhook_settings(
    service: Service, receiver: FlakyServer, database_url: str, auth_settings: dict[str, str]
) -> ChassisSettings:
    return service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        webhook_url=receiver.url + "/hooks/widgets",
        webhook_secret=SECRET,
        http_retry_attempts=2,
        http_retry_deadline_seconds=3,
    )


@pytest.fixture
async def webhook_app(
    service: Service, webhook_settings: ChassisSettings
) -> AsyncIterator[FastAPI]:
    application = service.create_app(webhook_settings)
    async with LifespanManager(application):
        yield application
        await delete_all_rows(service, chassis_of(application).resources.database.engine)


def worker_for(app: FastAPI, service: Service, settings: ChassisSettings) -> Worker:
    """The worker as its process builds it: the service's jobs and the webhook delivery."""
    resources = chassis_of(app).resources
    handlers = {**service.jobs, **webhook_handlers(resources.http, settings)}
    return Worker(resources.database, handlers, cache=resources.cache)


async def create_widget(app: FastAPI, name: str, headers: dict[str, str]) -> dict[str, object]:
    async with asgi_client(app, headers=headers) as client:
        response = await client.post("/v1/widgets", json={"name": name})
    assert response.status_code == 201
    widget: dict[str, object] = response.json()
    return widget


async def webhook_jobs(app: FastAPI) -> list[Job]:
    database = chassis_of(app).resources.database
    async with database.sessionmaker() as session:
        found = await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK))
        return list(found.all())


async def test_res2_a_created_widget_is_announced_once_signed_and_idempotent(
    webhook_app: FastAPI,
    service: Service,
    webhook_settings: ChassisSettings,
    receiver: FlakyServer,
    auth_headers: dict[str, str],
) -> None:
    widget = await create_widget(webhook_app, "Announced", auth_headers)
    assert len(await webhook_jobs(webhook_app)) == 1  # enqueued with the widget, atomically
    receiver.then(Respond(503))  # one transient failure: retried within the same job run
    # Two jobs: the widget's publication and its webhook.
    assert await worker_for(webhook_app, service, webhook_settings).run_once() == 2

    posts = [a for a in receiver.arrivals if a.method == "POST"]
    assert len(posts) == 2
    delivered = posts[-1]
    assert delivered.path == "/hooks/widgets"
    event = json.loads(delivered.body)
    assert event["type"] == "widget.created"
    assert event["data"]["id"] == widget["id"]
    assert event["data"]["name"] == "Announced"
    headers = {name.lower(): value for name, value in delivered.headers.items()}
    assert headers["webhook-id"] == event["id"] == headers["idempotency-key"]
    assert {posts[0].headers["webhook-id"]} == {event["id"]}  # the retry is the same event
    # A secret without the whsec_ prefix keys the HMAC with its own bytes, as it always did.
    timestamp = int(headers["webhook-timestamp"])
    expected = signature(SECRET.encode(), event["id"], timestamp, delivered.body)
    assert headers["webhook-signature"] == expected
    assert await webhook_jobs(webhook_app) == []  # delivered: the job is gone


async def test_res2_a_refused_write_announces_nothing(
    webhook_app: FastAPI, auth_headers: dict[str, str]
) -> None:
    await create_widget(webhook_app, "Twin", auth_headers)
    async with asgi_client(webhook_app, headers=auth_headers) as client:
        refused = await client.post("/v1/widgets", json={"name": "Twin"})
    assert refused.status_code == 409
    [job] = await webhook_jobs(webhook_app)  # the first widget's only: rolled back together
    assert job.payload["data"]["name"] == "Twin"


async def test_res1_a_receiver_that_stays_down_fails_the_job_for_a_later_retry(
    webhook_app: FastAPI,
    service: Service,
    webhook_settings: ChassisSettings,
    receiver: FlakyServer,
    auth_headers: dict[str, str],
) -> None:
    receiver.always(Respond(503))
    await create_widget(webhook_app, "Unlucky", auth_headers)
    await worker_for(webhook_app, service, webhook_settings).run_once()
    [job] = await webhook_jobs(webhook_app)
    assert job.status == "queued"  # kept, and scheduled again with the queue's backoff
    assert job.attempts == 1
    assert job.last_error is not None
    assert "503" in job.last_error


async def test_res1_without_a_webhook_url_nothing_is_enqueued(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.post("/v1/widgets", json={"name": "Quiet"})).status_code == 201
    assert await webhook_jobs(app) == []


async def test_res1_a_receiver_answering_without_end_fails_the_job_unread(
    service: Service, database_url: str, auth_settings: dict[str, str], auth_headers: dict[str, str]
) -> None:
    """The receiver is another party's: an answer it never ends is read up to
    HTTP_MAX_RESPONSE_BYTES, and the delivery fails for a later retry, the worker's memory
    whole."""
    with unbounded_server() as receiver:
        settings = service.load_settings(
            **auth_settings,
            app_env="test",
            database_url=database_url,
            webhook_url=receiver.url,
            http_max_response_bytes=65536,
        )
        application = service.create_app(settings)
        async with LifespanManager(application):
            await create_widget(application, "Answered at length", auth_headers)
            await worker_for(application, service, settings).run_once()
            receiver.wait_done()
            [job] = await webhook_jobs(application)
            await delete_all_rows(service, chassis_of(application).resources.database.engine)
    assert not receiver.completed
    assert job.status == "queued"
    assert job.last_error is not None
    assert "over 65536 bytes" in job.last_error


# --- Standard Webhooks secrets, verified by the spec's own library ------------------------------
def whsec(key: bytes) -> str:
    """A secret as the spec serializes it."""
    return "whsec_" + base64.b64encode(key).decode()


NEW_SECRET = whsec(b"the new key, thirty-two bytes!!!")
OLD_SECRET = whsec(b"the old key: twenty-four")
LEGACY_SECRET = "a secret from before whsec_, 32+ characters"


class DeliverOne(Protocol):
    async def __call__(self, receiver: VerifyingReceiver, **webhook_secrets: str) -> list[Job]: ...


@pytest.fixture
def deliver_one(
    service: Service, database_url: str, auth_settings: dict[str, str], auth_headers: dict[str, str]
) -> DeliverOne:
    """Create a widget with its webhook going to `receiver` signed with `webhook_secrets`, and run
    the worker once; the webhook jobs left (none: the receiver took the delivery)."""

    async def deliver(receiver: VerifyingReceiver, **webhook_secrets: str) -> list[Job]:
        settings = service.load_settings(
            **auth_settings,
            app_env="test",
            database_url=database_url,
            webhook_url=receiver.url,
            **webhook_secrets,
        )
        application = service.create_app(settings)
        async with LifespanManager(application):
            await create_widget(application, "Verified", auth_headers)
            await worker_for(application, service, settings).run_once()
            left = await webhook_jobs(application)
            await delete_all_rows(service, chassis_of(application).resources.database.engine)
        return left

    return deliver


async def test_res2_a_whsec_secret_signs_as_the_official_library_verifies(
    deliver_one: DeliverOne,
) -> None:
    """The library decodes a whsec_ secret's base64 before it signs; so must we, or a receiver
    given the same string rejects every event."""
    with verifying_receiver(NEW_SECRET) as receiver:
        left = await deliver_one(receiver, webhook_secret=NEW_SECRET)
    assert receiver.verdicts == [True]
    assert left == []


async def test_res2_a_secret_without_the_prefix_verifies_as_its_own_bytes(
    deliver_one: DeliverOne,
) -> None:
    """A deployment from before keeps its receivers: the library given the secret's bytes."""
    with verifying_receiver(LEGACY_SECRET.encode()) as receiver:
        left = await deliver_one(receiver, webhook_secret=LEGACY_SECRET)
    assert receiver.verdicts == [True]
    assert left == []


@pytest.mark.parametrize(
    ("previous", "receivers_secret", "verified"),
    [
        (OLD_SECRET, NEW_SECRET, True),  # a receiver switched to the new secret
        (OLD_SECRET, OLD_SECRET, True),  # one not switched yet
        (LEGACY_SECRET, LEGACY_SECRET.encode(), True),  # from a secret without the prefix
        (LEGACY_SECRET, NEW_SECRET, True),
        (OLD_SECRET, whsec(b"some other key, neither of them"), False),
    ],
    ids=["new", "old", "legacy-old", "legacy-new", "neither"],
)
async def test_res2_during_a_rotation_a_receiver_on_either_secret_verifies(
    deliver_one: DeliverOne, previous: str, receivers_secret: str | bytes, verified: bool
) -> None:
    """WEBHOOK_SECRET_PREVIOUS adds a second signature (the spec's space-separated list), so the
    receiver switches secrets whenever it likes, with no event refused."""
    with verifying_receiver(receivers_secret) as receiver:
        left = await deliver_one(
            receiver, webhook_secret=NEW_SECRET, webhook_secret_previous=previous
        )
    assert receiver.verdicts == [verified]
    assert len(left) == (0 if verified else 1)
    [header] = receiver.signature_headers
    assert [part.split(",")[0] for part in header.split(" ")] == ["v1", "v1"]
