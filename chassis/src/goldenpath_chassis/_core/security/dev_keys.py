"""Development signing keys and tokens: what an identity provider does, for a laptop.

Production verifies tokens from a real identity provider and never holds a private key. In
development and tests the service needs tokens too, so this module makes an Ed25519 key pair
(`var/dev-keys/`, git-ignored), and mints tokens with it: `python -m <package> dev-token`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEVELOPMENT_KEY_DIR = Path("var/dev-keys")
DEVELOPMENT_ALGORITHM = "EdDSA"
_PRIVATE_KEY_FILE = "jwt-signing-key.pem"


def development_issuer(service_name: str) -> str:
    """The issuer of development tokens: the service's own, never a real provider's."""
    return f"urn:{service_name}:development-issuer"


def development_audience(service_name: str) -> str:
    return service_name


@dataclass(frozen=True)
class SigningKey:
    """A private key that mints tokens the service accepts when given `public_pem`."""

    private_key: Ed25519PrivateKey
    kid: str
    algorithm: str = DEVELOPMENT_ALGORITHM

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def mint(
        self,
        *,
        issuer: str,
        audience: str,
        subject: str = "developer",
        scopes: Iterable[str] = (),
        ttl_seconds: int = 3600,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token; `claims` and `headers` override or add fields (tests use them)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_seconds,
            "scope": " ".join(scopes),
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims or {})
        return jwt.encode(
            payload,
            self.private_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


def generate_signing_key(kid: str | None = None) -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate(), kid or f"dev-{uuid.uuid4().hex[:8]}")


def load_or_create_development_key(directory: Path = DEVELOPMENT_KEY_DIR) -> SigningKey:
    """The project's development key pair; created (readable by its owner only) on first use."""
    path = directory / _PRIVATE_KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key; delete it to make a new one")
    return SigningKey(loaded, kid="development")
