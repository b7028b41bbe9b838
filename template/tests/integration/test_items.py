"""ARCH-1/API-3/DB-*: the example resource through the real app and the real database."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from goldenpath_chassis import chassis_of
from goldenpath_chassis.testing.databases import assert_max_queries
from goldenpath_chassis.testing.races import overtaken
from sqlalchemy import Uuid, column, select, table, text

pytestmark = [pytest.mark.integration, pytest.mark.database]

Json = dict[str, Any]


async def create(client: httpx.AsyncClient, name: str, **fields: Any) -> Json:
    response = await client.post("/v1/items", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    assert response.headers["location"] == f"/v1/items/{body['id']}"
    assert response.headers["etag"] == '"1"'
    return body


async def count_items(app: FastAPI) -> int:
    async with chassis_of(app).resources.database.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM items"))).scalar_one())


async def test_arch1_create_then_read(client: httpx.AsyncClient) -> None:
    created = await create(client, "Blue widget", description="In blue.", price_cents=1999)
    response = await client.get(f"/v1/items/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'
    assert created["version"] == 1
    assert created["status"] == "pending"
    assert uuid.UUID(created["id"]).version == 7


async def test_db4_ids_are_time_ordered(client: httpx.AsyncClient) -> None:
    first = await create(client, "first")
    second = await create(client, "second")
    assert uuid.UUID(first["id"]) < uuid.UUID(second["id"])


async def test_arch1_duplicate_name_is_a_409_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await create(client, "Only one")
    response = await client.post("/v1/items", json={"name": "Only one"})
    assert response.status_code == 409
    assert response.json()["type"] == "urn:problem-type:item-name-taken"
    assert await count_items(app) == 1


async def test_arch1_missing_item_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/items/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:problem-type:item-not-found"


async def test_arch1_update_changes_fields_and_version(client: httpx.AsyncClient) -> None:
    created = await create(client, "Before", price_cents=100)
    response = await client.patch(f"/v1/items/{created['id']}", json={"name": "After"})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["price_cents"], body["version"]) == ("After", 100, 2)
    assert response.headers["etag"] == '"2"'


async def test_arch1_delete_then_gone(client: httpx.AsyncClient) -> None:
    created = await create(client, "Short-lived")
    assert (await client.delete(f"/v1/items/{created['id']}")).status_code == 204
    assert (await client.get(f"/v1/items/{created['id']}")).status_code == 404


async def test_arch1_list_pages_through_everything_once_in_order(
    client: httpx.AsyncClient,
) -> None:
    names = [f"item {n:02d}" for n in range(7)]
    for name in names:
        await create(client, name)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/items", params=params)).json()
        seen.extend(item["name"] for item in page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert seen == names  # stable, oldest first, nothing twice


async def test_perf2_listing_a_full_page_is_one_query(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for n in range(25):
        await create(client, f"bulk {n}")
    with assert_max_queries(chassis_of(app).resources.database.engine, 2):
        response = await client.get("/v1/items", params={"limit": 25})
    assert len(response.json()["items"]) == 25


# --- Optimistic concurrency ---------------------------------------------------------------------


async def test_db3_stale_if_match_is_a_412_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Versioned")
    await client.patch(f"/v1/items/{created['id']}", json={"price_cents": 5})
    stale = await client.patch(
        f"/v1/items/{created['id']}", json={"price_cents": 9}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:problem-type:item-version-mismatch"
    current = (await client.get(f"/v1/items/{created['id']}")).json()
    assert (current["price_cents"], current["version"]) == (5, 2)


async def test_db3_current_if_match_applies(client: httpx.AsyncClient) -> None:
    created = await create(client, "Versioned")
    response = await client.patch(
        f"/v1/items/{created['id']}", json={"price_cents": 9}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2


# Each race is made to happen, not hoped for: the first request is held just before its UPDATE
# or DELETE reaches the database, the second runs to its end, then the first goes on.


async def stored(app: FastAPI, item_id: str) -> tuple[int, int] | None:
    """The item's price and version as the table holds them, or None if it is gone."""
    items = table("items", column("id", Uuid()), column("price_cents"), column("version"))
    query = select(items.c.price_cents, items.c.version).where(items.c.id == uuid.UUID(item_id))
    async with chassis_of(app).resources.database.engine.connect() as connection:
        row = (await connection.execute(query)).one_or_none()
    return None if row is None else (row.price_cents, row.version)


