"""SEC-3: keys from a JWKS URL, fetched without blocking, cached, refreshed at a bounded rate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Service
from goldenpath_chassis._core.security.dev_keys import SigningKey, generate_signing_key
from goldenpath_chassis._core.security.jwt import (
    JwksKeySource,
    JwtVerifier,
    KeySetUnavailableError,
    TokenRejectedError,
)
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TEST_AUDIENCE, TEST_ISSUER, bearer

from tests.support.jwks import JwksEndpoint, published_jwk, serve_jwks, sign_unchecked
from tests.support.unbounded_server import unbounded_server

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp_key() -> SigningKey:
    return generate_signing_key(kid="idp-key-1")


@pytest.fixture
def jwks(idp_key: SigningKey) -> Iterator[JwksEndpoint]:
    with serve_jwks(idp_key.public_jwk) as endpoint:
        yield endpoint


def jwks_settings(service: Service, database_url: str, jwks_url: str) -> ChassisSettings:
    """The test issuer's settings, with the key set published at `jwks_url` (no static key)."""
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        auth_jwt_issuer=TEST_ISSUER,
        auth_jwt_audience=TEST_AUDIENCE,
        auth_jwt_jwks_url=jwks_url,
    )


@pytest.fixture
async def jwks_client(
    service: Service, database_url: str, jwks: JwksEndpoint
) -> AsyncIterator[httpx.AsyncClient]:
    app = service.create_app(jwks_settings(service, database_url, jwks.url))
    async with asgi_client(app, lifespan=True) as http:
        yield http


def mint(key: SigningKey, **options: object) -> str:
    return key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, scopes=["widgets:read"], **options)  # type: ignore[arg-type]


