"""OBS-4: every error is an RFC 9457 problem document, with no internals."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


async def test_obs4_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/v1/nothing-here"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_obs4_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/health/live")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "GET" in response.headers["allow"]


async def test_obs4_invalid_body_is_a_422_problem_listing_errors(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/widgets", json={"name": "", "colour": "blue"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "name") in locations
    assert ("body", "colour") in locations  # unknown fields are rejected (SEC-1)
    # Each error says where and why, and never echoes the rejected input back.
    assert all(set(error) == {"loc", "msg", "type"} for error in body["errors"])


async def test_obs4_unexpected_error_is_a_bare_500_logged_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    with capture_logs(processors=[merge_contextvars]) as logs:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    errors = [line for line in logs if line["log_level"] == "error"]
    assert [line["event"] for line in errors] == ["unhandled_error"]
    assert errors[0]["request_id"] == response.headers["x-request-id"]


async def test_api2_openapi_documents_problems_for_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in str(document)
    create = document["paths"]["/v1/widgets"]["post"]
    for status in ("409", "422"):
        content = create["responses"][status]["content"]
        assert list(content) == [PROBLEM]
        assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/ProblemDetail"}


async def test_api1_business_routes_are_versioned(app: FastAPI) -> None:
    paths = set(app.openapi()["paths"])
    business = {path for path in paths if not path.startswith("/health/")}
    assert business
    assert all(path.startswith("/v1/") for path in business), business
