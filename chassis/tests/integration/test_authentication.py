"""SEC-3: every route is authenticated unless marked public; bad tokens get 401, never a 500."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from goldenpath_chassis import ChassisSettings, Service
from goldenpath_chassis._core.security.dev_keys import SigningKey, generate_signing_key
from goldenpath_chassis.security import Public, route_access
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    TokenFactory,
    bearer,
    claims_of,
    forge_token,
    with_claims,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
SCHEMES = {"bearerToken", "apiKey", "sessionCookie"}


def concrete(path: str) -> str:
    """A real URL for a route template: every path parameter becomes a UUID."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


async def test_sec3_every_route_requires_authentication_unless_public(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    routes = route_access(app)
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    # The walk sees every documented operation (and the undocumented routes too).
    assert documented <= set(routes), documented - set(routes)
    assert all(access is not None for access in routes.values()), routes

    public = {route for route, access in routes.items() if access == "public"}
    assert {("GET", "/health/live"), ("GET", "/health/ready")} <= public
    # Open by design: probes, the API description and its docs page, fingerprinted assets.
    open_prefixes = ("/health/", "/docs", "/openapi.json", "/static/")
    assert all(path.startswith(open_prefixes) for _, path in public), public
    # /metrics is not among them (it needs `metrics:read`).
    assert routes[("GET", "/metrics")] == "authenticated"

    protected = sorted(route for route, access in routes.items() if access == "authenticated")
    # The walk reaches the service's own domains, not only the chassis's routes.
    assert {("POST", "/v1/widgets"), ("GET", "/v1/widgets/{widget_id}")} <= set(protected)
    for method, path in protected:
        response = await anonymous_client.request(method, concrete(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:problem-type:authentication-required"
    for method, path in sorted(public):
        if method == "HEAD":
            continue
        response = await anonymous_client.request(method, concrete(path))
        assert response.status_code != 401, (method, path)


async def test_sec3_a_route_without_an_access_declaration_stops_start_up(
    service: Service, settings: ChassisSettings
) -> None:
    app = service.create_app(settings)

    @app.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"oops": "open"}

    with pytest.raises(RuntimeError, match="GET /v1/forgotten"):
        async with LifespanManager(app):
            pass


async def test_sec3_a_declared_route_does_not_hide_an_undeclared_one_on_its_path(
    service: Service, settings: ChassisSettings
) -> None:
    """The first of two routes with one method and path answers the requests: here the
    undeclared one, which anyone could call had the declared one vouched for the path."""
    app = service.create_app(settings)

    @app.get("/v1/shadowed")
    async def undeclared() -> dict[str, str]:
        return {"oops": "open"}

    @app.get("/v1/shadowed", dependencies=[Public])
    async def declared() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /v1/shadowed"):
        async with LifespanManager(app):
            pass


async def test_sec3_openapi_shows_each_operations_schemes_and_scopes(app: FastAPI) -> None:
    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == SCHEMES
    assert schemes["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerToken"]["description"],
    }
    assert schemes["apiKey"]["in"] == "header"
    assert schemes["sessionCookie"]["in"] == "cookie"

    def requirements(path: str, method: str) -> list[dict[str, list[str]]]:
        result: list[dict[str, list[str]]] = document["paths"][path][method]["security"]
        return result

    # One alternative per scheme (any one credential will do), each naming the scopes.
    assert requirements("/v1/widgets", "post") == [
        {"bearerToken": ["widgets:write"]},
        {"apiKey": ["widgets:write"]},
        {"sessionCookie": ["widgets:write"]},
    ]
    assert {"bearerToken": ["widgets:read"]} in requirements("/v1/widgets/{widget_id}", "get")
    assert "security" not in document["paths"]["/health/live"]["get"]
    for status in ("401", "403", "429"):
        assert status in document["paths"]["/v1/widgets"]["post"]["responses"]


async def test_sec3_a_valid_token_with_the_scope_is_accepted(
    anonymous_client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await anonymous_client.get("/v1/widgets", headers=tokens.headers("widgets:read"))
    assert response.status_code == 200
    whoami = await anonymous_client.get(
        "/v1/auth/session", headers=tokens.headers("widgets:read", subject="alice")
    )
    assert whoami.json() == {"subject": "alice", "scopes": ["widgets:read"], "method": "bearer"}


async def test_sec3_a_valid_token_without_the_scope_is_a_403_naming_it(
    anonymous_client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await anonymous_client.post(
        "/v1/widgets", json={"name": "nope"}, headers=tokens.headers("widgets:read")
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:problem-type:insufficient-scope"
    assert "widgets:write" in response.json()["detail"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="widgets:write"' in response.headers["www-authenticate"]
    listed = await anonymous_client.get("/v1/widgets", headers=tokens.headers("widgets:read"))
    assert listed.json()["items"] == []  # nothing was written


def _flip_last_character(token: str) -> str:
    # Flip a bit that survives base64 decoding: change the second-to-last character.
    replacement = "A" if token[-2] != "A" else "B"
    return token[:-2] + replacement + token[-1]


def _bad_tokens(key: SigningKey, other_key: SigningKey) -> dict[str, tuple[str, str]]:
    """Each token that must be refused, with the reason the response must give."""
    good = key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, scopes=["widgets:read"])
    claims = claims_of(good)
    now = int(time.time())
    return {
        "alg none": (
            forge_token({"alg": "none", "typ": "JWT"}, claims),
            "algorithm not allowed",
        ),
        "HS256 signed with the public key": (
            forge_token(
                {"alg": "HS256", "typ": "JWT", "kid": key.kid},
                claims,
                hmac_key=key.public_pem.encode(),
            ),
            "algorithm not allowed",
        ),
        "expired": (
            key.mint(
                issuer=TEST_ISSUER,
                audience=TEST_AUDIENCE,
                claims={"iat": now - 7200, "exp": now - 3600},
            ),
            "token expired",
        ),
        "wrong audience": (
            key.mint(issuer=TEST_ISSUER, audience="someone-else"),
            "wrong audience",
        ),
        "wrong issuer": (
            key.mint(issuer="https://evil.example", audience=TEST_AUDIENCE),
            "wrong issuer",
        ),
        "missing sub": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims={"sub": None}),
            "missing claim sub",
        ),
        "missing exp": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims={"exp": None}),
            "missing claim exp",
        ),
        "missing iat": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims={"iat": None}),
            "missing claim iat",
        ),
        "issued in the future": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims={"iat": now + 3600}),
            "token not valid yet",
        ),
        "malformed": ("not-a-jwt", "malformed token"),
        "three garbage segments": ("a.b.c", "malformed token"),
        "tampered signature": (_flip_last_character(good), "signature does not verify"),
        "tampered claims": (
            with_claims(good, {"scope": "widgets:read widgets:write admin"}),
            "signature does not verify",
        ),
        "signed by another key": (
            other_key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE),
            "signature does not verify",
        ),
        # RFC 8725 section 3.11: JWTs of other kinds that say so are not access tokens.
        "typ of a logout token": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, headers={"typ": "logout+jwt"}),
            "token type (typ) not accepted",
        ),
        "typ of a DPoP proof": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, headers={"typ": "dpop+jwt"}),
            "token type (typ) not accepted",
        ),
        "typ of a typed ID token": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, headers={"typ": "id_token+jwt"}),
            "token type (typ) not accepted",
        ),
        "typ of Okta's own API tokens": (
            key.mint(
                issuer=TEST_ISSUER,
                audience=TEST_AUDIENCE,
                headers={"typ": "application/okta-internal-at+jwt"},
            ),
            "token type (typ) not accepted",
        ),
        # RFC 7515 section 4.1.11: an extension the token marks critical, which no one here
        # understands, makes it invalid (PyJWT before 2.12 ignored `crit`, CVE-2026-32597).
        "a critical extension not understood": (
            key.mint(
                issuer=TEST_ISSUER,
                audience=TEST_AUDIENCE,
                scopes=["widgets:read"],
                headers={"crit": ["x-require-mfa"], "x-require-mfa": True},
            ),
            "malformed token",
        ),
        "typ is not a string": (
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, headers={"typ": ["JWT"]}),
            "malformed token",
        ),
        "scope is not a string": (
            key.mint(
                issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims={"scope": ["widgets:read"]}
            ),
            "scope must be a space-separated string",
        ),
    }


