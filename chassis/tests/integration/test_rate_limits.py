"""SEC-4: two layers of rate limits, counted in a real Redis shared by replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Service, chassis_of
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.servers import RedisServer

pytestmark = pytest.mark.integration


type Configure = Callable[..., FastAPI]


@pytest.fixture
def configure(service: Service, database_url: str, auth_settings: dict[str, str]) -> Configure:
    """An app on the test settings with some variables changed (flat names, as the loader
    takes them, so each change is validated like the environment would be)."""

    def build(**changes: object) -> FastAPI:
        settings: ChassisSettings = service.load_settings(
            app_env="test", database_url=database_url, **auth_settings, **changes
        )
        return service.create_app(settings)

    return build


@pytest.fixture
async def fresh_counters(service: Service, redis_url: str) -> None:
    """Each test starts with no counters in the shared Redis."""
    client = Redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{service.name}:ratelimit*"):
        await client.delete(key)
    await client.aclose()


class Running(NamedTuple):
    app: FastAPI
    http: httpx.AsyncClient


@asynccontextmanager
async def running(configure: Configure, **changes: Any) -> AsyncIterator[Running]:
    """An app with changed settings (a replica, when called twice), and a client for it."""
    app = configure(**changes)
    async with asgi_client(app, lifespan=True) as http:
        yield Running(app, http)


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:problem-type:rate-limited"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) >= 1


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_the_ip_layer_limits_before_authentication(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    async with running(configure, redis_url=redis_url, rate_limit_per_ip="5/minute") as (app, http):
        limiter = chassis_of(app).guards.rate_limiter
        assert limiter is not None
        assert limiter.shared
        statuses = [(await http.get("/v1/widgets")).status_code for _ in range(5)]
        assert statuses == [401] * 5  # anonymous requests count too
        assert_limited(await http.get("/v1/widgets", headers=tokens.headers("widgets:read")), 5)
        # OBS-1: each rejection is counted by layer.
        registry = chassis_of(app).instruments.metrics.registry
        assert registry.get_sample_value("rate_limit_rejections_total", {"limiter": "ip"}) == 1
        # Probes are never throttled.
        probes = [(await http.get("/health/live")).status_code for _ in range(10)]
        assert probes == [200] * 10


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_the_principal_layer_limits_each_caller_separately(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    async with running(
        configure,
        redis_url=redis_url,
        rate_limit_per_ip="1000/minute",
        rate_limit_per_principal="3/minute",
    ) as (_, http):
        alice = tokens.headers("widgets:read", subject="alice")
        for _ in range(3):
            assert (await http.get("/v1/widgets", headers=alice)).status_code == 200
        assert_limited(await http.get("/v1/widgets", headers=alice), 3)
        # A fresh token for the same user shares the budget; another user has their own.
        assert_limited(
            await http.get("/v1/widgets", headers=tokens.headers("widgets:read", subject="alice")),
            3,
        )
        bob = tokens.headers("widgets:read", subject="bob")
        assert (await http.get("/v1/widgets", headers=bob)).status_code == 200


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_a_spoofed_forwarding_header_cannot_bypass_the_limit(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    headers = tokens.headers("widgets:read")
    async with running(configure, redis_url=redis_url, rate_limit_per_ip="3/minute") as (_, http):
        for number in range(3):
            spoofed = {
                "X-Forwarded-For": f"198.51.100.{number}",
                "Forwarded": f"for=192.0.2.{number}",
            }
            assert (await http.get("/v1/widgets", headers=headers | spoofed)).status_code == 200
        response = await http.get(
            "/v1/widgets", headers=headers | {"X-Forwarded-For": "198.51.100.99"}
        )
        assert_limited(response, 3)


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_behind_a_trusted_proxy_each_client_has_its_own_budget(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    headers = tokens.headers("widgets:read")
    async with running(
        configure,
        redis_url=redis_url,
        rate_limit_per_ip="2/minute",
        trusted_proxies="127.0.0.1/32",
    ) as (_, http):
        first = headers | {"X-Forwarded-For": "198.51.100.1"}
        for _ in range(2):
            assert (await http.get("/v1/widgets", headers=first)).status_code == 200
        assert_limited(await http.get("/v1/widgets", headers=first), 2)
        # A forged entry in front of the proxy's own does not buy a new budget.
        forged = headers | {"X-Forwarded-For": "203.0.113.50, 198.51.100.1"}
        assert_limited(await http.get("/v1/widgets", headers=forged), 2)
        second = headers | {"X-Forwarded-For": "198.51.100.2"}
        assert (await http.get("/v1/widgets", headers=second)).status_code == 200


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_replicas_share_one_budget_through_redis(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    headers = tokens.headers("widgets:read")
    async with AsyncExitStack() as stack:
        replicas = [
            await stack.enter_async_context(
                running(configure, redis_url=redis_url, rate_limit_per_ip="6/minute")
            )
            for _ in range(2)
        ]
        statuses = [
            (await replicas[number % 2].http.get("/v1/widgets", headers=headers)).status_code
            for number in range(12)
        ]
    assert statuses.count(200) == 6, statuses
    assert statuses.count(429) == 6


async def test_sec4_without_redis_the_allow_policy_fails_open_and_warns(
    configure: Configure, tokens: TokenFactory
) -> None:
    headers = tokens.headers("widgets:read")
    with capture_logs(processors=[merge_contextvars]) as logs:
        async with running(
            configure,
            redis_url="redis://127.0.0.1:1/0",
            rate_limit_per_ip="1/minute",
            rate_limit_storage_retry_seconds=0,
            rate_limit_on_storage_error="allow",
        ) as (app, http):
            statuses = [
                (await http.get("/v1/widgets", headers=headers)).status_code for _ in range(5)
            ]
    assert statuses == [200] * 5
    warnings = [line for line in logs if line["event"] == "rate_limit_storage_unavailable"]
    # Warned, but not once per request: at once, then the rest when the app stops.
    for layer in ("ip", "principal"):
        said = [line for line in warnings if line["layer"] == layer]
        assert [line["requests"] for line in said] == [1, 4], layer
        assert {line["policy"] for line in said} == {"allow"}
    # ...and counted, every time, by layer (OBS-1): an alert can fire on it.
    registry = chassis_of(app).instruments.metrics.registry
    for layer in ("ip", "principal"):
        failed = registry.get_sample_value(
            "rate_limit_storage_errors_total", {"limiter": layer, "policy": "allow"}
        )
        assert failed == 5, layer


async def test_sec4_the_fail_closed_policy_answers_503(
    configure: Configure, tokens: TokenFactory
) -> None:
    async with running(
        configure,
        redis_url="redis://127.0.0.1:1/0",
        rate_limit_on_storage_error="deny",
    ) as (_, http):
        response = await http.get("/v1/widgets", headers=tokens.headers("widgets:read"))
    assert response.status_code == 503
    assert response.json()["type"] == "urn:problem-type:rate-limiter-unavailable"
    assert response.headers["retry-after"]


async def test_sec4_limits_come_back_when_redis_does_after_the_allow_policy(
    configure: Configure, tokens: TokenFactory
) -> None:
    server = RedisServer.create()
    server.start()
    headers = tokens.headers("widgets:read")
    try:
        async with running(
            configure,
            redis_url=server.url,
            rate_limit_per_ip="2/minute",
            rate_limit_storage_retry_seconds=0,
            rate_limit_on_storage_error="allow",
        ) as (_, http):
            server.stop()
            down = [(await http.get("/v1/widgets", headers=headers)).status_code for _ in range(4)]
            assert down == [200] * 4  # served, unlimited, while Redis is away
            server.start()
            # Counting resumes by itself (the first calls may still meet dead pooled connections).
            back = [(await http.get("/v1/widgets", headers=headers)).status_code for _ in range(8)]
            assert 429 in back, back
    finally:
        server.destroy()


@pytest.mark.usefixtures("fresh_counters")
async def test_sec4_ipv4_clients_of_a_dual_stack_listener_each_have_their_own_budget(
    configure: Configure, redis_url: str, tokens: TokenFactory
) -> None:
    """A server listening on "::" sees IPv4 peers as IPv4-mapped IPv6 addresses; counted per
    /64, they would all share one budget (`::/64`), which one client could spend for all."""
    headers = tokens.headers("widgets:read")
    app = configure(redis_url=redis_url, rate_limit_per_ip="2/minute")

    def client_from(peer: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with asgi_client(app, lifespan=True), client_from("::ffff:198.51.100.1") as first:
        for _ in range(2):
            assert (await first.get("/v1/widgets", headers=headers)).status_code == 200
        assert_limited(await first.get("/v1/widgets", headers=headers), 2)
        async with client_from("::ffff:198.51.100.2") as second:
            assert (await second.get("/v1/widgets", headers=headers)).status_code == 200
