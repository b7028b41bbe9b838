"""SEC-3: the verifier on its own: algorithms pinned per key, a cache that honours expiry."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from goldenpath_chassis._core.security.dev_keys import generate_signing_key
from goldenpath_chassis._core.security.jwt import (
    JwtVerifier,
    StaticKeySource,
    TokenRejectedError,
    compatible_algorithms,
)
from goldenpath_chassis._core.security.settings_checks import check_public_key
from goldenpath_chassis.testing.auth import TEST_AUDIENCE, TEST_ISSUER

pytestmark = pytest.mark.unit


def pem_of(public_key: rsa.RSAPublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_sec3_each_key_type_verifies_only_its_own_algorithms() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    configured = ("RS256", "PS256", "ES256", "ES384", "EdDSA")
    assert compatible_algorithms(rsa_key, configured) == ("RS256", "PS256")
    assert compatible_algorithms(p256, configured) == ("ES256",)
    edwards = generate_signing_key().private_key.public_key()
    assert compatible_algorithms(edwards, configured) == ("EdDSA",)


def test_sec3_an_rsa_key_under_2048_bits_is_refused_however_it_is_configured() -> None:
    """One rule, `key_weakness`, for the setting and the key source (and each JWKS key)."""
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    weak = pem_of(weak_key.public_key())
    with pytest.raises(ValueError, match="at least 2048 bits"):
        check_public_key(weak, ("RS256",))
    with pytest.raises(ValueError, match="at least 2048 bits"):
        StaticKeySource(weak, algorithms=("RS256",))


def test_sec3_the_verifier_refuses_symmetric_algorithms_outright() -> None:
    key = generate_signing_key()
    keys = StaticKeySource(key.public_pem, algorithms=("EdDSA",))
    with pytest.raises(ValueError, match="non-asymmetric"):
        JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE, algorithms=("HS256",))


async def test_sec3_a_token_for_an_algorithm_the_key_does_not_fit_is_refused() -> None:
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = StaticKeySource(pem_of(rsa_private.public_key()), algorithms=("RS256", "EdDSA"))
    verifier = JwtVerifier(
        keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE, algorithms=("RS256", "EdDSA")
    )
    eddsa_token = generate_signing_key().mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    with pytest.raises(TokenRejectedError, match="does not fit the key"):
        await verifier.verify(eddsa_token)


async def test_sec3_only_the_configured_token_types_are_accepted() -> None:
    """AUTH_JWT_TOKEN_TYPES=at+jwt: RFC 9068's explicit typing, required (a token without
    `typ` counts as a `JWT`, which is not in the list)."""
    key = generate_signing_key()
    verifier = JwtVerifier(
        StaticKeySource(key.public_pem, algorithms=("EdDSA",)),
        issuer=TEST_ISSUER,
        audience=TEST_AUDIENCE,
        token_types=("application/at+jwt",),
    )

    def mint(typ: str | None) -> str:
        return key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, headers={"typ": typ})

    assert (await verifier.verify(mint("at+jwt"))).subject == "developer"
    assert (await verifier.verify(mint("AT+JWT"))).subject == "developer"
    for refused in ("JWT", None, "application/jwt", "at+jwt+x", "text/at+jwt"):
        with pytest.raises(TokenRejectedError, match=r"token type \(typ\) not accepted"):
            await verifier.verify(mint(refused))
    with pytest.raises(ValueError, match="at least one token type"):
        JwtVerifier(verifier._keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE, token_types=())


async def test_sec3_the_verified_token_cache_honours_expiry() -> None:
    key = generate_signing_key()
    keys = StaticKeySource(key.public_pem, algorithms=("EdDSA",))
    now = [time.time()]
    verifier = JwtVerifier(
        keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE, leeway_seconds=30, clock=lambda: now[0]
    )
    token = key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, ttl_seconds=60)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # the second use came from the cache
    now[0] += 60 + 31  # past expiry and leeway: the cache must not answer any more
    # (PyJWT's own clock has not moved, so the full verification passes, with a new result)
    assert await verifier.verify(token) is not first


async def test_sec3_the_cache_is_bounded() -> None:
    key = generate_signing_key()
    verifier = JwtVerifier(
        StaticKeySource(key.public_pem, algorithms=("EdDSA",)),
        issuer=TEST_ISSUER,
        audience=TEST_AUDIENCE,
        cache_size=10,
    )
    for number in range(25):
        await verifier.verify(
            key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, subject=f"user-{number}")
        )
    assert len(verifier._verified) == 10
