"""ARCH-3/PERF-1 for items: the publish job, the `item.created` webhook, and the item cache.

How jobs are queued, claimed and retried, and how the cache works, is the chassis's (tested
there). What is the items domain's own: creating an item queues its publish job (and a webhook
event when WEBHOOK_URL is set) in the same transaction, the job publishes the item, and every
path that changes an item (create, update, delete, the job) invalidates its cached copy and its
owner's cached list pages, so no write is followed by a stale read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.databases import delete_all_rows
from goldenpath_chassis.testing.jobs import run_due_jobs
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from sqlalchemy import func, select

pytestmark = [pytest.mark.integration, pytest.mark.database]

Json = dict[str, Any]


def cache_count(app: FastAPI, outcome: str, cache: str = "items") -> float:
    registry = chassis_of(app).resources.metrics.registry
    found = registry.get_sample_value(f"cache_{outcome}_total", {"cache": cache})
    return found or 0.0


async def listed(client: httpx.AsyncClient) -> dict[str, Json]:
    response = await client.get("/v1/items")
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


async def queued_jobs(app: FastAPI) -> int:
    jobs = chassis_of(app).service.metadata.tables["jobs"]
    async with chassis_of(app).resources.database.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(jobs))).scalar_one())


async def create(client: httpx.AsyncClient, name: str) -> Json:
    response = await client.post("/v1/items", json={"name": name})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def test_arch3_a_new_item_is_published_by_its_job(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Pending")
    assert item["status"] == "pending"
    assert await queued_jobs(app) == 1
    url = f"/v1/items/{item['id']}"
    assert (await client.get(url)).json()["status"] == "pending"  # now cached
    assert (await client.get(url)).json()["status"] == "pending"
    assert cache_count(app, "hits") == 1

    assert await run_due_jobs(app) == 1

    published = await client.get(url)
    assert published.json()["status"] == "active"  # the job's change invalidated the cache
    assert published.json()["version"] == 2
    assert await queued_jobs(app) == 0


async def test_arch3_the_job_of_an_item_deleted_meanwhile_does_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Short-lived")
    assert (await client.delete(f"/v1/items/{item['id']}")).status_code == 204
    assert await run_due_jobs(app) == 1
    assert await queued_jobs(app) == 0  # done, not failed and waiting for a retry
    assert (await client.get(f"/v1/items/{item['id']}")).status_code == 404


async def test_perf1_updates_and_deletes_are_never_followed_by_a_stale_read(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Before")
    url = f"/v1/items/{item['id']}"
    assert (await client.get(url)).json()["name"] == "Before"  # now cached
    for name in ("After", "Later"):
        changed = await client.patch(url, json={"name": name})
        assert changed.status_code == 200
        read = await client.get(url)
        assert read.json()["name"] == name
        assert read.headers["etag"] == changed.headers["etag"]
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    # The first read and the one after each write (two changes, the delete) were misses.
    assert cache_count(app, "misses") == 4


@pytest.fixture
async def user_client(app: FastAPI, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A user's client: an admin's list holds every owner's items, and is never cached."""
    scopes = ("items:read", "items:write")
    async with asgi_client(app, headers=tokens.headers(*scopes, subject="lister")) as client:
        yield client


async def test_perf1_every_write_is_seen_by_the_next_list(
    user_client: httpx.AsyncClient, app: FastAPI
) -> None:
    client = user_client
    assert await listed(client) == {}
    assert await listed(client) == {}  # an empty page is cached too
    item = await create(client, "Listed")  # create
    url = f"/v1/items/{item['id']}"
    assert (await listed(client))[item["id"]]["name"] == "Listed"
    assert (await listed(client))[item["id"]]["status"] == "pending"
    assert cache_count(app, "hits", "item-pages") == 2
    assert await run_due_jobs(app) == 1  # the publish job
    assert (await listed(client))[item["id"]]["status"] == "active"
    assert (await client.patch(url, json={"name": "Renamed"})).status_code == 200  # update
    assert (await listed(client))[item["id"]]["name"] == "Renamed"
    assert (await client.delete(url)).status_code == 204  # delete
    assert await listed(client) == {}
    # The first read and the one after each of the four writes missed; the rest hit.
    assert cache_count(app, "misses", "item-pages") == 5


async def test_perf1_a_refused_write_leaves_the_cached_item_as_it_is(
    client: httpx.AsyncClient,
) -> None:
    item = await create(client, "Stays")
    await create(client, "Taken")
    url = f"/v1/items/{item['id']}"
    await client.get(url)
    assert (await client.patch(url, json={"name": "Taken"})).status_code == 409
    assert (await client.get(url)).json()["name"] == "Stays"


# --- The item.created webhook -------------------------------------------------------------------


class Receiver:
    """A partner's endpoint on loopback: it keeps every event POSTed to it."""

    def __init__(self) -> None:
        self.events: list[Json] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def partner() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with loopback_http_server(receiver.handler()) as server:
        host, port = server.server_address[:2]
        yield receiver, f"http://{host!s}:{port}/hooks"


@pytest.fixture
async def webhook_app(
    service: Service,
    database_url: str,
    auth_settings: dict[str, str],
    partner: tuple[Receiver, str],
) -> AsyncIterator[FastAPI]:
    settings = service.load_settings(
        app_env="test", database_url=database_url, webhook_url=partner[1], **auth_settings
    )
    app = service.create_app(settings)
    async with asgi_client(app, lifespan=True):
        yield app
        await delete_all_rows(service, chassis_of(app).resources.database.engine)


async def test_arch3_a_new_item_is_announced_to_the_webhook(
    webhook_app: FastAPI, partner: tuple[Receiver, str], auth_headers: dict[str, str]
) -> None:
    receiver, _ = partner
    async with asgi_client(webhook_app, headers=auth_headers) as client:
        item = await create(client, "Announced")
        assert await queued_jobs(webhook_app) == 2  # its publish job and its event
        assert await run_due_jobs(webhook_app) == 2
    assert [event["type"] for event in receiver.events] == ["item.created"]
    assert receiver.events[0]["data"] == item
