"""The categories resource: unique names and a clear error for each bad request."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.database]


async def test_db3_category_names_are_unique(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/categories", json={"name": "Tools"})).status_code == 201
    again = await client.post("/v1/categories", json={"name": "Tools"})
    assert again.status_code == 409
    assert again.json()["type"] == "urn:problem-type:category-name-taken"


async def test_arch1_categories_are_listed_by_name(client: httpx.AsyncClient) -> None:
    for name in ("b", "c", "a"):
        await client.post("/v1/categories", json={"name": name})
    listed = (await client.get("/v1/categories")).json()["categories"]
    assert [category["name"] for category in listed] == ["a", "b", "c"]


async def test_arch1_unknown_category_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/categories/{uuid.uuid4()}")
    assert response.status_code == 404
