"""Validation helpers for the security settings, so `core/settings.py` stays one flat list.

Each helper raises `ValueError` with a message that names what is wrong (never the value, which
may be a secret: a bad entry of a list is named by its position); the settings class turns it
into a `ConfigurationError` naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from .algorithms import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS
from .loopback import LOOPBACK_HOSTS
from .token_types import is_token_type

DEFAULT_JWT_ALGORITHMS = DEFAULT_ALGORITHMS
# One limit in the notation of the `limits` library (a subset of what it parses).
_RATE_LIMIT = re.compile(
    r"\s*[1-9][0-9]{0,9}\s*(/|\s+per\s+)\s*([1-9][0-9]{0,5}\s*)?"
    r"(second|minute|hour|day)s?\s*",
    re.IGNORECASE,
)
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
# Public names, safe to repeat: any other refused entry is named by its position only.
_KNOWN_ALGORITHMS = ASYMMETRIC_ALGORITHMS | {"HS256", "HS384", "HS512", "none"}


def split_list(value: object) -> object:
    """Comma-separated environment values become tuples; other inputs pass through."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def check_jwt_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    given = tuple(algorithms)
    chosen = tuple(dict.fromkeys(given))
    if not chosen:
        raise ValueError("name at least one algorithm, e.g. RS256,ES256,EdDSA")
    refused = [
        name if name in _KNOWN_ALGORITHMS else f"entry {position}"
        for position, name in enumerate(given, start=1)
        if name not in ASYMMETRIC_ALGORITHMS
    ]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} not allowed: use asymmetric algorithms only "
            f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}); with a shared secret every "
            "verifier could also mint tokens"
        )
    return chosen


def check_token_types(types: Iterable[str]) -> tuple[str, ...]:
    given = tuple(types)
    if not given:
        raise ValueError("name at least one token type, e.g. JWT,at+jwt")
    refused = [
        f"entry {position}"
        for position, name in enumerate(given, start=1)
        if not is_token_type(name)
    ]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} not a media type (a `typ` header value such as at+jwt)"
        )
    return tuple(dict.fromkeys(given))


def check_public_key(pem: str, algorithms: object) -> str:
    # Imported only when a key is configured, so reading the settings stays light.
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import load_pem_public_key  # noqa: PLC0415

    from .jwt import compatible_algorithms, key_weakness  # noqa: PLC0415

    text = pem.strip().replace("\\n", "\n")  # one-line values from .env-style tooling
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        raise ValueError("is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise ValueError("must be an RSA, EC or Ed25519/Ed448 public key")
    weakness = key_weakness(key)
    if weakness is not None:
        raise ValueError(weakness)
    if isinstance(algorithms, tuple) and not compatible_algorithms(key, algorithms):
        raise ValueError(
            f"fits none of AUTH_JWT_ALGORITHMS ({', '.join(algorithms)}) for its key type"
        )
    return text


def check_origin(origin: str, *, position: int) -> str:
    """`position`: the origin's place in its list (from 1), which the message names instead."""
    if origin == "*":
        raise ValueError("'*' is not allowed: list each origin (credentials are allowed)")
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(
            f"entry {position} is not an origin: scheme://host[:port], no path or trailing slash"
        )
    return origin.lower()


def check_origins_in_production(origins: tuple[str, ...]) -> tuple[str, ...]:
    """`origins`, each checked by `check_origin`; refused if any is plain http and not on a
    loopback host.

    A listed origin may send credentialed requests and read their answers, and passes the CSRF
    check: over http, whoever is on the network path serves that origin's pages, and so acts as
    the signed-in user. A loopback origin has no network path (the user's own machine is
    trusted as much over https). Each origin is named: having passed `check_origin`, it is a
    scheme, a host and a port and nothing else (no credentials), what browsers send anyway.
    """
    plain = [
        origin
        for origin in origins
        if urlsplit(origin).scheme == "http" and urlsplit(origin).hostname not in LOOPBACK_HOSTS
    ]
    if plain:
        raise ValueError(
            f"{', '.join(plain)} {'is' if len(plain) == 1 else 'are'} plain http, refused in "
            "production: anyone on the network path could serve the pages of an http origin and "
            "call the API as the signed-in user; use https://"
        )
    return origins


def check_rate_limit(value: str) -> str:
    if not _RATE_LIMIT.fullmatch(value):
        raise ValueError(
            "is not a rate limit: use '<count>/<second|minute|hour|day>', e.g. '600/minute'"
        )
    return value