BAD_TOKEN_CASES = sorted(_bad_tokens(generate_signing_key(), generate_signing_key()))


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_sec3_bad_tokens_are_401_with_the_reason(
    anonymous_client: httpx.AsyncClient, signing_key: SigningKey, case: str
) -> None:
    token, reason = _bad_tokens(signing_key, generate_signing_key())[case]
    for method, path in (("GET", "/v1/widgets"), ("POST", "/v1/widgets")):
        response = await anonymous_client.request(
            method, path, json={"name": "x"}, headers=bearer(token)
        )
        assert response.status_code == 401, (case, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:problem-type:invalid-credentials"
        assert reason in response.json()["detail"]
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "typ", [None, "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"]
)
async def test_sec3_access_token_types_are_accepted(
    anonymous_client: httpx.AsyncClient, tokens: TokenFactory, typ: str | None
) -> None:
    """What identity providers put on access tokens: nothing or `JWT` (Entra, Keycloak, Okta,
    Auth0's default profile), or RFC 9068's `at+jwt`, in any case, with or without `application/`
    (PyJWT leaves out a `typ` of None)."""
    token = tokens("widgets:read", headers={"typ": typ})
    assert ("typ" in jwt.get_unverified_header(token)) is (typ is not None)
    response = await anonymous_client.get("/v1/widgets", headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_sec3_auth_jwt_token_types_narrows_the_accepted_types(
    service: Service, database_url: str, auth_settings: dict[str, str], tokens: TokenFactory
) -> None:
    settings = service.load_settings(
        app_env="test", database_url=database_url, auth_jwt_token_types="at+jwt", **auth_settings
    )
    async with asgi_client(service.create_app(settings), lifespan=True) as http:
        typed = tokens("widgets:read", headers={"typ": "at+jwt"})
        assert (await http.get("/v1/widgets", headers=bearer(typed))).status_code == 200
        for untyped in ("JWT", None):
            token = tokens("widgets:read", headers={"typ": untyped})
            refused = await http.get("/v1/widgets", headers=bearer(token))
            assert refused.status_code == 401
            assert "token type (typ) not accepted" in refused.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    [
        b"Basic dXNlcjpwYXNz",
        b"Bearer",
        b"Token abc",
        "Bearer \u00e9t\u00e9.\u00e9.\u00e9".encode(),
        b"Bearer " + b"x" * 9000,
        b"Bearer a.b",
    ],
)
async def test_sec3_other_authorization_headers_are_401_never_500(
    anonymous_client: httpx.AsyncClient, authorization: bytes
) -> None:
    response = await anonymous_client.get(
        "/v1/widgets", headers=[(b"authorization", authorization)]
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
