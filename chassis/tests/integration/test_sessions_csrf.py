"""SEC-2: browser sessions by cookie, and CSRF checks on what they change.

The client talks HTTPS (`https://testserver`) so that `Secure` cookies travel, as in a browser.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core.security.session import SessionCodec
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory, bearer, claims_of

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

ORIGIN = "https://testserver"
SAME_ORIGIN = {"Origin": ORIGIN}
ALL_SCOPES = tuple(SERVICE.scopes)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client, like a browser tab on the service's own origin."""
    async with asgi_client(app, base_url=ORIGIN) as http:
        yield http


async def sign_in(browser: httpx.AsyncClient, tokens: TokenFactory) -> str:
    response = await browser.post(
        "/v1/auth/session", headers=tokens.headers(*ALL_SCOPES, subject="alice")
    )
    assert response.status_code == 201, response.text
    csrf_token: str = response.json()["csrf_token"]
    return csrf_token


async def count_widgets(browser: httpx.AsyncClient) -> int:
    return len((await browser.get("/v1/widgets")).json()["items"])


async def test_sec2_signing_in_sets_hardened_cookies(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await browser.post(
        "/v1/auth/session", headers=tokens.headers("widgets:read", subject="alice")
    )
    assert response.status_code == 201
    body = response.json()
    assert body["subject"] == "alice"
    assert body["scopes"] == ["widgets:read"]
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    session, csrf = cookies["__Host-session"], cookies["__Host-csrf"]
    for cookie in (session, csrf):
        assert cookie["secure"]
        assert cookie["path"] == "/"
        assert not cookie["domain"]  # __Host- cookies are bound to this host
        assert cookie["samesite"].lower() == "strict"
    assert session["httponly"]
    assert not csrf["httponly"]  # the page's script reads it
    assert csrf.value == body["csrf_token"]


async def test_sec2_the_session_cookie_authenticates_reads(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await sign_in(browser, tokens)
    whoami = await browser.get("/v1/auth/session")
    assert whoami.json() == {"subject": "alice", "scopes": sorted(ALL_SCOPES), "method": "session"}
    assert (await browser.get("/v1/widgets")).status_code == 200


async def test_sec2_a_write_with_token_and_same_origin_passes(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    csrf_token = await sign_in(browser, tokens)
    response = await browser.post(
        "/v1/widgets",
        json={"name": "from the browser"},
        headers={"X-CSRF-Token": csrf_token, **SAME_ORIGIN},
    )
    assert response.status_code == 201, response.text
    fetch_metadata_only = await browser.post(
        "/v1/widgets",
        json={"name": "fetch metadata"},
        headers={"X-CSRF-Token": csrf_token, "Sec-Fetch-Site": "same-origin"},
    )
    assert fetch_metadata_only.status_code == 201


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (SAME_ORIGIN, "header or the __Host-csrf cookie is missing"),
        ({"X-CSRF-Token": "{token}"}, "neither Origin nor Sec-Fetch-Site"),
        ({"X-CSRF-Token": "{token}", "Origin": "https://evil.example"}, "another origin"),
        ({"X-CSRF-Token": "{token}", "Origin": "null"}, "another origin"),
        ({"X-CSRF-Token": "{token}", "Sec-Fetch-Site": "cross-site"}, "another site"),
        ({"X-CSRF-Token": "{token}", "Sec-Fetch-Site": "same-site"}, "another site"),
        ({"X-CSRF-Token": "forged.token", **SAME_ORIGIN}, "does not match"),
    ],
)
async def test_sec2_cookie_writes_without_proof_are_403_and_change_nothing(
    browser: httpx.AsyncClient, tokens: TokenFactory, headers: dict[str, str], reason: str
) -> None:
    csrf_token = await sign_in(browser, tokens)
    headers = {name: value.replace("{token}", csrf_token) for name, value in headers.items()}
    for method, path in (("POST", "/v1/widgets"), ("DELETE", "/v1/auth/session")):
        response = await browser.request(method, path, json={"name": "csrf"}, headers=headers)
        assert response.status_code == 403, (method, response.text)
        assert response.json()["type"] == "urn:problem-type:csrf-rejected"
        assert reason in response.json()["detail"]
    assert await count_widgets(browser) == 0


def cookie_header(client: httpx.AsyncClient, replacements: dict[str, str]) -> dict[str, str]:
    """The client's session cookies as an explicit header, some values replaced."""
    cookies = {name: client.cookies[name] for name in ("__Host-session", "__Host-csrf")}
    cookies |= replacements
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def test_sec2_a_token_from_another_session_is_worthless(
    app: FastAPI, browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await sign_in(browser, tokens)
    async with asgi_client(app, base_url=ORIGIN) as attacker:
        stolen = await sign_in(attacker, tokens)
    # Plant the attacker's valid token in both places (as a cookie-tossing attacker could).
    response = await browser.post(
        "/v1/widgets",
        json={"name": "x"},
        headers={
            "X-CSRF-Token": stolen,
            **SAME_ORIGIN,
            **cookie_header(browser, {"__Host-csrf": stolen}),
        },
    )
    assert response.status_code == 403
    assert "does not belong to this session" in response.json()["detail"]


async def test_sec2_bearer_requests_are_exempt_even_with_a_session_cookie(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await sign_in(browser, tokens)
    response = await browser.post(
        "/v1/widgets",
        json={"name": "server to server"},
        headers={
            **tokens.headers("widgets:write", subject="robot"),
            "Origin": "https://evil.example",
        },
    )
    assert response.status_code == 201, response.text


async def test_sec2_a_forged_or_expired_session_cookie_is_401(
    app: FastAPI, browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await sign_in(browser, tokens)
    payload, _, signature = browser.cookies["__Host-session"].rpartition(".")
    forged = cookie_header(browser, {"__Host-session": payload + "x." + signature})
    assert (await browser.get("/v1/widgets", headers=forged)).status_code == 401

    # Signed with the service's secret, but issued two hours ago for one hour.
    issued_earlier = SessionCodec(
        chassis_of(app).settings.sessions.secret.get_secret_value(),
        max_age_seconds=3600,
        clock=lambda: time.time() - 7200,
    )
    expired, _ = issued_earlier.issue(subject="alice", scopes=["widgets:read"])
    response = await browser.get(
        "/v1/widgets", headers=cookie_header(browser, {"__Host-session": expired})
    )
    assert response.status_code == 401
    assert "session is invalid or expired" in response.json()["detail"]


async def test_sec2_only_a_bearer_token_opens_a_session(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    csrf_token = await sign_in(browser, tokens)
    # A session cannot extend itself: opening one needs a bearer token every time.
    again = await browser.post(
        "/v1/auth/session", headers={"X-CSRF-Token": csrf_token, **SAME_ORIGIN}
    )
    assert again.status_code == 403, again.text
    assert again.json()["type"] == "urn:problem-type:bearer-token-required"


async def test_sec2_signing_out_clears_the_cookies(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    csrf_token = await sign_in(browser, tokens)
    response = await browser.delete(
        "/v1/auth/session", headers={"X-CSRF-Token": csrf_token, **SAME_ORIGIN}
    )
    assert response.status_code == 204
    assert "__Host-session" not in browser.cookies
    assert (await browser.get("/v1/widgets")).status_code == 401


async def test_sec2_plain_http_clients_never_send_the_secure_cookie(
    app: FastAPI, tokens: TokenFactory
) -> None:
    async with asgi_client(app) as http:
        response = await http.post("/v1/auth/session", headers=bearer(tokens("widgets:read")))
        assert response.status_code == 201
        assert (await http.get("/v1/widgets")).status_code == 401


# --- A session's lifetime, and signing out on every replica --------------------------------------
def session_codec_at(app: FastAPI, moment: float) -> SessionCodec:
    """A codec with the app's secret whose clock reads `moment`: what the app will see then."""
    return SessionCodec(
        chassis_of(app).settings.sessions.secret.get_secret_value(),
        max_age_seconds=chassis_of(app).settings.sessions.max_age_seconds,
        clock=lambda: moment,
    )


async def test_sec2_a_session_ends_when_the_token_that_opened_it_expires(
    app: FastAPI, browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    token = tokens("widgets:read", subject="alice", ttl_seconds=60)
    token_expires = claims_of(token)["exp"]
    response = await browser.post("/v1/auth/session", headers=bearer(token))
    assert response.status_code == 201, response.text
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert expires_at == datetime.fromtimestamp(token_expires, UTC)
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    for name in ("__Host-session", "__Host-csrf"):
        assert 0 < int(cookies[name]["max-age"]) <= 60, cookies[name]
    cookie = browser.cookies["__Host-session"]
    assert session_codec_at(app, token_expires - 1).read(cookie) is not None
    # Not the eight hours of AUTH_SESSION_MAX_AGE_SECONDS: the token's own expiry.
    assert session_codec_at(app, token_expires).read(cookie) is None


async def test_sec2_a_copied_cookie_is_refused_after_signing_out(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """Without Redis (development, tests): the revocation is kept in the process's memory."""
    csrf_token = await sign_in(browser, tokens)
    copied = cookie_header(browser, {})
    assert (await browser.get("/v1/widgets", headers=copied)).status_code == 200
    signed_out = await browser.delete(
        "/v1/auth/session", headers={"X-CSRF-Token": csrf_token, **SAME_ORIGIN}
    )
    assert signed_out.status_code == 204
    replayed = await browser.get("/v1/widgets", headers=copied)
    assert replayed.status_code == 401, replayed.text
    assert "signed out" in replayed.json()["detail"]
    write = await browser.post(
        "/v1/widgets",
        json={"name": "after sign-out"},
        headers={"X-CSRF-Token": csrf_token, **SAME_ORIGIN, **copied},
    )
    assert write.status_code == 401
    assert await count_widgets_with(browser, tokens) == 0


async def test_sec2_signing_out_with_a_bearer_token_too_revokes_the_cookies_session(
    browser: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """The bearer token decides who is calling, but the cookie sent along is what signs out."""
    csrf_token = await sign_in(browser, tokens)
    copied = cookie_header(browser, {})
    with_token = tokens.headers("widgets:read", subject="alice")
    # Still a change made with the cookie: without the CSRF proof it is refused, and kept.
    refused = await browser.delete("/v1/auth/session", headers=with_token)
    assert refused.status_code == 403, refused.text
    assert (await browser.get("/v1/auth/session", headers=copied)).status_code == 200

    signed_out = await browser.delete(
        "/v1/auth/session", headers={**with_token, "X-CSRF-Token": csrf_token, **SAME_ORIGIN}
    )
    assert signed_out.status_code == 204, signed_out.text
    replayed = await browser.get("/v1/auth/session", headers=copied)
    assert replayed.status_code == 401, replayed.text
    assert "signed out" in replayed.json()["detail"]


async def count_widgets_with(browser: httpx.AsyncClient, tokens: TokenFactory) -> int:
    response = await browser.get("/v1/widgets", headers=tokens.headers("widgets:read"))
    return len(response.json()["items"])


# --- CSRF: what an Origin header may hold --------------------------------------------------------
@pytest.mark.parametrize(
    "origin",
    [
        "http://[",  # not a URL at all: urlsplit raises on it
        "http://[::1",
        "https://[not-an-address]",
        "http://testserver",  # this host, but over plain HTTP: another origin
        "https://testserver:8443",
        "https://testserver.evil.example",
        "ftp://testserver",
    ],
)
async def test_sec2_an_unparseable_or_other_scheme_origin_is_another_origin(
    browser: httpx.AsyncClient, tokens: TokenFactory, origin: str
) -> None:
    csrf_token = await sign_in(browser, tokens)
    response = await browser.post(
        "/v1/widgets",
        json={"name": "csrf"},
        headers={"X-CSRF-Token": csrf_token, "Origin": origin},
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "urn:problem-type:csrf-rejected"
    assert "another origin" in response.json()["detail"]
    assert await count_widgets(browser) == 0
