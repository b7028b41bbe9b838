"""CSRF protection for cookie-authenticated requests (SEC-2).

A browser attaches cookies to requests that other sites make it send; that is the whole of
CSRF. So a state-changing request (POST, PUT, PATCH, DELETE) authenticated by the session cookie
must prove it comes from our own pages, twice over:

1. Provenance: `Origin` is this service's own origin, scheme included (or an origin trusted
   through `CORS_ALLOW_ORIGINS`); without `Origin`, `Sec-Fetch-Site` must be `same-origin`.
   Browsers set both and scripts cannot forge them. A request with neither is refused, and so
   is an `Origin` that is not a URL at all.
2. A signed double-submit token: the `__Host-csrf` cookie (readable by our scripts) and the
   `X-CSRF-Token` header must carry the same token, and the token must be an HMAC of this
   session's id, so a token planted or copied from another session is worthless.

Requests that authenticate with `Authorization: Bearer` or `X-API-Key` are exempt: a browser
never adds those headers on its own, and another site's script cannot add them without a CORS
preflight that this service refuses. An attacker who can set them already holds the credential.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from .loopback import LOOPBACK_HOSTS
from .session import b64encode, derive_key, same_text

CSRF_COOKIE = "__Host-csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_TOKEN_LENGTH = 128
_SECURE_SCHEMES = frozenset({"https"})
_LOOPBACK_SCHEMES = frozenset({"http", "https"})


class CsrfProtection:
    """Tokens are made with `secret`; during a rotation, a token made with `previous` is still
    valid, as the session it was issued with is (`session.SessionCodec`)."""

    def __init__(
        self, secret: str, *, previous: str | None = None, trusted_origins: Iterable[str] = ()
    ) -> None:
        self._key = derive_key(secret, "csrf")
        rotated = () if previous is None else (derive_key(previous, "csrf"),)
        self._verifying_keys = (self._key, *rotated)
        self._trusted_origins = frozenset(origin.lower() for origin in trusted_origins)

    @staticmethod
    def _mac(key: bytes, session_id: str, nonce: str) -> str:
        message = f"{session_id}.{nonce}".encode()
        return b64encode(hmac.new(key, message, hashlib.sha256).digest())

    def token_for(self, session_id: str) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(self._key, session_id, nonce)}"

    def problem(
        self,
        *,
        session_id: str,
        origin: str | None,
        fetch_site: str | None,
        host: str | None,
        header_token: str | None,
        cookie_token: str | None,
    ) -> str | None:
        """Why this request fails the check, or None when it passes."""
        return self._provenance_problem(origin, fetch_site, host) or self._token_problem(
            session_id, header_token, cookie_token
        )

    def _provenance_problem(
        self, origin: str | None, fetch_site: str | None, host: str | None
    ) -> str | None:
        if origin is not None:
            allowed = self._origin_allowed(origin, host)
            return None if allowed else "the request comes from another origin"
        if fetch_site is not None:
            same = fetch_site == "same-origin"
            return None if same else "the request comes from another site"
        return "the request carries neither Origin nor Sec-Fetch-Site"

    def _token_problem(
        self, session_id: str, header_token: str | None, cookie_token: str | None
    ) -> str | None:
        if not header_token or not cookie_token:
            return "the X-CSRF-Token header or the __Host-csrf cookie is missing"
        if len(header_token) > MAX_TOKEN_LENGTH or not same_text(header_token, cookie_token):
            return "the X-CSRF-Token header does not match the __Host-csrf cookie"
        nonce, _, mac = header_token.partition(".")
        if not any(
            same_text(self._mac(key, session_id, nonce), mac) for key in self._verifying_keys
        ):
            return "the CSRF token does not belong to this session"
        return None

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        origin = origin.lower()
        if origin in self._trusted_origins:
            return True
        if origin == "null" or host is None:
            return False
        host = host.lower()
        try:
            parts = urlsplit(origin)
            own_host = urlsplit(f"//{host}").hostname
        except ValueError:  # not a URL (`http://[`): not this service's origin either
            return False
        # The Host header names the origin the browser is talking to; another site cannot set
        # it, so an Origin with the same host (and port) and scheme is this service's own page.
        # Browsers send the Secure session cookie only over HTTPS, or to a loopback host: the
        # only schemes this service's own pages can have. (The scheme the service itself sees
        # says nothing: TLS usually ends at a proxy.)
        schemes = _LOOPBACK_SCHEMES if own_host in LOOPBACK_HOSTS else _SECURE_SCHEMES
        return parts.scheme in schemes and parts.netloc == host