async def test_sec3_a_token_signed_by_a_published_key_is_accepted(
    jwks_client: httpx.AsyncClient, jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    for _ in range(5):
        response = await jwks_client.get("/v1/widgets", headers=bearer(mint(idp_key)))
        assert response.status_code == 200, response.text
    assert jwks.fetches == 1  # fetched once, then cached


async def test_sec3_unknown_kids_are_401_and_cannot_hammer_the_identity_provider(
    jwks_client: httpx.AsyncClient, jwks: JwksEndpoint
) -> None:
    for number in range(30):
        stranger = generate_signing_key(kid=f"unknown-{number}")
        response = await jwks_client.get("/v1/widgets", headers=bearer(mint(stranger)))
        assert response.status_code == 401
        assert "unknown key id" in response.json()["detail"]
    # One fetch on first use; unknown kids may refresh at most once per 30 s.
    assert jwks.fetches == 1


async def test_sec3_a_rotated_key_is_picked_up_after_the_refresh_interval(
    jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    clock = FakeClock()
    async with httpx.AsyncClient() as http:
        keys = JwksKeySource(jwks.url, client=http, min_refresh_seconds=30, clock=clock)
        verifier = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        assert (await verifier.verify(mint(idp_key))).subject == "developer"

        rotated = generate_signing_key(kid="idp-key-2")
        jwks.publish(idp_key.public_jwk, rotated.public_jwk)
        clock.now += 5
        with pytest.raises(TokenRejectedError, match="unknown key id"):
            await verifier.verify(mint(rotated))  # too soon to refresh again
        clock.now += 30
        assert (await verifier.verify(mint(rotated))).subject == "developer"
        assert jwks.fetches == 2


async def test_sec3_jwks_outage_is_a_503_not_a_500_and_recovers(
    service: Service, database_url: str, idp_key: SigningKey
) -> None:
    with serve_jwks(idp_key.public_jwk) as jwks:
        jwks.failing = True
        app = service.create_app(jwks_settings(service, database_url, jwks.url))
        async with asgi_client(app, lifespan=True) as http:
            response = await http.get("/v1/widgets", headers=bearer(mint(idp_key)))
            assert response.status_code == 503
            assert response.json()["type"] == "urn:problem-type:authentication-unavailable"
            assert response.headers["retry-after"]


async def test_sec3_keys_already_fetched_survive_an_outage(
    jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    clock = FakeClock()
    async with httpx.AsyncClient() as http:
        keys = JwksKeySource(
            jwks.url, client=http, cache_seconds=60, min_refresh_seconds=1, clock=clock
        )
        verifier = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        await verifier.verify(mint(idp_key))
        jwks.failing = True
        clock.now += 120  # the cache expired and the refresh fails: keep the old keys
        assert (await verifier.verify(mint(idp_key))).subject == "developer"
        assert jwks.fetches == 2


async def test_sec3_a_credential_in_the_jwks_url_never_reaches_the_log(
    jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    clock = FakeClock()
    secret = "jk-6d2f90ab"
    async with httpx.AsyncClient() as http:
        keys = JwksKeySource(
            f"{jwks.url}?api_key={secret}", client=http, min_refresh_seconds=1, clock=clock
        )
        with capture_logs() as logs:
            await keys.refresh()
            jwks.failing = True
            clock.now += 120
            await keys.refresh()
    assert [line["event"] for line in logs] == ["jwks_refreshed", "jwks_refresh_failed"]
    assert {line["url"] for line in logs} == {f"{jwks.url}?api_key=REDACTED"}


async def test_sec3_an_unreachable_jwks_url_without_keys_raises_unavailable() -> None:
    async with httpx.AsyncClient() as http:
        keys = JwksKeySource("http://127.0.0.1:9/jwks.json", client=http, timeout_seconds=0.5)
        with pytest.raises(KeySetUnavailableError):
            await keys.resolve("any", "EdDSA")


async def test_sec3_a_cached_token_is_refused_once_its_key_is_withdrawn(
    jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    clock = FakeClock()
    async with httpx.AsyncClient() as http:
        keys = JwksKeySource(
            jwks.url, client=http, cache_seconds=60, min_refresh_seconds=30, clock=clock
        )
        verifier = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        token = mint(idp_key)
        assert (await verifier.verify(token)).subject == "developer"
        assert (await verifier.verify(token)).subject == "developer"  # from the cache
        assert jwks.fetches == 1

        # The identity provider withdraws the key (compromised): its tokens must end at the
        # next refresh, not at their `exp`, even the ones already verified and cached.
        jwks.publish(generate_signing_key(kid="idp-key-2").public_jwk)
        clock.now += 61
        with pytest.raises(TokenRejectedError, match="unknown key id"):
            await verifier.verify(token)
        assert jwks.fetches == 2


async def test_sec3_a_published_rsa_key_under_2048_bits_is_not_used(
    jwks_client: httpx.AsyncClient, jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    """The rule a configured PEM key meets holds for the identity provider's keys too: a token
    signed by a weak published key names an unknown key, and the log names it, not its bits."""
    # The weak key under test: an identity provider that still publishes one.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    strong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak_jwk = published_jwk(weak, "weak-rsa", "RS256")
    jwks.publish(idp_key.public_jwk, weak_jwk, published_jwk(strong, "strong-rsa", "RS256"))
    with capture_logs() as logs:
        accepted = await jwks_client.get(
            "/v1/widgets", headers=bearer(sign_unchecked(strong, kid="strong-rsa", alg="RS256"))
        )
        refused = await jwks_client.get(
            "/v1/widgets", headers=bearer(sign_unchecked(weak, kid="weak-rsa", alg="RS256"))
        )
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401
    assert refused.json()["type"] == "urn:problem-type:invalid-credentials"
    assert "unknown key id" in refused.json()["detail"]
    [warning] = [entry for entry in logs if entry["event"] == "jwks_key_refused"]
    assert warning["log_level"] == "warning"
    assert (warning["kid"], warning["kty"], warning["size"]) == ("weak-rsa", "RSA", 1024)
    assert "2048" in warning["reason"]
    assert weak_jwk["n"] not in str(logs)  # never the key material


@pytest.mark.parametrize(
    ("curve", "published_alg", "reason"),
    [
        (ec.SECP256R1(), "ES256", None),  # the curve ES256 names: accepted
        (ec.SECP384R1(), "ES256", "unknown key id"),  # published for another curve's algorithm
        (ec.SECP256K1(), "ES256", "unknown key id"),  # a curve no allowed algorithm uses
        (ec.SECP256K1(), None, "unknown key id"),
        (ec.SECP384R1(), None, "algorithm does not fit the key"),  # an ES384 key, not ES256
    ],
    ids=["p256-es256", "p384-published-es256", "k256-published-es256", "k256", "p384-as-es256"],
)
async def test_sec3_a_published_ec_key_verifies_only_its_curves_algorithm(
    jwks: JwksEndpoint,
    idp_key: SigningKey,
    curve: ec.EllipticCurve,
    published_alg: str | None,
    reason: str | None,
) -> None:
    private = ec.generate_private_key(curve)
    jwk = published_jwk(private, "ec-key", published_alg)
    jwks.publish(idp_key.public_jwk, jwk)
    token = sign_unchecked(private, kid="ec-key", alg="ES256")
    async with httpx.AsyncClient() as http:
        verifier = JwtVerifier(
            JwksKeySource(jwks.url, client=http), issuer=TEST_ISSUER, audience=TEST_AUDIENCE
        )
        with capture_logs() as logs:
            if reason is None:
                assert (await verifier.verify(token)).subject == "developer"
            else:
                with pytest.raises(TokenRejectedError, match=reason):
                    await verifier.verify(token)
    refusals = [entry for entry in logs if entry["event"] == "jwks_key_refused"]
    if reason == "unknown key id":
        [warning] = refusals
        assert (warning["kid"], warning["curve"], warning["size"]) == (
            "ec-key",
            jwk["crv"],
            curve.key_size,
        )
    else:
        assert refusals == []


async def test_sec3_a_private_key_in_the_jwks_is_refused_and_named_as_one(
    jwks_client: httpx.AsyncClient, jwks: JwksEndpoint, idp_key: SigningKey
) -> None:
    """An identity provider that publishes a private key has leaked its signing key: the key is
    not used, and the warning says what happened (never the key's material)."""
    leaked = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_jwk = {
        **RSAAlgorithm.to_jwk(leaked, as_dict=True),
        "kid": "leaked-rsa",
        "use": "sig",
        "alg": "RS256",
    }
    jwks.publish(idp_key.public_jwk, private_jwk)
    with capture_logs() as logs:
        refused = await jwks_client.get(
            "/v1/widgets", headers=bearer(sign_unchecked(leaked, kid="leaked-rsa", alg="RS256"))
        )
    assert refused.status_code == 401
    assert "unknown key id" in refused.json()["detail"]
    [warning] = [entry for entry in logs if entry["event"] == "jwks_key_refused"]
    assert warning["kid"] == "leaked-rsa"
    assert "private key" in warning["reason"]
    for member in ("d", "p", "q"):
        assert private_jwk[member] not in str(logs)


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "declared"])
async def test_sec3_a_key_set_without_end_is_refused_unread(
    idp_key: SigningKey, declare_length: bool
) -> None:
    """A valid key set followed by 64 MiB of white space (valid JSON still) is read no further
    than the bound: the fetch fails, the source has no keys, and the server never got to send
    it all (the client closed the connection)."""
    document = json.dumps({"keys": [idp_key.public_jwk]}).encode()
    with unbounded_server(prefix=document, declare_length=declare_length) as server:
        async with httpx.AsyncClient() as http:
            keys = JwksKeySource(server.url, client=http)
            with capture_logs() as logs, pytest.raises(KeySetUnavailableError):
                await keys.resolve(idp_key.kid, "EdDSA")
        server.wait_done()
    assert not server.completed
    [failure] = [line for line in logs if line["event"] == "jwks_refresh_failed"]
    assert failure["error"] == "ResponseTooLargeError"


async def test_sec3_a_key_set_sent_a_byte_at_a_time_is_cut_at_the_fetch_timeout(
    idp_key: SigningKey,
) -> None:
    """Every byte arrives well within the read timeout, so only a timeout of the whole fetch
    ends it: without one the refresh, and the lock every request for keys waits on, is held for
    as long as the server likes."""
    document = json.dumps({"keys": [idp_key.public_jwk]}).encode()
    with unbounded_server(prefix=document, padding_bytes=10_000, byte_interval=0.05) as server:
        async with httpx.AsyncClient() as http:
            keys = JwksKeySource(server.url, client=http, timeout_seconds=0.5)
            with capture_logs() as logs:
                # Far past the timeout; a refresh without a deadline runs into this.
                await asyncio.wait_for(keys.refresh(), 10)
        server.wait_done()
    assert not server.completed
    [failure] = [line for line in logs if line["event"] == "jwks_refresh_failed"]
    assert failure["error"] == "TimeoutError"
