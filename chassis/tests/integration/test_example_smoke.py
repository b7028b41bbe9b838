"""The example service works end to end through the chassis (a first, broad check)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_widget_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/widgets", json={"name": "a", "price_cents": 5})
    assert created.status_code == 201, created.text
    widget_id = created.json()["id"]
    read = await client.get(f"/v1/widgets/{widget_id}")
    assert read.status_code == 200
    assert read.json()["name"] == "a"
    assert (await client.delete(f"/v1/widgets/{widget_id}")).status_code == 204
    missing = await client.get(f"/v1/widgets/{widget_id}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_anonymous_is_refused(anonymous_client: httpx.AsyncClient) -> None:
    response = await anonymous_client.get("/v1/widgets")
    assert response.status_code == 401
