"""INF-2: liveness touches nothing; readiness reports every dependency and draining."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pytest
from fastapi import FastAPI

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.health import MAX_AGE_SECONDS
from goldenpath_chassis.testing.asgi import asgi_client

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


# --- Readiness answers from a recent result ------------------------------------------------------
class CountingCheck:
    """A dependency check that counts its runs, and can be made to fail."""

    def __init__(self) -> None:
        self.runs = 0
        self.failing = False

    async def __call__(self) -> None:
        self.runs += 1
        await asyncio.sleep(0.01)  # a real check takes a round trip: probes arrive meanwhile
        if self.failing:
            raise ConnectionRefusedError


async def test_inf2_a_flood_of_probes_checks_the_dependencies_about_once_a_second(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    check = CountingCheck()
    chassis_of(app).instruments.health.register("counted-dependency", check)

    # A run starts only once the last one is a second old: in `elapsed` seconds from the
    # first probe, at most 1 + floor(elapsed) runs, however many probes.
    started = time.monotonic()
    burst = await asyncio.gather(*(client.get("/health/ready") for _ in range(200)))
    assert {response.status_code for response in burst} == {200}
    assert check.runs <= 1 + math.floor(time.monotonic() - started), check.runs

    probes = len(burst)
    while time.monotonic() - started < 2.5:
        responses = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))
        assert {response.status_code for response in responses} == {200}
        probes += len(responses)
    elapsed = time.monotonic() - started
    assert check.runs <= 1 + math.floor(elapsed), (check.runs, probes, elapsed)
    assert check.runs >= 2  # and the results are renewed while the flood goes on
    assert probes >= 200 + 100


async def test_inf2_a_failure_shows_within_a_second(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    check = CountingCheck()
    chassis_of(app).instruments.health.register("flaky-dependency", check)
    assert (await client.get("/health/ready")).status_code == 200
    check.failing = True
    failed_at = time.monotonic()
    while True:
        sent_at = time.monotonic()
        response = await client.get("/health/ready")
        if response.status_code != 200:
            break
        # A result from before the failure may answer for a second after it, not longer.
        assert sent_at < failed_at + MAX_AGE_SECONDS, sent_at - failed_at
        await asyncio.sleep(0.05)
    assert response.status_code == 503
    assert response.json()["checks"]["flaky-dependency"]["error"] == "ConnectionRefusedError"


async def test_inf3_draining_answers_at_once_whatever_the_last_result(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.get("/health/ready")).status_code == 200  # a fresh result is kept
    chassis_of(app).instruments.lifecycle.begin_draining()
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "draining"}


async def test_inf2_in_production_readiness_shows_no_dependency_details(
    service: Service, database_url: str, redis_url: str, auth_settings: dict[str, str]
) -> None:
    settings = service.load_settings(
        app_env="production",
        database_url=database_url,
        redis_url=redis_url,
        auth_session_secret="a-production-secret-of-at-least-32-characters",
        **auth_settings,
    )
    app = service.create_app(settings)
    async with asgi_client(app, lifespan=True) as http:
        ready = await http.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok"}

        async def broken() -> None:
            raise ConnectionRefusedError

        chassis_of(app).instruments.health.register("broken-dependency", broken)
        unready = await http.get("/health/ready")
        assert unready.status_code == 503
        assert unready.json() == {"status": "unavailable"}
        assert "broken-dependency" not in unready.text
