"""API keys for service-to-service calls (SEC-3): random, shown once, stored only as a hash.

A key reads `ak_<key id>_<secret>`: the key id (12 characters) is stored in clear and indexed,
so a lookup is one row; the whole key is stored as its SHA-256 digest. A slow password hash
(bcrypt, argon2) protects low-entropy human passwords; these keys carry 256 random bits, so a
fast digest is as safe and keeps the per-request cost at microseconds. The fixed shape lets
secret scanners recognise a leaked key (`ak_[a-z0-9]{12}_[A-Za-z0-9_-]{43}`).

Storage belongs to the `api_keys` domain; this module only needs something that finds a record
by key id (`ApiKeyStore`). Verified keys are remembered for `cache_seconds`, so a revocation
takes effect within that time on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

KEY_PREFIX = "ak"
KEY_ID_LENGTH = 12
API_KEY_PATTERN = re.compile(r"ak_([a-z0-9]{12})_([A-Za-z0-9_-]{43})")
KEY_ID_PATTERN = re.compile(r"[a-z0-9]{12}")
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What is stored for a key: never the key itself."""

    key_id: str
    name: str
    secret_hash: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    # The owner the key acts for (SEC-6), when it is not its own `key:<key id>`.
    owner: str | None = None

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class ApiKeyStore(Protocol):
    async def find(self, key_id: str) -> ApiKeyRecord | None: ...


class ApiKeyRejectedError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly made key: `plaintext` is shown to the caller once and then forgotten."""

    plaintext: str
    key_id: str
    secret_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    plaintext = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewApiKey(plaintext=plaintext, key_id=key_id, secret_hash=hash_key(plaintext))


def looks_like_api_key(credential: str) -> bool:
    """An API key, not a JWT: what a bearer credential is taken for (authentication.py)."""
    return credential.startswith(f"{KEY_PREFIX}_")


def key_id_of(plaintext: str) -> str | None:
    """The lookup part of a well-formed key, or None for anything else."""
    match = API_KEY_PATTERN.fullmatch(plaintext)
    return match.group(1) if match else None


class ApiKeyVerifier:
    def __init__(
        self,
        store: ApiKeyStore,
        *,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._verified: dict[str, tuple[ApiKeyRecord, float]] = {}

    async def verify(self, plaintext: str) -> ApiKeyRecord:
        """The record of a usable key; raises `ApiKeyRejectedError` otherwise."""
        digest = hash_key(plaintext)
        now = datetime.now(UTC)
        cached = self._verified.get(digest)
        if cached is not None:
            remembered, verified_at = cached
            if self._clock() - verified_at < self._cache_seconds and remembered.is_usable(now):
                return remembered
            del self._verified[digest]
        key_id = key_id_of(plaintext)
        if key_id is None:
            raise ApiKeyRejectedError("malformed API key")
        found = await self._store.find(key_id)
        # Compare digests in constant time, and the same way whether or not the id exists.
        expected = found.secret_hash if found is not None else hash_key("")
        if not hmac.compare_digest(expected, digest) or found is None:
            raise ApiKeyRejectedError("unknown API key")
        record = found
        if record.revoked_at is not None:
            raise ApiKeyRejectedError("API key revoked")
        if not record.is_usable(now):
            raise ApiKeyRejectedError("API key expired")
        if self._cache_seconds > 0:
            if len(self._verified) >= _CACHE_LIMIT:
                del self._verified[next(iter(self._verified))]
            self._verified[digest] = (record, self._clock())
        return record
