"""TEST-2: the load scenario. Each simulated user works on the example resource like a client:
it creates an item, then mostly reads items, lists a page now and then, creates more, and
changes its own item with `If-Match` (so users never conflict with one another).

Headless, with thresholds: `uv run python -m tests.load.run` (see tests/load/run.py).
Locust's web UI against any URL: `uv run locust -f tests/load/locustfile.py --host URL`.
Headers for every request (credentials, say) come from `LOAD_HEADERS`, a JSON object;
`LOAD_WAIT_FOR=/health/live` makes the run wait until a target that is starting answers.

Request names are route templates, so statistics group by route, not by item.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.request
import uuid
from typing import Any

import gevent
from locust import FastHttpUser, between, events, task
from locust.env import Environment

HEADERS: dict[str, str] = json.loads(os.environ.get("LOAD_HEADERS") or "{}")
ITEMS = "/v1/items"
ONE_ITEM = "/v1/items/{item_id}"
KNOWN_ITEMS_PER_USER = 50
WAIT_FOR_TARGET_SECONDS = 120


def _prepare(environment: Environment, **_: Any) -> None:
    """Before the run (and its `--run-time` timer) starts: wait for a target that is still
    starting, when asked to (`LOAD_WAIT_FOR`, a path such as /health/live), then refresh the
    event loop's clock."""
    path = os.environ.get("LOAD_WAIT_FOR")
    deadline = time.monotonic() + WAIT_FOR_TARGET_SECONDS
    while path:
        try:
            # The URL is the load target's, from the command line.
            with urllib.request.urlopen(f"{environment.host}{path}", timeout=1):  # noqa: S310
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{environment.host}{path} did not answer") from None
            time.sleep(0.1)
    # gevent's loop caches "now" and has not run since Locust started importing; on a slow
    # machine that clock is seconds old, and `--run-time` (scheduled right after this event)
    # would end the run before a single request. Bring the clock up to date.
    gevent.get_hub().loop.update_now()


events.init.add_listener(_prepare)  # type: ignore[no-untyped-call]


class ItemsUser(FastHttpUser):
    wait_time = between(0.01, 0.1)

    def on_start(self) -> None:
        self.known_ids: list[str] = []
        self.own_id: str | None = None
        self.own_etag = ""
        created = self._create()
        if created is not None:
            self.own_id, self.own_etag = created

    def _create(self) -> tuple[str, str] | None:
        data = {"name": f"load {uuid.uuid4().hex}", "price_cents": random.randint(0, 100_000)}
        with self.client.post(
            ITEMS, json=data, headers=HEADERS, name=ITEMS, catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
                return None
            item_id: str = response.json()["id"]
            self.known_ids = [*self.known_ids[-KNOWN_ITEMS_PER_USER + 1 :], item_id]
            return item_id, response.headers["ETag"]

    @task(6)
    def read_one(self) -> None:
        if not self.known_ids:
            return
        item_id = random.choice(self.known_ids)
        with self.client.get(
            f"{ITEMS}/{item_id}", headers=HEADERS, name=ONE_ITEM, catch_response=True
        ) as response:
            if response.status_code != 200 or response.json()["id"] != item_id:
                response.failure(f"expected item {item_id}, got {response.status_code}")

    @task(2)
    def list_page(self) -> None:
        with self.client.get(
            f"{ITEMS}?limit=20", headers=HEADERS, name=ITEMS, catch_response=True
        ) as response:
            if response.status_code != 200 or not isinstance(response.json().get("items"), list):
                response.failure(f"expected a page, got {response.status_code}")

    @task(2)
    def create(self) -> None:
        self._create()

    @task(2)
    def change_own(self) -> None:
        if self.own_id is None:
            return
        with self.client.patch(
            f"{ITEMS}/{self.own_id}",
            json={"price_cents": random.randint(0, 100_000)},
            headers={**HEADERS, "If-Match": self.own_etag},
            name=ONE_ITEM,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"expected 200, got {response.status_code}")
                return
            self.own_etag = response.headers["ETag"]
