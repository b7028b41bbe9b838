"""The categories resource: unique names, a list that pages through everything, and a clear
error for each bad request."""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.database]

Json = dict[str, Any]
# More than the largest page (PAGE_SIZE_MAX, 100): the default page cannot hold them all.
MORE_THAN_A_PAGE = 101


async def create(client: httpx.AsyncClient, name: str) -> Json:
    response = await client.post("/v1/categories", json={"name": name})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def pages(client: httpx.AsyncClient, **params: str | int) -> list[list[str]]:
    """The names on each page of the list, following `next_cursor` to the end."""
    names: list[list[str]] = []
    cursor: str | None = None
    while True:
        response = await client.get(
            "/v1/categories", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        names.append([category["name"] for category in page["categories"]])
        cursor = page.get("next_cursor")
        if cursor is None:
            return names


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


async def test_arch1_list_pages_through_every_category_once_by_name(
    client: httpx.AsyncClient,
) -> None:
    names = [f"category {n:03d}" for n in range(MORE_THAN_A_PAGE)]
    for name in random.Random(7).sample(names, len(names)):
        await create(client, name)
    listed = await pages(client)
    assert len(listed) > 1
    assert [name for page in listed for name in page] == names  # each once, by name


async def test_arch1_a_page_of_categories_holds_limit_and_says_when_there_are_more(
    client: httpx.AsyncClient,
) -> None:
    for name in ("d", "b", "e", "a", "c"):
        await create(client, name)
    assert await pages(client, limit=2) == [["a", "b"], ["c", "d"], ["e"]]
    last = (await client.get("/v1/categories", params={"limit": 5})).json()
    assert len(last["categories"]) == 5
    assert last.get("next_cursor") is None


async def test_arch1_the_next_page_starts_after_the_cursor_whatever_changed_meanwhile(
    client: httpx.AsyncClient,
) -> None:
    """The cursor carries the last category's name and id: deleting that category, or adding
    one before it, moves nothing the next page holds."""
    created = {name: await create(client, name) for name in ("b", "d", "f")}
    first = (await client.get("/v1/categories", params={"limit": 2})).json()
    assert [c["name"] for c in first["categories"]] == ["b", "d"]
    assert (await client.delete(f"/v1/categories/{created['d']['id']}")).status_code == 204
    await create(client, "a")
    await create(client, "e")
    params = {"limit": 2, "cursor": first["next_cursor"]}
    rest = (await client.get("/v1/categories", params=params)).json()
    assert [c["name"] for c in rest["categories"]] == ["e", "f"]


def cursor_of(name: bytes) -> str:
    """A cursor as the list writes one (an id's 16 bytes, then a name), with any name."""
    return base64.urlsafe_b64encode(uuid.UUID(int=1).bytes + name).decode().rstrip("=")


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_sec1_category_page_size_is_bounded(client: httpx.AsyncClient, limit: int) -> None:
    response = await client.get("/v1/categories", params={"limit": limit})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("AAAA", id="shorter-than-an-id"),
        pytest.param("x" * 23, id="an-id-then-a-control-character"),
        pytest.param("not/base64+chars!!!!!!", id="not-base64url"),
        pytest.param("A" * 289, id="longer-than-an-id-and-the-longest-name"),
        pytest.param(cursor_of(b""), id="no-name-as-an-items-cursor"),
        pytest.param(cursor_of(b"\xff\xfe"), id="a-name-not-utf-8"),
        pytest.param(cursor_of(b"Tools\x00"), id="a-name-with-nul"),
        pytest.param(cursor_of(b" Tools"), id="a-name-with-a-leading-space"),
        pytest.param(cursor_of(b"T" * 51), id="a-name-too-long"),
    ],
)
async def test_sec1_malformed_category_cursor_is_a_422_problem(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/v1/categories", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_arch1_unknown_category_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/categories/{uuid.uuid4()}")
    assert response.status_code == 404
