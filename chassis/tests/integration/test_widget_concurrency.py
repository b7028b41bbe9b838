"""DB-3 on the example's widgets: a write overtaken by another between its read and its write is
a 409 problem, as the template's items answer, never a 500 and never a silent overwrite; the
write that won is what the table holds.

Each race is made to happen, not hoped for: the first request is held just before its
UPDATE or DELETE reaches PostgreSQL, the second runs to its end, then the first goes on.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from goldenpath_chassis import chassis_of
from goldenpath_chassis.testing.races import overtaken

from tests.example.widgets import Widget

pytestmark = pytest.mark.integration

Json = dict[str, Any]


async def stored(engine: AsyncEngine, widget_id: str) -> tuple[int, int] | None:
    """The widget's price and version as the table holds them, or None if it is gone."""
    query = select(Widget.price_cents, Widget.version).where(Widget.id == uuid.UUID(widget_id))
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one_or_none()
    return None if row is None else (row.price_cents, row.version)


def assert_concurrent_update_problem(response: httpx.Response, widget_id: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:problem-type:widget-concurrent-update"
    assert problem["title"] == "Widget changed concurrently"
    assert problem["status"] == 409
    assert widget_id in problem["detail"]


@pytest.fixture
def engine(app: FastAPI) -> AsyncEngine:
    return chassis_of(app).resources.database.engine


@pytest.fixture
async def widget(client: httpx.AsyncClient) -> Json:
    response = await client.post("/v1/widgets", json={"name": "Contended", "price_cents": 1})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def test_db3_a_patch_overtaken_by_a_patch_is_a_409_and_the_winner_is_kept(
    client: httpx.AsyncClient, engine: AsyncEngine, widget: Json
) -> None:
    url = f"/v1/widgets/{widget['id']}"
    late, winner = await overtaken(
        engine,
        "UPDATE widgets",
        client.patch(url, json={"price_cents": 10}),
        client.patch(url, json={"price_cents": 20}),
    )
    assert winner.status_code == 200, winner.text
    assert_concurrent_update_problem(late, widget["id"])
    assert await stored(engine, widget["id"]) == (20, 2)
    read = (await client.get(url)).json()
    assert (read["price_cents"], read["version"]) == (20, 2)


async def test_db3_a_patch_overtaken_by_a_delete_is_a_409_and_the_widget_stays_deleted(
    client: httpx.AsyncClient, engine: AsyncEngine, widget: Json
) -> None:
    url = f"/v1/widgets/{widget['id']}"
    late, winner = await overtaken(
        engine, "UPDATE widgets", client.patch(url, json={"price_cents": 10}), client.delete(url)
    )
    assert winner.status_code == 204, winner.text
    assert_concurrent_update_problem(late, widget["id"])
    assert await stored(engine, widget["id"]) is None
    assert (await client.patch(url, json={"price_cents": 10})).status_code == 404


async def test_db3_a_delete_overtaken_by_a_patch_is_a_409_and_the_patch_is_kept(
    client: httpx.AsyncClient, engine: AsyncEngine, widget: Json
) -> None:
    url = f"/v1/widgets/{widget['id']}"
    late, winner = await overtaken(
        engine,
        "DELETE FROM widgets",
        client.delete(url),
        client.patch(url, json={"price_cents": 20}),
    )
    assert winner.status_code == 200, winner.text
    assert_concurrent_update_problem(late, widget["id"])
    assert await stored(engine, widget["id"]) == (20, 2)


async def test_db3_a_failed_second_request_lets_the_held_one_finish_first(
    client: httpx.AsyncClient, engine: AsyncEngine, widget: Json
) -> None:
    """The helper's own guarantee: when the second request fails, the first, held, is let go
    and awaited before the failure reaches the test, so it never runs on behind the test."""
    url = f"/v1/widgets/{widget['id']}"
    finished: list[int] = []

    async def first() -> httpx.Response:
        response = await client.patch(url, json={"price_cents": 7})
        finished.append(response.status_code)
        return response

    async def second() -> httpx.Response:
        raise RuntimeError("the second request failed")

    with pytest.raises(RuntimeError, match="the second request failed"):
        await overtaken(engine, "UPDATE widgets", first(), second())
    assert finished == [200]
    assert await stored(engine, widget["id"]) == (7, 2)
