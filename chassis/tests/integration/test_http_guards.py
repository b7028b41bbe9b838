"""SEC-1 and SEC-5: body size limit, sanitized HTML, security headers and CORS on every response."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Response
from starlette.types import Message

from goldenpath_chassis import ChassisSettings, Service
from goldenpath_chassis.security import RequireScopes
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory

from tests.example.widgets import DESCRIPTION_MAX

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
FRONTEND = "https://app.example.com"


BODY_LIMIT = 4096


def guarded_settings(
    service: Service, database_url: str, auth_settings: dict[str, str], **changes: object
) -> ChassisSettings:
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        request_max_body_bytes=BODY_LIMIT,
        cors_allow_origins=FRONTEND,
        **auth_settings,
        **changes,
    )


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    return guarded_settings(service, database_url, auth_settings)


# --- SEC-1: body size ----------------------------------------------------------------------------
async def test_sec1_a_declared_oversized_body_is_413_before_anything_reads_it(
    app: FastAPI,
) -> None:
    received: list[Message] = []
    sent: list[Message] = []

    async def receive() -> Message:
        received.append({"type": "http.request"})
        return {"type": "http.request", "body": b"x" * 10_000, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/widgets",
        "raw_path": b"/v1/widgets",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"10000"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == []  # not one byte of the body was read


async def test_sec1_a_streamed_oversized_body_stops_at_the_limit(
    client: httpx.AsyncClient,
) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(100):
            chunks_sent += 1
            yield b'{"name": "' + b"x" * 1000

    response = await client.post(
        "/v1/widgets", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert "4096 bytes" in response.json()["detail"]
    assert chunks_sent < 10  # the rest of the body was never pulled


async def test_sec1_a_body_within_the_limit_passes(client: httpx.AsyncClient) -> None:
    body = json.dumps({"name": "small", "description": "x" * DESCRIPTION_MAX}).encode()
    exactly_the_limit = body + b" " * (BODY_LIMIT - len(body))  # JSON allows trailing spaces
    response = await client.post(
        "/v1/widgets", content=exactly_the_limit, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


# --- SEC-1: HTML sanitizing --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "stored"),
    [
        ("<script>alert(1)</script>Hello", "Hello"),
        ('<img src=x onerror="alert(1)">Hi', "Hi"),
        # nh3 releases differ on whether a link whose href was removed still gets `rel`.
        (
            '<a href="javascript:alert(1)">link</a>',
            ('<a rel="noopener noreferrer nofollow">link</a>', "<a>link</a>"),
        ),
        ('<b onclick="steal()">bold</b>', "<b>bold</b>"),
        ("<svg><script>alert(1)</script></svg>ok", "ok"),
        ("<style>body{display:none}</style>text", "text"),
        ('<iframe src="https://evil.example"></iframe>x', "x"),
        ("a < b & c", "a &lt; b &amp; c"),
        (
            '<p>A <em>fine</em> <a href="https://example.com">link</a></p>',
            '<p>A <em>fine</em> <a href="https://example.com" rel="noopener noreferrer nofollow">'
            "link</a></p>",
        ),
        # A `rel` of the client's own is replaced: the page never opens a link with its opener.
        (
            '<a href="https://example.com" rel="opener">x</a>',
            '<a href="https://example.com" rel="noopener noreferrer nofollow">x</a>',
        ),
    ],
)
async def test_sec1_html_in_descriptions_is_stored_inert(
    client: httpx.AsyncClient, payload: str, stored: str | tuple[str, ...]
) -> None:
    accepted = stored if isinstance(stored, tuple) else (stored,)
    created = await client.post("/v1/widgets", json={"name": "html", "description": payload})
    assert created.status_code == 201, created.text
    assert created.json()["description"] in accepted
    fetched = await client.get(f"/v1/widgets/{created.json()['id']}")
    assert fetched.json()["description"] == created.json()["description"]
    updated = await client.patch(
        f"/v1/widgets/{created.json()['id']}", json={"description": payload + "!"}
    )
    assert "<script" not in updated.json()["description"]
    assert "onerror" not in updated.json()["description"]


async def test_sec1_text_that_grows_when_escaped_is_stored_whole(
    client: httpx.AsyncClient,
) -> None:
    """Escaping may make a valid description five times longer: it is kept, not cut or refused."""
    longest = DESCRIPTION_MAX
    response = await client.post("/v1/widgets", json={"name": "amp", "description": "&" * longest})
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "&amp;" * longest
    fetched = await client.get(f"/v1/widgets/{response.json()['id']}")
    assert fetched.json()["description"] == "&amp;" * longest  # stored whole, not only echoed


# --- SEC-5: headers ----------------------------------------------------------------------------
async def test_sec5_every_response_carries_the_security_headers(
    app: FastAPI, anonymous_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    @app.get("/test/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("unexpected")

    responses = [
        await anonymous_client.get("/health/live"),  # 200
        await anonymous_client.get("/v1/widgets"),  # 401
        await client.get("/v1/nothing"),  # 404
        await client.post("/v1/widgets", content=b"x" * 5000),  # 413
        await client.get("/v1/widgets", params={"limit": "many"}),  # 422
        await anonymous_client.get("/test/boom"),  # 500
        await anonymous_client.get("/openapi.json"),
    ]
    assert [r.status_code for r in responses] == [200, 401, 404, 413, 422, 500, 200]
    for response in responses:
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp


async def test_sec5_the_docs_page_works_under_its_csp_without_inline_script(
    anonymous_client: httpx.AsyncClient,
) -> None:
    page = await anonymous_client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src.group(1)
    assert "'unsafe-eval'" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts
    for attributes, body in scripts:
        assert body.strip() == "", "inline script would be blocked by the CSP"
        source = re.search(r'src="([^"]+)"', attributes)
        assert source is not None
        url = source.group(1)
        assert url.startswith("/") or any(
            url.startswith(allowed) for allowed in script_src.group(1).split()
        )
    init = await anonymous_client.get("/docs/swagger-ui-init.js")
    assert init.status_code == 200
    assert init.headers["content-type"].startswith("text/javascript")
    assert '"/openapi.json"' in init.text
    # The JSON API keeps the strict policy.
    assert (await anonymous_client.get("/openapi.json")).headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


async def test_sec5_docs_can_be_switched_off(
    service: Service, database_url: str, auth_settings: dict[str, str]
) -> None:
    app = service.create_app(
        guarded_settings(service, database_url, auth_settings, docs_enabled=False)
    )
    async with asgi_client(app, lifespan=True) as http:
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 404


# --- SEC-5: CORS -------------------------------------------------------------------------------
async def test_sec5_cors_allows_only_listed_origins(
    anonymous_client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    preflight = await anonymous_client.options(
        "/v1/widgets",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-csrf-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONTEND
    assert preflight.headers["access-control-allow-credentials"] == "true"

    refused = await anonymous_client.options(
        "/v1/widgets",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    # Error responses carry CORS headers too, so the page can read why it was refused.
    denied = await anonymous_client.get("/v1/widgets", headers={"Origin": FRONTEND})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == FRONTEND
    assert "x-request-id" in denied.headers["access-control-expose-headers"].lower()
    other = await anonymous_client.get(
        "/v1/widgets", headers={"Origin": "https://evil.example", **tokens.headers("widgets:read")}
    )
    assert "access-control-allow-origin" not in other.headers


async def test_sec5_docs_are_off_in_production_unless_enabled(
    service: Service, database_url: str, redis_url: str, auth_settings: dict[str, str]
) -> None:
    production = {
        "app_env": "production",
        "redis_url": redis_url,
        "auth_session_secret": "a-production-secret-of-at-least-32-characters",
        "database_url": database_url,
        **auth_settings,
    }
    for changes, served in (({}, False), ({"docs_enabled": True}, True)):
        app = service.create_app(service.load_settings(**production, **changes))
        async with asgi_client(app, lifespan=True) as http:
            for path in ("/docs", "/openapi.json", "/docs/swagger-ui-init.js"):
                response = await http.get(path)
                assert response.status_code == (200 if served else 404), (changes, path)


# --- No redirect built from request headers ----------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/widgets/", "/v1/auth/session/", "/health/live/"])
async def test_sec5_a_trailing_slash_is_a_404_never_a_redirect_to_the_host_header(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404, response.headers
    assert "location" not in response.headers
    assert response.headers["content-type"] == PROBLEM
    assert "evil.example" not in response.text


# --- Cache-Control on authenticated responses ---------------------------------------------------
async def test_sec5_authenticated_responses_are_never_stored_by_caches(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous_client: httpx.AsyncClient,
    tokens: TokenFactory,
) -> None:
    created = await client.post("/v1/widgets", json={"name": "private"})
    widget = f"/v1/widgets/{created.json()['id']}"
    authenticated = [
        created,  # 201
        await client.get("/v1/widgets"),  # 200
        await client.get(widget),  # 200 with an ETag
        await client.get(f"/v1/widgets/{uuid.uuid4()}"),  # 404 after authentication
        await anonymous_client.get("/v1/widgets", headers=tokens.headers("metrics:read")),  # 403
        await client.get("/v1/auth/session"),
    ]
    for response in authenticated:
        assert response.headers.get("cache-control") == "no-store", response.request.url
    # Public answers keep their own caching.
    assert "cache-control" not in (await anonymous_client.get("/health/live")).headers
    assert (await anonymous_client.get("/docs")).headers["cache-control"] == "no-cache"

    # A route that sets its own Cache-Control keeps it.
    @app.get("/test/cacheable", include_in_schema=False, dependencies=[RequireScopes()])
    async def cacheable(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=60"
        return {"cached": "for a minute"}

    assert (await client.get("/test/cacheable")).headers["cache-control"] == "private, max-age=60"
