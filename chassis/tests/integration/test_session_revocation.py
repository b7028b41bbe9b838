"""SEC-2: signing out revokes the session on every replica, through a real Redis.

Replicas share `AUTH_SESSION_SECRET` and one Redis. A session opened on one replica is accepted
by the other; after `DELETE /v1/auth/session` on the first, a copy of its cookie is refused by
both, because the revocation is a record in Redis that lives as long as the session would have.
(Without Redis, in development, the record is kept in the process: test_sessions_csrf.py.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from goldenpath_chassis import ChassisSettings, Service, chassis_of
from goldenpath_chassis._core.security.session import b64decode
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory, bearer
from goldenpath_chassis.testing.databases import delete_all_rows
from goldenpath_chassis.testing.processes import free_port

pytestmark = pytest.mark.integration

ORIGIN = "https://testserver"
SECRET = "a-secret-every-replica-shares-32-characters-long"


def replica_settings(
    service: Service, database_url: str, auth_settings: dict[str, str], redis_url: str
) -> ChassisSettings:
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        redis_url=redis_url,
        auth_session_secret=SECRET,
        **auth_settings,
    )


@pytest.fixture
async def replicas(
    service: Service, database_url: str, auth_settings: dict[str, str], redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two instances of the app on one database and one Redis, each with a browser-like client."""
    settings = replica_settings(service, database_url, auth_settings, redis_url)
    first, second = service.create_app(settings), service.create_app(settings)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(asgi_client(app, base_url=ORIGIN, lifespan=True))
            for app in (first, second)
        ]
        yield clients[0], clients[1]
        await delete_all_rows(service, chassis_of(first).resources.database.engine)


async def revocation_keys(redis: Redis, service: Service) -> set[bytes]:
    return {key async for key in redis.scan_iter(match=f"{service.name}:revoked-session:*")}


def cookie_header(cookies: httpx.Cookies) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def test_sec2_signing_out_on_one_replica_revokes_the_session_on_every_replica(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
    tokens: TokenFactory,
    redis_url: str,
    service: Service,
) -> None:
    first, second = replicas
    redis = Redis.from_url(redis_url)
    try:
        token = tokens("widgets:read", "widgets:write", subject="alice", ttl_seconds=600)
        opened = await first.post("/v1/auth/session", headers=bearer(token))
        assert opened.status_code == 201, opened.text
        csrf_token = opened.json()["csrf_token"]
        copied = cookie_header(first.cookies)
        payload = first.cookies["__Host-session"].rpartition(".")[0]
        session_id = orjson.loads(b64decode(payload))["sid"]
        # The other replica accepts the session: same secret, nothing stored per replica.
        assert (await second.get("/v1/widgets", headers=copied)).status_code == 200

        before = await revocation_keys(redis, service)
        signed_out = await first.delete(
            "/v1/auth/session", headers={"X-CSRF-Token": csrf_token, "Origin": ORIGIN}
        )
        assert signed_out.status_code == 204, signed_out.text
        signed_out_at = time.time()

        for replica in (first, second):
            replayed = await replica.get("/v1/widgets", headers=copied)
            assert replayed.status_code == 401, replayed.text
            assert "signed out" in replayed.json()["detail"]
            write = await replica.post(
                "/v1/widgets",
                json={"name": "after sign-out"},
                headers={"X-CSRF-Token": csrf_token, "Origin": ORIGIN, **copied},
            )
            assert write.status_code == 401

        # One record, that lives no longer than the session would have (the token's 600 s).
        added = await revocation_keys(redis, service) - before
        assert len(added) == 1, added
        ttl = await redis.ttl(next(iter(added)))
        assert 0 < ttl <= 600 - int(time.time() - signed_out_at) + 1, ttl
        # The record is keyed by a digest: Redis never holds the session id itself.
        assert session_id.encode() not in next(iter(added))
    finally:
        await redis.aclose()


async def test_sec2_without_redis_a_session_is_not_trusted_503(
    service: Service, database_url: str, auth_settings: dict[str, str], tokens: TokenFactory
) -> None:
    """Whether a session was revoked cannot be known: fail closed, as with the JWKS keys."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app: FastAPI = service.create_app(
        replica_settings(service, database_url, auth_settings, unreachable)
    )
    async with asgi_client(app, base_url=ORIGIN, lifespan=True) as browser:
        opened = await browser.post("/v1/auth/session", headers=tokens.headers("widgets:read"))
        assert opened.status_code == 201  # a bearer token needs no Redis
        response = await browser.get("/v1/widgets")
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "urn:problem-type:authentication-unavailable"
        assert "Retry-After" in response.headers
        # Bearer tokens and API keys never depend on it.
        bearer_read = await browser.get("/v1/widgets", headers=tokens.headers("widgets:read"))
        assert bearer_read.status_code == 200
