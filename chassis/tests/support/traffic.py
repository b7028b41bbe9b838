"""Client traffic for the reliability tests: many concurrent clients working on the example
service's widgets, with every request recorded (when it started and ended, how it was answered,
which replica answered it) so a test can account for each one.

Each request carries its own `X-Request-ID`, so a test can also match the client's view with
the service's access log: what the service accepted, not what the client guessed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# What a client sees when a service is gone or going: the connection is refused, or a kept-alive
# connection is closed before the request on it was read. Never an answer.
REFUSALS = frozenset({"ConnectError", "RemoteProtocolError", "ReadError"})


@dataclass
class Attempt:
    request_id: str
    kind: str
    started: float
    ended: float = 0.0
    status: int | None = None
    error: str | None = None
    upstream: str | None = None  # the replica that answered, as the proxy reports it
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Traffic:
    """Clients that create, read and list widgets until told to stop."""

    client: httpx.AsyncClient
    label: str
    warm_up_requests: int = 100
    think_seconds: float = 0.0  # between one client's rounds: steady load, not a saturated CPU
    attempts: list[Attempt] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    warmed_up: asyncio.Event = field(default_factory=asyncio.Event)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        json: object = None,
        params: dict[str, Any] | None = None,
    ) -> Attempt:
        attempt = Attempt(f"{self.label}-{next(self._numbers):06d}", kind, time.monotonic())
        self.attempts.append(attempt)
        headers = {"X-Request-ID": attempt.request_id}
        try:
            response = await self.client.request(
                method, url, headers=headers, json=json, params=params
            )
            attempt.status = response.status_code
            attempt.upstream = response.headers.get("x-upstream")
            if response.headers.get("content-type", "").startswith("application/json"):
                attempt.body = response.json()
            if len(self.attempts) >= self.warm_up_requests:
                self.warmed_up.set()
        except httpx.TransportError as error:
            attempt.error = type(error).__name__
        attempt.ended = time.monotonic()
        return attempt

    async def client_loop(self) -> None:
        """One client: create a widget, read it back, list a page; again, until `stop`."""
        widget_id: object = None
        while not self.stop.is_set():
            name = f"{self.label} {len(self.attempts)}"
            created = await self.send("create", "POST", "/v1/widgets", json={"name": name})
            widget_id = created.body.get("id", widget_id)
            if widget_id is not None:
                await self.send("read", "GET", f"/v1/widgets/{widget_id}")
            listed = await self.send("list", "GET", "/v1/widgets", params={"limit": 5})
            if listed.error is not None:
                await asyncio.sleep(0.1)  # refused: back off a little, as a client would
            elif self.think_seconds:
                await asyncio.sleep(self.think_seconds)

    def run(self, clients: int) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self.client_loop()) for _ in range(clients)]

    def created_names(self) -> set[str]:
        """The names of the widgets whose creation was answered 201: what must be stored."""
        return {
            str(a.body["name"]) for a in self.attempts if a.kind == "create" and a.status == 201
        }


def accepted_by_service(output: str) -> dict[str, int]:
    """Request ID -> status, for every request a service's access log says it answered."""
    accepted = {}
    for line in output.splitlines():
        if '"event":"request"' in line:
            record = json.loads(line)
            accepted[record["request_id"]] = record["status"]
    return accepted


async def stored_widget_names(database_url: str, label: str) -> set[str]:
    """The names of the widgets a `Traffic` with this label created, read from the database."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            query = text("SELECT name FROM widgets WHERE name LIKE :prefix")
            rows = await connection.execute(query, {"prefix": f"{label} %"})
            return {row.name for row in rows}
    finally:
        await engine.dispose()
