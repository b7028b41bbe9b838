"""OBS-3: every request has an ID, kept from the caller when well-formed, on every log line."""

from __future__ import annotations

import re

import httpx
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

pytestmark = pytest.mark.integration


async def test_obs3_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_obs3_well_formed_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "upstream-1234.abcd"})
    assert response.headers["x-request-id"] == "upstream-1234.abcd"


@pytest.mark.parametrize("bad", ["short", "has spaces in it", "x" * 200, "<script>alert(1)"])
async def test_obs3_malformed_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_obs3_access_log_line_carries_the_request_id_and_route(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[merge_contextvars]) as logs:
        response = await client.get("/v1/widgets/not-a-uuid")
    access = [line for line in logs if line["event"] == "request"]
    assert len(access) == 1
    assert access[0]["request_id"] == response.headers["x-request-id"]
    assert access[0]["http_route"] == "/v1/widgets/{widget_id}"
    assert access[0]["url_path"] == "/v1/widgets/not-a-uuid"
    assert access[0]["status"] == 422
