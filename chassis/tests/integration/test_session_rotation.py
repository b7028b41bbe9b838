"""SEC-2: `AUTH_SESSION_SECRET` rotates without signing anyone out.

Each app below is the real service with its own settings, as a rolled-out deployment is: the
one before the rotation (the old secret), the one during it (the new secret, the old one as
`AUTH_SESSION_SECRET_PREVIOUS`) and the one after it (the new secret alone). A browser's cookies
are carried from one to the next. The CSRF token is signed with the same secret, so the
cookie-authenticated write is the check that it rotates too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import httpx
import pytest

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.databases import delete_all_rows

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

ORIGIN = "https://testserver"
OLD = "the-secret-being-replaced-32-characters-long"
NEW = "the-secret-replacing-it-also-32-characters-long"


class Deploy(Protocol):
    def __call__(
        self, secret: str, previous: str | None = None
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]: ...


@pytest.fixture
def deploy(service: Service, database_url: str, auth_settings: dict[str, str]) -> Deploy:
    @asynccontextmanager
    async def deployed(
        secret: str, previous: str | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        """The service with these session secrets, and a browser on its origin."""
        rotation = {} if previous is None else {"auth_session_secret_previous": previous}
        settings = service.load_settings(
            app_env="test",
            database_url=database_url,
            auth_session_secret=secret,
            **rotation,
            **auth_settings,
        )
        app = service.create_app(settings)
        async with asgi_client(app, base_url=ORIGIN, lifespan=True) as browser:
            yield browser
            await delete_all_rows(service, chassis_of(app).resources.database.engine)

    return deployed


async def sign_in(browser: httpx.AsyncClient, tokens: TokenFactory) -> dict[str, str]:
    """The headers a browser tab sends on a write with the session this opens."""
    response = await browser.post(
        "/v1/auth/session", headers=tokens.headers(*SERVICE.scopes, subject="alice")
    )
    assert response.status_code == 201, response.text
    cookies = {name: browser.cookies[name] for name in ("__Host-session", "__Host-csrf")}
    return {
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "X-CSRF-Token": response.json()["csrf_token"],
        "Origin": ORIGIN,
    }


async def who(browser: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await browser.get("/v1/auth/session", headers=headers)).status_code


async def write(browser: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await browser.post("/v1/widgets", json={"name": "after the rotation"}, headers=headers)


async def test_sec2_a_session_from_before_the_rotation_lasts_while_previous_is_set(
    deploy: Deploy, tokens: TokenFactory
) -> None:
    async with deploy(OLD) as before:
        opened_before = await sign_in(before, tokens)
    async with deploy(NEW, previous=OLD) as during:
        whoami = await during.get("/v1/auth/session", headers=opened_before)
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["method"] == "session"
        written = await write(during, opened_before)  # its CSRF token was signed with OLD too
        assert written.status_code == 201, written.text
    async with deploy(NEW) as after:
        refused = await after.get("/v1/auth/session", headers=opened_before)
        assert refused.status_code == 401
        assert "session is invalid or expired" in refused.json()["detail"]
        assert (await write(after, opened_before)).status_code == 401


async def test_sec2_sessions_opened_during_the_rotation_are_signed_with_the_new_secret(
    deploy: Deploy, tokens: TokenFactory
) -> None:
    async with deploy(NEW, previous=OLD) as during:
        opened_during = await sign_in(during, tokens)
    async with deploy(NEW) as after:
        assert await who(after, opened_during) == 200
        written = await write(after, opened_during)
        assert written.status_code == 201, written.text
    async with deploy(OLD) as before:
        assert await who(before, opened_during) == 401
