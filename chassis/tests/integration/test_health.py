"""INF-2: liveness touches nothing; readiness reports every dependency and draining."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from goldenpath_chassis import chassis_of

pytestmark = pytest.mark.integration


async def test_inf2_live_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_inf2_ready_reports_each_check(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == set(chassis_of(app).instruments.health.names)


async def test_inf2_ready_is_503_naming_a_failing_dependency(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async def broken() -> None:
        raise ConnectionRefusedError

    chassis_of(app).instruments.health.register("broken-dependency", broken)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broken-dependency"] == {
        "status": "failing",
        "latency_ms": body["checks"]["broken-dependency"]["latency_ms"],
        "error": "ConnectionRefusedError",
        "critical": True,
    }


async def test_inf2_a_failing_optional_dependency_degrades_but_stays_ready(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async def broken() -> None:
        raise ConnectionRefusedError

    chassis_of(app).instruments.health.register("optional-dependency", broken, critical=False)
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["optional-dependency"]["status"] == "failing"
    assert body["checks"]["optional-dependency"]["critical"] is False


async def test_res1_readiness_shows_each_circuit_breaker(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    chassis_of(app).instruments.breakers.declare("example-dependency")
    response = await client.get("/health/ready")
    assert response.json()["circuit_breakers"]["example-dependency"] == "closed"


async def test_inf2_a_hanging_dependency_times_out(client: httpx.AsyncClient, app: FastAPI) -> None:
    async def hangs() -> None:
        await asyncio.sleep(60)

    chassis_of(app).instruments.health.register("hanging-dependency", hangs)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["hanging-dependency"]["error"] == "timeout"


async def test_inf3_ready_is_503_while_draining(client: httpx.AsyncClient, app: FastAPI) -> None:
    chassis_of(app).instruments.lifecycle.begin_draining()
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "draining"
    assert (await client.get("/health/live")).status_code == 200
