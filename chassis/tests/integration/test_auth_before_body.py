"""SEC-3: a request without valid credentials is refused before a byte of its body is read.

FastAPI reads and parses a route's body before it runs the route's dependencies, the
authentication among them, so an anonymous caller could make the service read and parse a
1 MiB body (or a deeply nested one) only to be told 401 after. The chassis authenticates a
protected route's caller, and checks its scopes, on the first read of the body instead: these
tests send every protected route a 1 MiB, deeply nested JSON body through the app's ASGI
interface and count what the app pulled from `receive`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message

from goldenpath_chassis import ChassisSettings, Service, chassis_of
from goldenpath_chassis.security import route_access
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory, bearer, with_claims
from goldenpath_chassis.testing.databases import delete_all_rows

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
CHUNK = 64 * 1024
# 1 MiB of JSON nested half a million levels deep (within the default 1 MiB body limit).
NESTED = b"[" * (MIB // 2 - 8) + b"]" * (MIB // 2 - 8)


@dataclass
class Exchange:
    """One request through the app's ASGI interface, and what the app did with it."""

    status: int = 0
    body: bytes = b""
    reads: int = 0
    messages: list[Message] = field(default_factory=list)

    @property
    def problem(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


async def call(
    app: FastAPI,
    method: str,
    path: str,
    *,
    body: bytes = NESTED,
    headers: dict[str, str] | None = None,
) -> Exchange:
    exchange = Exchange()
    chunks = [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)] or [b""]

    async def receive() -> Message:
        exchange.reads += 1
        if exchange.reads <= len(chunks):
            index = exchange.reads - 1
            return {
                "type": "http.request",
                "body": chunks[index],
                "more_body": index < len(chunks) - 1,
            }
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        exchange.messages.append(message)
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    raw_headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 443),
        "state": {},
    }
    await app(scope, receive, send)
    return exchange


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for (method, path), access in route_access(app).items()
        if access == "authenticated" and method != "HEAD"
    )


async def test_sec3_every_protected_route_refuses_an_anonymous_body_without_reading_it(
    app: FastAPI,
) -> None:
    routes = protected_routes(app)
    assert {("POST", "/v1/widgets"), ("PATCH", "/v1/widgets/{widget_id}")} <= set(routes)
    for method, path in routes:
        exchange = await call(app, method, concrete(path))
        assert exchange.status == 401, (method, path, exchange.body[:300])
        assert exchange.problem["type"] == "urn:problem-type:authentication-required"
        assert exchange.reads == 0, (method, path, exchange.reads)


@pytest.mark.parametrize(
    ("credential", "status", "problem"),
    [
        ("garbage", 401, "invalid-credentials"),
        ("expired", 401, "invalid-credentials"),
        ("wrong audience", 401, "invalid-credentials"),
        ("read scope only", 403, "insufficient-scope"),
        ("unknown api key", 401, "invalid-credentials"),
        ("basic auth", 401, "invalid-credentials"),
    ],
)
async def test_sec3_bad_credentials_and_missing_scopes_are_refused_before_the_body(
    app: FastAPI, tokens: TokenFactory, credential: str, status: int, problem: str
) -> None:
    token = tokens("widgets:read")
    headers = {
        "garbage": bearer("not.a.token"),
        "expired": bearer(tokens("widgets:write", ttl_seconds=-3600)),
        "wrong audience": bearer(with_claims(token, {"aud": "someone-else"})),
        "read scope only": bearer(token),
        "unknown api key": {"X-API-Key": "ak_000000000000_" + "x" * 43},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[credential]
    for method, path in (("POST", "/v1/widgets"), ("PATCH", f"/v1/widgets/{uuid.uuid4()}")):
        exchange = await call(app, method, path, headers=headers)
        assert exchange.status == status, (credential, exchange.body[:300])
        assert exchange.problem["type"] == f"urn:problem-type:{problem}"
        assert exchange.reads == 0, (credential, method)


async def test_sec2_a_cookie_write_that_fails_csrf_is_refused_before_the_body(
    app: FastAPI, tokens: TokenFactory
) -> None:
    async with asgi_client(app, base_url="https://testserver") as browser:
        opened = await browser.post("/v1/auth/session", headers=tokens.headers("widgets:write"))
        assert opened.status_code == 201
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    exchange = await call(
        app,
        "POST",
        "/v1/widgets",
        headers={"Cookie": cookie, "Origin": "https://evil.example", "X-CSRF-Token": "x"},
    )
    assert exchange.status == 403
    assert exchange.problem["type"] == "urn:problem-type:csrf-rejected"
    assert exchange.reads == 0


async def test_sec3_an_authorized_caller_still_has_its_body_read_and_validated(
    app: FastAPI, tokens: TokenFactory
) -> None:
    writer = bearer(tokens("widgets:write"))
    nested = await call(app, "POST", "/v1/widgets", headers=writer)
    assert nested.status == 400  # the parser refuses the depth
    assert nested.reads == len(NESTED) // CHUNK + (len(NESTED) % CHUNK > 0)
    created = await call(
        app, "POST", "/v1/widgets", body=orjson.dumps({"name": "read"}), headers=writer
    )
    assert created.status == 201, created.body
    invalid = await call(app, "POST", "/v1/widgets", body=b'{"name": 1}', headers=writer)
    assert invalid.status == 422


async def test_sec4_a_request_authenticated_before_its_body_is_counted_once(
    service: Service, database_url: str, auth_settings: dict[str, str], tokens: TokenFactory
) -> None:
    settings: ChassisSettings = service.load_settings(
        app_env="test",
        database_url=database_url,
        rate_limit_per_principal="3/minute",
        **auth_settings,
    )
    app = service.create_app(settings)
    writer = bearer(tokens("widgets:write", subject=f"counted-{uuid.uuid4().hex}"))
    async with asgi_client(app, lifespan=True):
        statuses = []
        for number in range(4):
            body = orjson.dumps({"name": f"counted {number}"})
            exchange = await call(app, "POST", "/v1/widgets", body=body, headers=writer)
            statuses.append((exchange.status, exchange.reads))
        await delete_all_rows(service, chassis_of(app).resources.database.engine)
    assert statuses[:3] == [(201, 1)] * 3
    assert statuses[3] == (429, 0)
