"""ARCH-1/API-3: the example resource through the real app, router -> service -> repository."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


async def create(client: httpx.AsyncClient, name: str, description: str = "") -> dict[str, object]:
    response = await client.post("/v1/items", json={"name": name, "description": description})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    assert response.headers["location"] == f"/v1/items/{body['id']}"
    return body


async def test_arch1_create_then_read(client: httpx.AsyncClient) -> None:
    created = await create(client, "Blue widget", "A widget, in blue.")
    response = await client.get(f"/v1/items/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert created["version"] == 1


async def test_arch1_duplicate_name_is_a_409_problem(client: httpx.AsyncClient) -> None:
    await create(client, "Only one")
    response = await client.post("/v1/items", json={"name": "Only one"})
    assert response.status_code == 409
    assert response.json()["type"] == "urn:problem-type:item-name-taken"


async def test_arch1_missing_item_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/items/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:problem-type:item-not-found"


async def test_arch1_update_changes_fields_and_version(client: httpx.AsyncClient) -> None:
    created = await create(client, "Before")
    response = await client.patch(f"/v1/items/{created['id']}", json={"name": "After"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "After"
    assert body["version"] == 2


async def test_arch1_delete_then_gone(client: httpx.AsyncClient) -> None:
    created = await create(client, "Short-lived")
    assert (await client.delete(f"/v1/items/{created['id']}")).status_code == 204
    assert (await client.get(f"/v1/items/{created['id']}")).status_code == 404


async def test_arch1_list_pages_through_everything_once(client: httpx.AsyncClient) -> None:
    names = {f"item {n:02d}" for n in range(7)}
    for name in sorted(names):
        await create(client, name)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/items", params=params)).json()
        seen.extend(item["name"] for item in page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert sorted(seen) == sorted(names)
    assert len(seen) == len(names)


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_sec1_page_size_is_bounded(client: httpx.AsyncClient, limit: int) -> None:
    response = await client.get("/v1/items", params={"limit": limit})
    assert response.status_code == 422


async def test_sec1_foreign_cursor_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/items", params={"cursor": "AAAA"})
    assert response.status_code == 400
    assert response.json()["type"] == "urn:problem-type:invalid-cursor"
