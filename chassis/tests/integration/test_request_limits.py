"""SEC-1/OBS-4: requests refused before validation, or for what their text holds, in process.

The same refusals are exercised through the live server, with the database checked after each,
by the reliability suite (test_bad_input.py).
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_sec1_a_body_in_another_format_is_a_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/v1/widgets", content=b'{"name": "a"}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:problem-type:unsupported-media-type"


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
async def test_sec1_json_media_types_are_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        "/v1/widgets", content=b'{"name": "a"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 201


async def test_sec1_no_body_at_all_is_a_validation_error_not_a_415(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/widgets")
    assert response.status_code == 422
    assert response.json()["type"] == "urn:problem-type:validation-error"


async def test_sec1_headers_past_the_limit_are_a_431(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/widgets", headers={"X-Padding": "a" * 40_000})
    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert (await client.get("/v1/widgets", headers={"X-Padding": "a" * 20_000})).status_code == 200


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("name", "a\0b"),
        ("name", "line\nbreak"),
        ("name", "invoice\u202efdp.exe"),
        ("description", "a\0b"),
        ("description", "bell\x07"),
    ],
)
async def test_sec1_text_no_store_or_screen_should_hold_is_refused(
    client: httpx.AsyncClient, field: str, text: str
) -> None:
    response = await client.post("/v1/widgets", json={"name": "n", field: text})
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "string_pattern_mismatch"


async def test_sec1_emoji_marks_and_line_breaks_in_free_text_are_kept(
    client: httpx.AsyncClient,
) -> None:
    text = "\U0001f600 cafe\u0301 \u05e9\u05dc\u05d5\u05dd"
    response = await client.post(
        "/v1/widgets", json={"name": text, "description": f"{text}\n\tsecond line"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == text
    assert response.json()["description"] == f"{text}\n\tsecond line"


async def test_obs4_the_problem_instance_is_a_percent_encoded_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/widgets/<script>alert(1)<")
    assert response.status_code == 422
    instance = response.json()["instance"]
    assert instance == "/v1/widgets/%3Cscript%3Ealert(1)%3C"
    assert "<script>" not in response.text


async def test_api2_operations_with_a_body_document_their_415(app: FastAPI) -> None:
    document = json.loads(json.dumps(app.openapi()))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            documented = "415" in operation["responses"]
            assert documented == ("requestBody" in operation), (method, path)
