"""Browser sessions (SEC-2): a signed, HttpOnly cookie issued in exchange for a bearer token.

A browser application should not keep access tokens where scripts can read them. Its backend
for frontend exchanges a token once (`POST /v1/auth/session`) for a session cookie that scripts
cannot read (`HttpOnly`), that only travels over HTTPS (`Secure`, `__Host-` prefix: no
`Domain`, path `/`), and that other sites cannot make the browser send (`SameSite`).

The cookie is stateless (the service stays stateless, ARCH-2): subject, scopes, the tenant (when
tenants come from a claim, SEC-6), a random session id and an expiry, signed with HMAC-SHA256
under a key derived from `AUTH_SESSION_SECRET`. A session ends when the token that opened it
would have (`AUTH_SESSION_MAX_AGE_SECONDS` is only an upper bound), and its scopes are the
token's, fixed when it opens. Signing out clears the cookies and revokes the session on every
replica (`revocation.py`), so a copied cookie is refused from then on; signing out everywhere
(or `sessions revoke`) refuses every session of the user opened before it, so the cookie
carries when it was issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

SESSION_COOKIE = "__Host-session"
MAX_COOKIE_LENGTH = 4096


def derive_key(secret: str, purpose: str) -> bytes:
    """One key per purpose from one configured secret, so a session MAC is never a CSRF MAC."""
    return hmac.new(secret.encode(), f"goldenpath/{purpose}".encode(), hashlib.sha256).digest()


def same_text(a: str, b: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (which never matches)."""
    return hmac.compare_digest(a.encode(), b.encode())


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    subject: str
    scopes: frozenset[str]
    expires_at: int
    # A Unix time to the microsecond: "signed out everywhere at T" ends the sessions before T.
    issued_at: float
    tenant: str | None = None


class SessionCodec:
    """Signs with `secret`; reads cookies signed with it or, during a rotation, with `previous`
    (`AUTH_SESSION_SECRET_PREVIOUS`), so that changing the secret signs no one out. Nothing
    re-signs an old cookie: it lasts until its session ends, as it would have."""

    def __init__(
        self,
        secret: str,
        *,
        max_age_seconds: int,
        previous: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = derive_key(secret, "session")
        rotated = () if previous is None else (derive_key(previous, "session"),)
        self._verifying_keys = (self._key, *rotated)
        self.max_age_seconds = max_age_seconds
        self._clock = clock

    @staticmethod
    def _sign(payload: str, key: bytes) -> str:
        return b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())

    def _signed(self, payload: str, signature: str) -> bool:
        return any(same_text(self._sign(payload, key), signature) for key in self._verifying_keys)

    def issue(
        self,
        *,
        subject: str,
        scopes: Iterable[str],
        not_after: float | None = None,
        tenant: str | None = None,
    ) -> tuple[str, Session]:
        """A new session, which ends at the latest at `not_after` (the token's `exp`)."""
        issued_at = self._clock()
        expires_at = int(issued_at) + self.max_age_seconds
        if not_after is not None:
            expires_at = min(expires_at, math.floor(not_after))
        session = Session(
            session_id=secrets.token_urlsafe(16),
            subject=subject,
            scopes=frozenset(scopes),
            expires_at=expires_at,
            issued_at=issued_at,
            tenant=tenant,
        )
        data = {
            "sid": session.session_id,
            "sub": session.subject,
            "scp": sorted(session.scopes),
            "exp": session.expires_at,
            "iat": session.issued_at,
        }
        if tenant is not None:
            data["tnt"] = tenant
        payload = b64encode(orjson.dumps(data))
        return f"{payload}.{self._sign(payload, self._key)}", session

    def read(self, cookie: str) -> Session | None:
        """The session in a cookie, or None when it is forged, damaged or expired."""
        if len(cookie) > MAX_COOKIE_LENGTH:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not payload or not self._signed(payload, signature):
            return None
        try:
            data = orjson.loads(b64decode(payload))
            expires_at = int(data["exp"])
            session = Session(
                session_id=str(data["sid"]),
                subject=str(data["sub"]),
                scopes=frozenset(str(scope) for scope in data["scp"]),
                expires_at=expires_at,
                # A cookie from before `iat` was written: the earliest it can have been issued,
                # so a sign-out everywhere after it surely covers it.
                issued_at=float(data.get("iat", expires_at - self.max_age_seconds)),
                tenant=None if data.get("tnt") is None else str(data["tnt"]),
            )
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return session if session.expires_at > self._clock() else None
