"""The JWT algorithms this service accepts: asymmetric only (SEC-3).

Kept apart from `jwt.py` so that reading the settings (every command, `--help` included) does
not import the JWT and HTTP libraries.
"""

from __future__ import annotations

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
# RFC 7518 section 3.3: an RSA key of 2048 bits or more. One rule for a configured PEM key and
# for each key an identity provider publishes.
MIN_RSA_BITS = 2048
