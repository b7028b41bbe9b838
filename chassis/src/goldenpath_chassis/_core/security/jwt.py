"""JWT bearer tokens (SEC-3), verified with PyJWT.

Rules, each a defence against a known attack on JWT libraries and their users (RFC 8725):
- an explicit allow-list of asymmetric algorithms: `none` and HMAC are refused before any key
  is touched, so a token "signed" with the public key as an HMAC secret cannot pass;
- every key is bound to one algorithm (a `PyJWK`), so the token's header cannot choose how the
  key is used;
- the `typ` header, when present, is one of the accepted token types (`token_types.py`), so a
  JWT of another kind that says what it is (a logout token, a DPoP proof) is not an access token;
- a `crit` header naming any extension makes the token invalid (RFC 7515 4.1.11): none is
  understood here, and PyJWT refuses it from 2.12 on, the chassis's floor;
- `exp`, `iat`, `iss`, `aud` and `sub` are required; issuer and audience must match exactly;
  clocks may disagree by a small leeway.
- `sub` is at most 255 characters (OpenID Connect's bound), and so is the tenant claim, which is
  required when one is configured (SEC-6): both end up in an object's `owner` column.

Keys come from one PEM public key or from a JWKS URL. The key set is fetched with httpx (never
blocking the event loop), cached, and refreshed when it expires or when a token names an
unknown `kid`, at most once per `min_refresh_seconds` whatever the traffic, so junk tokens
cannot turn the service into a load generator against the identity provider. A fetch takes
at most `timeout_seconds` in all and reads at most `MAX_JWKS_BYTES`, so a provider that answers
slowly or without end cannot hold the requests waiting for keys. A published key is held to
the rule a configured one is (RSA of 2048 bits or more, an EC key on its algorithm's curve): a
weaker one is left out of the key set, with a warning, and its tokens name an unknown key.

Verification costs a signature check (tens of microseconds); a bounded cache of verified tokens
makes a token's second and later uses a dictionary lookup plus an expiry check, and a key
lookup: a cached token holds only while the key that verified it is still the key set's (a key
the identity provider withdrew ends its tokens at the next refresh, not at their `exp`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

from ..bounded_response import ResponseTooLargeError, read_bounded
from ..logging import get_logger
from ..url_redaction import redacted_url
from .algorithms import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS, MIN_RSA_BITS
from .token_types import DEFAULT_TOKEN_TYPES, UNTYPED, normalized_token_type

REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
MAX_TOKEN_LENGTH = 8192
MAX_SCOPES = 100
MAX_IDENTITY_LENGTH = 255
# A key set is kilobytes, certificate chains included: a megabyte is no provider's.
MAX_JWKS_BYTES = 1024 * 1024

_EC_ALGORITHM_BY_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_REJECTIONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "signature does not verify"),
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not valid yet"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAlgorithmError, "algorithm does not fit the key"),
    (jwt.InvalidIssuedAtError, "iat is not a number"),
    (jwt.exceptions.InvalidSubjectError, "sub is not a string"),
    (jwt.DecodeError, "malformed token"),
)

_log = get_logger(__name__)


class TokenRejectedError(Exception):
    """The token is not acceptable; `reason` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySetUnavailableError(Exception):
    """No verification key could be obtained (the JWKS endpoint is down and nothing is cached)."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    scopes: frozenset[str]
    expires_at: float
    claims: dict[str, Any]
    tenant: str | None = None


class _CachedToken(NamedTuple):
    """A verified token, with the header it named and the key that verified it: it holds
    only while the key set still resolves that header to that key."""

    verified: VerifiedToken
    kid: str | None
    algorithm: str
    key: jwt.PyJWK


class KeySource(Protocol):
    """Finds the key, bound to `algorithm`, for a token's `kid`; rejects what it cannot find."""

    async def resolve(self, kid: str | None, algorithm: str) -> jwt.PyJWK: ...


def compatible_algorithms(key: object, algorithms: Iterable[str]) -> tuple[str, ...]:
    """The configured algorithms that this public key can verify."""
    if isinstance(key, rsa.RSAPublicKey):
        fits = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        fits = {_EC_ALGORITHM_BY_CURVE.get(key.curve.name, "")}
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        fits = {"EdDSA"}
    else:
        fits = set()
    return tuple(name for name in algorithms if name in fits)


def key_weakness(key: object) -> str | None:
    """Why this public key is too weak to verify tokens, or None (a PEM key and a JWKS key
    alike; a curve that fits no algorithm is found by `compatible_algorithms`)."""
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"RSA keys must have at least {MIN_RSA_BITS} bits"
    return None


def _jwk_of(key: Any, algorithm: str) -> jwt.PyJWK:
    if algorithm.startswith("RS"):
        data = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif algorithm.startswith("PS"):
        data = RSAPSSAlgorithm.to_jwk(key, as_dict=True)
    elif algorithm.startswith("ES"):
        data = ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(key, as_dict=True)
    return jwt.PyJWK.from_dict(data, algorithm=algorithm)


