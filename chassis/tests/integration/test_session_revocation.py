"""SEC-2: signing out revokes the session on every replica, through a real Redis.

Replicas share `AUTH_SESSION_SECRET` and one Redis. A session opened on one replica is accepted
by the other; after `DELETE /v1/auth/session` on the first, a copy of its cookie is refused by
both, because the revocation is a record in Redis that lives as long as the session would have.
Signing out everywhere (the endpoint's `everywhere=true`, or the `sessions revoke` command)
refuses every session of the user opened before it, and signing in again revokes the session
the new one replaces. (Without Redis, in development, the records are kept in the process:
test_sessions_csrf.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

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
# The example service's package; its command line is run from the chassis's directory.
PACKAGE = "tests.example"
CHASSIS = Path(__file__).resolve().parents[2]


def replica_settings(
    service: Service,
    database_url: str,
    auth_settings: dict[str, str],
    redis_url: str,
    **overrides: str,
) -> ChassisSettings:
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        redis_url=redis_url,
        auth_session_secret=SECRET,
        **auth_settings,
        **overrides,
    )


@asynccontextmanager
async def two_replicas(
    service: Service, settings: ChassisSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two instances of the app on one database and one Redis, each with a browser-like client."""
    first, second = service.create_app(settings), service.create_app(settings)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(asgi_client(app, base_url=ORIGIN, lifespan=True))
            for app in (first, second)
        ]
        yield clients[0], clients[1]
        await delete_all_rows(service, chassis_of(first).resources.database.engine)


@pytest.fixture
async def replicas(
    service: Service, database_url: str, auth_settings: dict[str, str], redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    settings = replica_settings(service, database_url, auth_settings, redis_url)
    async with two_replicas(service, settings) as clients:
        yield clients


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
        # Neither the session a new one replaces, nor a user's sessions, can be revoked.
        again = await browser.post("/v1/auth/session", headers=tokens.headers("widgets:read"))
        assert again.status_code == 503, again.text
        browser.cookies.clear()
        everywhere = await browser.delete(
            "/v1/auth/session?everywhere=true", headers=tokens.headers("widgets:read")
        )
        assert everywhere.status_code == 503, everywhere.text
    command = revoke_sessions(unreachable, "--subject", "alice")
    assert command.returncode == 1
    assert "sessions: Redis cannot be reached; nothing was revoked." in command.stderr.splitlines()
    assert "Traceback" not in command.stderr


async def sign_in(
    replica: httpx.AsyncClient, token: str, *, carrying: dict[str, str] | None = None
) -> dict[str, str]:
    """A browser's new session: the headers a copy of its cookies sends, CSRF proof included.

    The client keeps no cookie: each session is sent explicitly, as a copy of it would be.
    """
    opened = await replica.post("/v1/auth/session", headers={**bearer(token), **(carrying or {})})
    assert opened.status_code == 201, opened.text
    replica.cookies.clear()
    return {
        "Cookie": f"__Host-session={opened.cookies['__Host-session']}; "
        f"__Host-csrf={opened.cookies['__Host-csrf']}",
        "X-CSRF-Token": opened.json()["csrf_token"],
        "Origin": ORIGIN,
    }


async def statuses(replicas: Sequence[httpx.AsyncClient], session: dict[str, str]) -> list[int]:
    """What each replica answers the session's read."""
    return [(await replica.get("/v1/widgets", headers=session)).status_code for replica in replicas]


async def test_sec2_signing_out_everywhere_refuses_every_earlier_session_of_the_user(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient], tokens: TokenFactory
) -> None:
    first, second = replicas
    laptop = await sign_in(first, tokens("widgets:read", subject="alice"))
    phone = await sign_in(second, tokens("widgets:read", subject="alice"))
    bob = await sign_in(first, tokens("widgets:read", subject="bob"))
    assert await statuses(replicas, laptop) == [200, 200]

    # From the phone; the laptop's session id was never sent.
    signed_out = await second.delete("/v1/auth/session?everywhere=true", headers=phone)
    assert signed_out.status_code == 204, signed_out.text
    later = await sign_in(first, tokens("widgets:read", subject="alice"))

    assert await statuses(replicas, laptop) == [401, 401]
    assert await statuses(replicas, phone) == [401, 401]
    assert await statuses(replicas, later) == [200, 200]  # opened after: works
    assert await statuses(replicas, bob) == [200, 200]  # another user's: untouched
    refused = await first.get("/v1/widgets", headers=laptop)
    assert "signed out" in refused.json()["detail"]


async def test_sec2_signing_in_again_revokes_the_session_it_replaces(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient], tokens: TokenFactory
) -> None:
    first, second = replicas
    replaced = await sign_in(first, tokens("widgets:read", subject="alice"))
    # The browser still sends its old cookie when it signs in again, here on the other replica.
    current = await sign_in(second, tokens("widgets:read", subject="alice"), carrying=replaced)

    assert await statuses(replicas, replaced) == [401, 401]
    assert await statuses(replicas, current) == [200, 200]


def revoke_sessions(
    redis_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m tests.example sessions revoke ...`, from the chassis's directory."""
    environment = {"PATH": "/usr/bin:/bin", "APP_ENV": "test", "REDIS_URL": redis_url}
    if "EXAMPLE_BACKEND" in os.environ:
        environment["EXAMPLE_BACKEND"] = os.environ["EXAMPLE_BACKEND"]
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, "sessions", "revoke", *args],
        env=environment | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=CHASSIS,
    )


async def test_sec2_the_sessions_command_signs_a_user_out_everywhere_in_one_tenant(
    service: Service,
    database_url: str,
    auth_settings: dict[str, str],
    redis_url: str,
    tokens: TokenFactory,
) -> None:
    """An operator's answer to a stolen account; `alice` of another tenant is another user."""
    settings = replica_settings(
        service, database_url, auth_settings, redis_url, auth_jwt_tenant_claim="org"
    )
    async with two_replicas(service, settings) as replicas:
        first, second = replicas

        def of(tenant: str) -> str:
            return tokens("widgets:read", subject="alice", claims={"org": tenant})

        stolen = await sign_in(first, of("acme"))
        namesake = await sign_in(second, of("globex"))

        tenant_claim = {"AUTH_JWT_TENANT_CLAIM": "org"}
        untargeted = revoke_sessions(redis_url, "--subject", "alice", env=tenant_claim)
        assert untargeted.returncode == 1
        assert "--tenant is required" in untargeted.stderr
        assert await statuses(replicas, stolen) == [200, 200]  # nothing revoked

        revoked = revoke_sessions(
            redis_url, "--subject", "alice", "--tenant", "acme", env=tenant_claim
        )
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout == ""
        assert "revoked every session of subject 'alice' of tenant 'acme'" in revoked.stderr
        assert redis_url not in revoked.stderr
        later = await sign_in(second, of("acme"))

        assert await statuses(replicas, stolen) == [401, 401]
        assert await statuses(replicas, later) == [200, 200]
        assert await statuses(replicas, namesake) == [200, 200]
