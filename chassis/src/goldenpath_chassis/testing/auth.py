"""Credentials for tests: a per-session key pair that signs tokens the app under test accepts.

Tests never use the development key in `var/`: `signing_key` is made fresh for each session
and its public half goes into the settings (`AUTH_JWT_PUBLIC_KEY`), exactly as production gets
its identity provider's key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._core.security.dev_keys import SigningKey, generate_signing_key
from .live import ServiceCredentials

TEST_ISSUER = "https://issuer.test.invalid"
TEST_AUDIENCE = "service-under-test"


def auth_overrides(key: SigningKey) -> dict[str, str]:
    """Settings that make the app accept tokens from `key`."""
    return {
        "auth_jwt_issuer": TEST_ISSUER,
        "auth_jwt_audience": TEST_AUDIENCE,
        "auth_jwt_public_key": key.public_pem,
    }


def auth_environment(key: SigningKey) -> dict[str, str]:
    """The same, as environment variables for a service started as a process."""
    return {name.upper(): value for name, value in auth_overrides(key).items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fresh_service_credentials(
    scopes: Iterable[str], *, ttl_seconds: int = 3600
) -> ServiceCredentials:
    """A new key pair for a service started as a process: the service accepts its tokens, and
    the requests carry one with `scopes`, valid for `ttl_seconds`."""
    key = generate_signing_key()
    token = TokenFactory(key)(*scopes, ttl_seconds=ttl_seconds)
    return ServiceCredentials(env=auth_environment(key), headers=bearer(token))


@dataclass(frozen=True)
class TokenFactory:
    """Mints tokens for the test issuer and audience; keyword arguments reach `SigningKey.mint`."""

    key: SigningKey

    def __call__(self, *scopes: str, subject: str = "tester", **options: Any) -> str:
        options.setdefault("issuer", TEST_ISSUER)
        options.setdefault("audience", TEST_AUDIENCE)
        return self.key.mint(subject=subject, scopes=scopes, **options)

    def headers(self, *scopes: str, subject: str = "tester") -> dict[str, str]:
        return bearer(self(*scopes, subject=subject))


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_token(
    header: Mapping[str, Any], claims: Mapping[str, Any], *, hmac_key: bytes | None = None
) -> str:
    """A token built by hand, as an attacker would: `alg: none`, or HMAC with a public key."""
    signing_input = ".".join(_segment(json.dumps(part).encode()) for part in (header, claims))
    signature = (
        hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest() if hmac_key else b""
    )
    return f"{signing_input}.{_segment(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def with_claims(token: str, changes: Mapping[str, Any]) -> str:
    """The token with its claims changed and its original signature kept (a tampered token)."""
    header, _, signature = token.split(".")
    claims = claims_of(token) | dict(changes)
    return f"{header}.{_segment(json.dumps(claims).encode())}.{signature}"


def scopes_claim(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