class StaticKeySource:
    """One PEM public key, bound once to each configured algorithm it fits."""

    def __init__(self, pem: str, *, algorithms: Sequence[str]) -> None:
        key = load_pem_public_key(pem.encode())
        weakness = key_weakness(key)
        if weakness is not None:
            raise ValueError(weakness)
        self._by_algorithm = {
            name: _jwk_of(key, name) for name in compatible_algorithms(key, algorithms)
        }
        if not self._by_algorithm:
            raise ValueError("the public key fits none of the configured algorithms")

    async def resolve(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        try:
            return self._by_algorithm[algorithm]
        except KeyError:
            raise TokenRejectedError("algorithm does not fit the key") from None


class JwksKeySource:
    """Keys from a JWKS URL, cached for `cache_seconds`, refreshed at a bounded rate."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        cache_seconds: float = 600.0,
        min_refresh_seconds: float = 30.0,
        timeout_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._logged_url = redacted_url(url)  # a key set URL may carry a credential too
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._jwks: dict[str | None, dict[str, Any]] = {}
        self._bound: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def resolve(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        if self._fetched_at is None or self._clock() - self._fetched_at > self._cache_seconds:
            await self.refresh()
        if kid not in self._jwks:
            # A new signing key may have been published since the last fetch.
            await self.refresh()
        if self._fetched_at is None:
            raise KeySetUnavailableError
        jwk = self._jwks.get(kid)
        if jwk is None:
            raise TokenRejectedError("unknown key id" if kid else "token names no key id")
        return self._bind(kid, jwk, algorithm)

    def _bind(self, kid: str | None, jwk: dict[str, Any], algorithm: str) -> jwt.PyJWK:
        bound = self._bound.get((kid, algorithm))
        if bound is None:
            declared = jwk.get("alg")
            if declared is not None and declared != algorithm:
                raise TokenRejectedError("algorithm does not fit the key")
            try:
                bound = jwt.PyJWK.from_dict(jwk, algorithm=algorithm)
            except jwt.PyJWTError:
                raise TokenRejectedError("algorithm does not fit the key") from None
            if not compatible_algorithms(bound.key, (algorithm,)):
                # An EC key without `alg`, used with another curve's algorithm: PyJWT before 2.11
                # did not check the curve (jpadilla/pyjwt#1023); the rule stays ours.
                raise TokenRejectedError("algorithm does not fit the key")
            self._bound[(kid, algorithm)] = bound
        return bound

    def _may_fetch(self) -> bool:
        if self._attempted_at is None:
            return True
        # Without any key, retry sooner: every request is failing until a fetch succeeds.
        interval = self._min_refresh_seconds if self._jwks else min(self._min_refresh_seconds, 2.0)
        return self._clock() - self._attempted_at >= interval

    async def refresh(self) -> None:
        """Fetch the key set now, unless one was fetched (or tried) too recently."""
        if not self._may_fetch():
            return
        async with self._lock:
            if not self._may_fetch():
                return  # another request refreshed while this one waited
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                # httpx times each read, not the fetch: a provider answering a byte a second
                # would hold the lock, and every request waiting on it, for good.
                async with asyncio.timeout(self._timeout):
                    keys = await self._fetch()
            except (httpx.HTTPError, ValueError, TimeoutError, ResponseTooLargeError) as error:
                _log.warning(
                    "jwks_refresh_failed", url=self._logged_url, error=type(error).__name__
                )
                return
            self._jwks = keys
            self._bound.clear()
            self._fetched_at = self._clock()
            _log.info("jwks_refreshed", url=self._logged_url, keys=len(keys))

    async def _fetch(self) -> dict[str | None, dict[str, Any]]:
        request = self._client.build_request("GET", self._url, timeout=self._timeout)
        response = await self._client.send(request, stream=True)
        await read_bounded(response, MAX_JWKS_BYTES)
        response.raise_for_status()
        return _usable_keys(response.json())


def _usable_keys(document: object) -> dict[str | None, dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str | None, dict[str, Any]] = {}
    candidates = [
        key
        for key in document["keys"]
        if isinstance(key, dict)
        and key.get("kty") in {"RSA", "EC", "OKP"}  # never a symmetric ("oct") key
        and key.get("use", "sig") == "sig"
    ]
    usable = [key for key in candidates if _strong_enough(key)]
    for key in usable:
        kid = key.get("kid")
        keys[kid if isinstance(kid, str) else None] = key
    if len(usable) == 1:
        keys[None] = usable[0]  # a token without `kid` may use the only key
    else:
        keys.pop(None, None)
    if not keys:
        raise ValueError("no signing keys in the JWK set")
    return keys


# The members only a private JWK has (RFC 7518 6.2.2, 6.3.2; RFC 8037 2 for OKP's `d`).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def _strong_enough(jwk: dict[str, Any]) -> bool:
    """Whether a published key may verify tokens; a refused one is logged by its `kid` and
    size, never its material."""
    declared = _text(jwk.get("alg"))
    size: int | None = None
    if _PRIVATE_MEMBERS.intersection(jwk):
        # Published, a private key is everyone's: the provider's signing key has leaked.
        reason: str | None = "it is a private key: the identity provider published its secret half"
    else:
        reason = None
    try:
        key = jwt.PyJWK.from_dict(jwk).key  # the algorithm is `alg`, or follows from kty/crv
    except jwt.PyJWTError:
        reason = reason or "not a readable public key"
    else:
        size = getattr(key, "key_size", None)  # an RSA modulus's or an EC curve's bits
        reason = reason or key_weakness(key)
        fits = (declared,) if declared is not None else ASYMMETRIC_ALGORITHMS
        if reason is None and not compatible_algorithms(key, fits):
            reason = "its type or curve fits no allowed algorithm"
    if reason is None:
        return True
    _log.warning(
        "jwks_key_refused",
        kid=_text(jwk.get("kid")),
        kty=_text(jwk.get("kty")),
        alg=declared,
        curve=_text(jwk.get("crv")),
        size=size,
        reason=reason,
    )
    return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("scope", "")
    if not isinstance(value, str):
        raise TokenRejectedError("scope must be a space-separated string")
    scopes = value.split()
    if len(scopes) > MAX_SCOPES:
        raise TokenRejectedError("too many scopes")
    return frozenset(scopes)


class JwtVerifier:
    """Verifies bearer tokens against one issuer, audience and key source."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: float = 30,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
        tenant_claim: str | None = None,
        token_types: Iterable[str] = DEFAULT_TOKEN_TYPES,
    ) -> None:
        unsafe = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe:
            raise ValueError(f"refusing non-asymmetric algorithms: {sorted(unsafe)}")
        self._token_types = frozenset(normalized_token_type(name) for name in token_types)
        if not self._token_types:
            raise ValueError("accept at least one token type")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._leeway = leeway_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._tenant_claim = tenant_claim
        self._verified: dict[str, _CachedToken] = {}
        self._jwt = jwt.PyJWT(options={"require": list(REQUIRED_CLAIMS)})

    @property
    def tenant_claim(self) -> str | None:
        """The claim tenants come from (SEC-6), or None when owners are users and keys."""
        return self._tenant_claim

    async def verify(self, token: str) -> VerifiedToken:
        """Return the token's subject and scopes, or raise `TokenRejectedError`."""
        cached = self._verified.get(token)
        if cached is not None:
            verified, cached_kid, cached_algorithm, verified_by = cached
            current: jwt.PyJWK | None = None
            try:
                if verified.expires_at + self._leeway > self._clock():
                    # The key source refreshes on its schedule here too; after a refresh the
                    # key is another object (or gone), and the token is verified again.
                    current = await self._keys.resolve(cached_kid, cached_algorithm)
            finally:
                if current is not verified_by:
                    self._verified.pop(token, None)
            if current is verified_by:
                return verified
        algorithm, kid = self._checked_header(token)
        key = await self._keys.resolve(kid, algorithm)
        claims = self._decode(token, key, algorithm)
        subject = claims["sub"]
        if not subject.strip():
            raise TokenRejectedError("sub is empty")
        if len(subject) > MAX_IDENTITY_LENGTH:
            raise TokenRejectedError("sub is too long")
        verified = VerifiedToken(
            subject, _scopes_of(claims), float(claims["exp"]), claims, self._tenant_of(claims)
        )
        self._remember(token, _CachedToken(verified, kid, algorithm, key))
        return verified

    def _checked_header(self, token: str) -> tuple[str, str | None]:
        """The token's algorithm and `kid`, once its header passes the checks that need no key."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenRejectedError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejectedError("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise TokenRejectedError("algorithm not allowed")
        token_type = header.get("typ", UNTYPED)
        kid = header.get("kid")
        if not isinstance(token_type, str) or (kid is not None and not isinstance(kid, str)):
            raise TokenRejectedError("malformed token")
        if normalized_token_type(token_type) not in self._token_types:
            # The value is the caller's: the reason (shown and logged) does not repeat it.
            raise TokenRejectedError("token type (typ) not accepted")
        return algorithm, kid

    def _tenant_of(self, claims: dict[str, Any]) -> str | None:
        if self._tenant_claim is None:
            return None
        tenant = claims.get(self._tenant_claim)
        if tenant is None:
            raise TokenRejectedError(f"missing claim {self._tenant_claim}")
        if not isinstance(tenant, str) or not tenant.strip() or len(tenant) > MAX_IDENTITY_LENGTH:
            raise TokenRejectedError(
                f"{self._tenant_claim} must be a string of 1 to 255 characters"
            )
        return tenant

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejectedError(f"missing claim {error.claim}") from None
        except jwt.PyJWTError as error:
            reason = next(
                (text for kind, text in _REJECTIONS if isinstance(error, kind)), "invalid token"
            )
            raise TokenRejectedError(reason) from None
        if not isinstance(claims.get("exp"), int | float):
            raise TokenRejectedError("exp is not a number")
        return claims

    def _remember(self, token: str, entry: _CachedToken) -> None:
        if len(self._verified) >= self._cache_size:
            # Oldest first: dictionaries keep insertion order.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = entry
