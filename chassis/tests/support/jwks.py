"""A JWKS endpoint on loopback, standing in for an identity provider's, that counts its fetches."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from goldenpath_chassis.testing.auth import TEST_AUDIENCE, TEST_ISSUER
from goldenpath_chassis.testing.loopback_http import loopback_http_server


@dataclass
class JwksEndpoint:
    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0
    failing: bool = False
    url: str = ""

    def publish(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)


@contextmanager
def serve_jwks(*keys: dict[str, Any]) -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint(keys=list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.fetches += 1
            if endpoint.failing:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps({"keys": endpoint.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with loopback_http_server(Handler) as server:
        endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        yield endpoint


def published_jwk(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, alg: str | None
) -> dict[str, Any]:
    """The public half of `private_key` as an identity provider publishes it (`alg` optional)."""
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **({"alg": alg} if alg else {})}


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_unchecked(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, kid: str, alg: str
) -> str:
    """A valid token for the test issuer, signed as a careless identity provider would: with
    whatever key it holds, whatever its size or curve (PyJWT's encode would check them)."""
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    claims = {"iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "sub": "developer", "iat": now,
              "exp": now + 600, "scope": "widgets:read"}  # fmt: skip
    signing_input = ".".join(
        _segment(json.dumps(part).encode()) for part in (header, claims)
    ).encode()
    hashes = {"256": RSAAlgorithm.SHA256, "384": RSAAlgorithm.SHA384, "512": RSAAlgorithm.SHA512}
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = RSAAlgorithm(hashes[alg[2:]]).sign(signing_input, private_key)
    else:
        signature = ECAlgorithm(hashes[alg[2:]]).sign(signing_input, private_key)
    return f"{signing_input.decode()}.{_segment(signature)}"
