"""What the resilience tests ask a running service: polling for a status, the breakers' states."""

from __future__ import annotations

import asyncio
import time

import httpx

PROBLEM = "application/problem+json"


async def poll(client: httpx.AsyncClient, path: str, status: int, *, within: float) -> float:
    """Seconds until `path` answers `status`; fails after `within` seconds."""
    started = time.monotonic()
    while True:
        response = await client.get(path)
        if response.status_code == status:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{path} still {response.status_code}: {response.text}")
        await asyncio.sleep(0.1)


async def database_breaker(client: httpx.AsyncClient) -> str:
    state: str = (await client.get("/health/ready")).json()["circuit_breakers"]["database"]
    return state


def assert_database_unavailable(response: httpx.Response) -> None:
    """The answer a request that needs a database that is not there gets (503, a problem)."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:problem-type:database-unavailable"
    assert "retry-after" in response.headers