def assert_concurrent_update_problem(response: httpx.Response, item_id: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:problem-type:item-concurrent-update"
    assert problem["title"] == "Item changed concurrently"
    assert problem["status"] == 409
    assert item_id in problem["detail"]


async def test_db3_a_patch_overtaken_by_a_patch_is_a_409_and_the_winner_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Contended", price_cents=1)
    url = f"/v1/items/{item['id']}"
    late, winner = await overtaken(
        chassis_of(app).resources.database.engine,
        "UPDATE items",
        client.patch(url, json={"price_cents": 10}),
        client.patch(url, json={"price_cents": 20}),
    )
    assert winner.status_code == 200, winner.text
    assert_concurrent_update_problem(late, item["id"])
    assert await stored(app, item["id"]) == (20, 2)
    read = (await client.get(url)).json()
    assert (read["price_cents"], read["version"]) == (20, 2)


async def test_db3_a_patch_overtaken_by_a_delete_is_a_409_and_the_item_stays_deleted(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Contended", price_cents=1)
    url = f"/v1/items/{item['id']}"
    late, winner = await overtaken(
        chassis_of(app).resources.database.engine,
        "UPDATE items",
        client.patch(url, json={"price_cents": 10}),
        client.delete(url),
    )
    assert winner.status_code == 204, winner.text
    assert_concurrent_update_problem(late, item["id"])
    assert await stored(app, item["id"]) is None
    assert (await client.get(url)).status_code == 404


async def test_db3_a_delete_overtaken_by_a_patch_is_a_409_and_the_patch_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    item = await create(client, "Contended", price_cents=1)
    url = f"/v1/items/{item['id']}"
    late, winner = await overtaken(
        chassis_of(app).resources.database.engine,
        "DELETE FROM items",
        client.delete(url),
        client.patch(url, json={"price_cents": 20}),
    )
    assert winner.status_code == 200, winner.text
    assert_concurrent_update_problem(late, item["id"])
    assert await stored(app, item["id"]) == (20, 2)
    read = (await client.get(url)).json()
    assert (read["price_cents"], read["version"]) == (20, 2)


# --- Categories and the foreign key -------------------------------------------------------------


async def test_db3_item_in_a_category(client: httpx.AsyncClient) -> None:
    category = (await client.post("/v1/categories", json={"name": "Widgets"})).json()
    item = await create(client, "Filed widget", category_id=category["id"])
    assert item["category_id"] == category["id"]
    in_use = await client.delete(f"/v1/categories/{category['id']}")
    assert in_use.status_code == 409
    assert in_use.json()["type"] == "urn:problem-type:category-in-use"
    cleared = await client.patch(f"/v1/items/{item['id']}", json={"category_id": None})
    assert cleared.json()["category_id"] is None
    assert (await client.delete(f"/v1/categories/{category['id']}")).status_code == 204


async def test_db3_dangling_category_is_a_409_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/v1/items", json={"name": "Orphan", "category_id": str(uuid.uuid4())}
    )
    assert response.status_code == 409
    assert response.json()["type"] == "urn:problem-type:unknown-category"
    assert await count_items(app) == 0


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "description": "d" * 2001},
        {"name": "ok", "price_cents": -1},
        {"name": "ok", "price_cents": 100_000_001},
        {"name": "ok", "price_cents": "12"},
        {"name": "ok", "colour": "blue"},
        {"name": None},
    ],
)
async def test_sec1_bad_item_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, body: Json
) -> None:
    response = await client.post("/v1/items", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_items(app) == 0


async def test_sec1_explicit_null_for_a_required_field_is_refused(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Keep my name")
    response = await client.patch(f"/v1/items/{created['id']}", json={"name": None})
    assert response.status_code == 422
    assert (await client.get(f"/v1/items/{created['id']}")).json()["name"] == "Keep my name"


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_sec1_page_size_is_bounded(client: httpx.AsyncClient, limit: int) -> None:
    response = await client.get("/v1/items", params={"limit": limit})
    assert response.status_code == 422


@pytest.mark.parametrize("cursor", ["AAAA", "x" * 23, "not/base64+chars!!!!!!"])
async def test_sec1_malformed_cursor_is_a_422_problem(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/v1/items", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
