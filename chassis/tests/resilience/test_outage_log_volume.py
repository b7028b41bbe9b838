"""The log during a database outage, or a Redis outage (rate limits, cookie sessions): the access
log's line a request, and the outage's warning said once, not once a request on top of it
(OBS-1, RES-1).

A service answering 1,000 requests a second with a 503 each would double its log volume just
when the log pipeline is needed most. The warning is said at once, then at most once a minute
with the number of requests since; the number not said yet is said when the app shuts down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.servers import PostgresServer, RedisServer

from tests.resilience.probes import assert_database_unavailable

pytestmark = pytest.mark.resilience

REQUESTS = 12
# SessionRevocations' default: after a failure, Redis is not asked again for this long.
REVOCATION_COOLDOWN_SECONDS = 2.0
Logs = list[MutableMapping[str, Any]]


def _warnings(logs: Logs) -> Logs:
    return [line for line in logs if line["log_level"] == "warning"]


def _said(logs: Logs, event: str, count_name: str) -> list[int | None]:
    # A line without the count (a line a request) is None.
    return [line.get(count_name) for line in logs if line["event"] == event]


def _access_lines(logs: Logs, status: int) -> int:
    return sum(1 for line in logs if line["event"] == "request" and line["status"] == status)


async def test_a_stopped_database_is_one_warning_and_its_count_at_shutdown(
    app_on_outage_database: FastAPI,
    postgres_server: PostgresServer,
    auth_headers: dict[str, str],
) -> None:
    app = app_on_outage_database
    with capture_logs() as logs:
        async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
            assert (await client.get("/v1/widgets")).status_code == 200
            postgres_server.stop()
            for _ in range(REQUESTS):
                assert_database_unavailable(await client.get("/v1/widgets"))
            during = _warnings(logs)
    # While it lasted: one line, the first request's, with why.
    assert _said(during, "database_unavailable", "requests") == [1]
    assert {line["event"] for line in during} <= {"database_unavailable", "circuit_breaker_opened"}
    assert "error" in during[0]
    assert _access_lines(logs, 503) == REQUESTS
    # At shutdown: the requests it has not said yet.
    assert _said(logs, "database_unavailable", "requests") == [1, REQUESTS - 1]


async def test_refused_writes_are_one_warning_and_their_count_at_shutdown(
    postgres_service: Service,
    outage_database: str,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
) -> None:
    """A database that refuses writes (SQLSTATE 25006, as a standby does): every new session
    is read-only, so each write, on a fresh connection, is refused again."""
    settings = postgres_service.load_settings(
        **auth_settings, app_env="test", database_url=outage_database
    )
    url = make_url(outage_database)
    admin = await asyncpg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(
            f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on'
        )
    finally:
        await admin.close()
    app = postgres_service.create_app(settings)
    with capture_logs() as logs:
        async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
            for _ in range(REQUESTS):
                assert_database_unavailable(
                    await client.post("/v1/widgets", json={"name": "Refused"})
                )
            during = _warnings(logs)
    assert _said(during, "database_read_only", "refused_writes") == [1]
    assert _said(during, "database_unavailable", "requests") == [1]
    assert _access_lines(logs, 503) == REQUESTS
    assert _said(logs, "database_read_only", "refused_writes") == [1, REQUESTS - 1]
    assert _said(logs, "database_unavailable", "requests") == [1, REQUESTS - 1]


async def test_a_stopped_redis_is_one_revocation_warning_and_its_count_at_shutdown(
    service: Service,
    database_url: str,
    stoppable_redis: RedisServer,
    auth_settings: dict[str, str],
    tokens: TokenFactory,
) -> None:
    """Cookie-authenticated requests during the outage, some in flight together when it is
    found, and one after the revocation check's cool-down, when Redis is asked again."""
    settings = service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        redis_url=stoppable_redis.url,
        auth_session_secret="a-secret-for-the-outage-test-32-characters-long",
    )
    app = service.create_app(settings)
    origin = "https://testserver"
    refused = 0
    with capture_logs() as logs:
        async with asgi_client(app, base_url=origin, lifespan=True) as browser:
            opened = await browser.post("/v1/auth/session", headers=tokens.headers("widgets:read"))
            assert opened.status_code == 201, opened.text
            stoppable_redis.stop()
            in_flight = await asyncio.gather(*(browser.get("/v1/widgets") for _ in range(4)))
            found_at = time.monotonic()
            refused += len(in_flight)
            while True:
                past_cooldown = time.monotonic() > found_at + REVOCATION_COOLDOWN_SECONDS
                response = await browser.get("/v1/widgets")
                assert response.status_code == 503, response.text
                refused += 1
                if past_cooldown:
                    break
                await asyncio.sleep(0.2)
            for response in in_flight:
                assert response.status_code == 503, response.text
                assert response.json()["type"] == "urn:problem-type:authentication-unavailable"
            during = _warnings(logs)
    # While it lasted: one line, the first request's, with why.
    assert _said(during, "session_revocations_unavailable", "requests") == [1]
    first = next(line for line in during if line["event"] == "session_revocations_unavailable")
    assert first["error"]
    # At shutdown: the requests it has not said yet.
    assert _said(logs, "session_revocations_unavailable", "requests") == [1, refused - 1]


async def test_a_stopped_redis_is_one_rate_limit_warning_a_layer_and_its_count_at_shutdown(
    service: Service,
    database_url: str,
    stoppable_redis: RedisServer,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
) -> None:
    """Redis stopped before the first request, so no lease from before answers one: each layer
    (the address's, then the principal's) answers every request from this process's memory."""
    settings = service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        redis_url=stoppable_redis.url,
    )
    app = service.create_app(settings)
    with capture_logs() as logs:
        async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
            stoppable_redis.stop()
            for _ in range(REQUESTS):
                response = await client.get("/v1/widgets")
                assert response.status_code == 200, response.text
            during = _warnings(logs)
    registry = chassis_of(app).instruments.metrics.registry
    for layer in ("ip", "principal"):
        # Every request is counted in the metric, which an alert fires on.
        errors = {"limiter": layer, "policy": "local"}
        assert registry.get_sample_value("rate_limit_storage_errors_total", errors) == REQUESTS
        # While it lasted: one line, the first request's, with why.
        said = [line for line in during if line.get("layer") == layer]
        assert _said(said, "rate_limit_storage_unavailable", "requests") == [1]
        assert said[0]["error"]
        assert said[0]["policy"] == "local"
        # At shutdown: the requests it has not said yet.
        lines = [line for line in logs if line.get("layer") == layer]
        assert _said(lines, "rate_limit_storage_unavailable", "requests") == [1, REQUESTS - 1]
