"""Authentication (SEC-3): who is calling, from exactly one credential.

Precedence: `Authorization: Bearer <JWT or API key>`, then `X-API-Key`, then the session
cookie. The first one present decides: a request is never authenticated by a weaker credential
because a stronger one failed, and a cookie is ignored when a header credential is present (so
such requests are exempt from CSRF, see `csrf.py`). Signing out is the exception: it ends the
cookie's session too, CSRF-checked (`cookie_session`).

An API key is accepted as a bearer credential too (`Authorization: Bearer ak_...`), so a client
that only knows RFC 6750 (Prometheus's `authorization: credentials_file`) can carry one. The
two cannot be confused: a key starts with `ak_`, a JWT with its base64url header (`eyJ`).

After the caller is known, the per-principal rate limit counts the request (SEC-4, second layer),
then the route's scopes are checked. The principal is kept in the request's state, so a route
that depends on it twice authenticates once.

Failures are problem responses: 401 with a `WWW-Authenticate` challenge naming the reason (RFC
6750), 403 naming the missing scopes or the CSRF failure, 429 from the limiter, and 503 when the
identity provider's keys cannot be fetched or a session's revocation cannot be checked
(`revocation.py`). Never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from ..errors import DomainError
from ..logging import get_logger
from ..state import request_chassis
from .api_keys import ApiKeyRejectedError, ApiKeyVerifier, looks_like_api_key
from .csrf import CSRF_COOKIE, CSRF_HEADER, SAFE_METHODS, CsrfProtection
from .jwt import JwtVerifier, KeySetUnavailableError, TokenRejectedError
from .principal import TENANT_OWNER_PREFIX, Principal
from .rate_limit import RateLimiter, Rejection
from .revocation import RevocationUnavailableError, SessionRevocations
from .session import SESSION_COOKIE, Session, SessionCodec

API_KEY_HEADER = "X-API-Key"
PRINCIPAL_STATE_KEY = "principal"
SESSIONS_UNAVAILABLE = "Whether this session was signed out cannot be checked right now."

_log = get_logger(__name__)

BEARER_SCHEME = "bearerToken"
BEARER_DESCRIPTION = (
    "A JWT from the identity provider (its `scope` claim grants the scopes), or an API key "
    "(`ak_...`) as the bearer credential."
)


def other_schemes(package: str) -> dict[str, dict[str, str]]:
    """The other two ways to authenticate, documented as alternatives to the bearer token (any
    one will do) by `document_credential_schemes`."""
    return {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "A service-to-service API key "
            f"(`python -m {package} api-keys create`); `Authorization: Bearer <key>` also works.",
        },
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "A browser session from `POST /v1/auth/session`; POST, PUT, PATCH and "
            "DELETE also need the `X-CSRF-Token` header.",
        },
    }


def _challenge(error: str | None = None, **params: str) -> dict[str, str]:
    parts = ['Bearer realm="api"']
    if error:
        parts.append(f'error="{error}"')
    parts += [f'{name}="{value}"' for name, value in params.items()]
    return {"WWW-Authenticate": ", ".join(parts)}


class AuthenticationRequiredError(DomainError):
    status = HTTPStatus.UNAUTHORIZED
    code = "authentication-required"
    title = "Authentication required"

    def __init__(self) -> None:
        super().__init__(
            "Send a bearer token or API key (Authorization: Bearer ...), an API key "
            "(X-API-Key) or a session cookie.",
            headers=_challenge(),
        )


class InvalidCredentialsError(DomainError):
    status = HTTPStatus.UNAUTHORIZED
    code = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The credentials were refused: {reason}.",
            headers=_challenge("invalid_token", error_description=reason),
        )


class InsufficientScopeError(DomainError):
    status = HTTPStatus.FORBIDDEN
    code = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, missing: Sequence[str]) -> None:
        needed = " ".join(missing)
        super().__init__(
            f"This operation needs the scopes: {needed}.",
            headers=_challenge("insufficient_scope", scope=needed),
        )


class CsrfRejectedError(DomainError):
    status = HTTPStatus.FORBIDDEN
    code = "csrf-rejected"
    title = "Cross-site request refused"


class SessionOnlyForBearerError(DomainError):
    status = HTTPStatus.FORBIDDEN
    code = "bearer-token-required"
    title = "A bearer token is required"

    def __init__(self, detail: str = "A session is opened by exchanging a bearer token.") -> None:
        super().__init__(detail)


class AuthenticationUnavailableError(DomainError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "authentication-unavailable"
    title = "Authentication unavailable"
    headers = {"Retry-After": "5"}  # noqa: RUF012 - read-only class default

    def __init__(
        self, detail: str = "The identity provider's signing keys cannot be fetched right now."
    ) -> None:
        super().__init__(detail)


class RateLimitedError(DomainError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate-limited"
    title = "Too many requests"


class RateLimiterUnavailableError(DomainError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "rate-limiter-unavailable"
    title = "Rate limiting unavailable"


def _rate_limit_error(rejection: Rejection) -> DomainError:
    kind = (
        RateLimitedError
        if rejection.status == HTTPStatus.TOO_MANY_REQUESTS
        else RateLimiterUnavailableError
    )
    return kind(rejection.detail, headers=rejection.headers)


def _acts_for_a_tenant(owner: str | None) -> bool:
    return owner is not None and owner.startswith(TENANT_OWNER_PREFIX)


class Authenticator:
    """Turns the credential of a request into a `Principal`, or refuses it."""

    def __init__(
        self,
        *,
        jwt: JwtVerifier,
        api_keys: ApiKeyVerifier | None,
        sessions: SessionCodec,
        revocations: SessionRevocations,
        csrf: CsrfProtection,
        limiter: RateLimiter | None,
    ) -> None:
        self.jwt = jwt
        self.api_keys = api_keys
        self.sessions = sessions
        self.revocations = revocations
        self.csrf = csrf
        self.limiter = limiter

    async def authenticate(self, request: Request, required: Sequence[str]) -> Principal:
        state = request.scope.setdefault("state", {})
        principal: Principal | None = state.get(PRINCIPAL_STATE_KEY)
        if principal is None:
            principal = await self._identify(request)
            if self.limiter is not None:
                rejection = await self.limiter.hit("principal", principal.rate_limit_key)
                if rejection is not None:
                    raise _rate_limit_error(rejection)
            state[PRINCIPAL_STATE_KEY] = principal
        missing = principal.missing(required)
        if missing:
            raise InsufficientScopeError(missing)
        return principal

    async def _identify(self, request: Request) -> Principal:
        headers = request.headers
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise InvalidCredentialsError("use the Bearer scheme")
            if looks_like_api_key(token):
                return await self._from_api_key(token)
            return await self._from_token(token)
        api_key = headers.get(API_KEY_HEADER)
        if api_key is not None:
            return await self._from_api_key(api_key)
        # Cookies are parsed only when no header credential was sent.
        session_cookie = request.cookies.get(SESSION_COOKIE)
        if session_cookie is not None:
            return await self._from_session(request, session_cookie)
        raise AuthenticationRequiredError

    async def _from_token(self, token: str) -> Principal:
        try:
            verified = await self.jwt.verify(token)
        except TokenRejectedError as error:
            _log.info("credentials_refused", method="bearer", reason=error.reason)
            raise InvalidCredentialsError(error.reason) from None
        except KeySetUnavailableError:
            raise AuthenticationUnavailableError from None
        return Principal(
            verified.subject,
            verified.scopes,
            "bearer",
            expires_at=verified.expires_at,
            tenant=verified.tenant,
        )

    async def _from_api_key(self, api_key: str) -> Principal:
        if self.api_keys is None:
            raise InvalidCredentialsError("API keys are not accepted here")
        try:
            record = await self.api_keys.verify(api_key)
        except ApiKeyRejectedError as error:
            _log.info("credentials_refused", method="api_key", reason=error.reason)
            raise InvalidCredentialsError(error.reason) from None
        if self.jwt.tenant_claim is None and _acts_for_a_tenant(record.owner):
            # Made with --tenant (or replacing such a key) while AUTH_JWT_TENANT_CLAIM was set.
            # Owners are now users and keys: it would still reach a tenant's objects, which no
            # user does any more (a session is refused after the change too). A warning: an
            # operator revokes the key or sets the claim again. Its id is not its secret.
            _log.warning(
                "credentials_refused",
                method="api_key",
                reason="tenant key without AUTH_JWT_TENANT_CLAIM",
                key_id=record.key_id,
            )
            raise InvalidCredentialsError(
                "the key acts for a tenant, and this service no longer has tenants"
            )
        return Principal(record.key_id, record.scopes, "api_key", key_owner=record.owner)

    async def _from_session(self, request: Request, cookie: str) -> Principal:
        session = self.sessions.read(cookie)
        if session is None:
            _log.info("credentials_refused", method="session", reason="invalid or expired")
            raise InvalidCredentialsError("the session is invalid or expired")
        if (session.tenant is None) != (self.jwt.tenant_claim is None):
            # Opened before AUTH_JWT_TENANT_CLAIM was set (or unset): its owner would be the
            # user where the service now says the tenant, or the other way round (SEC-6).
            _log.info("credentials_refused", method="session", reason="tenant setting changed")
            raise InvalidCredentialsError(
                "the session was opened under another tenant setting; open a new one"
            )
        self._check_csrf(request, session)
        try:
            revoked = await self.revocations.is_revoked(session)
        except RevocationUnavailableError:
            raise AuthenticationUnavailableError(SESSIONS_UNAVAILABLE) from None
        if revoked:
            _log.info("credentials_refused", method="session", reason="signed out")
            raise InvalidCredentialsError("the session was signed out")
        return Principal(
            session.subject,
            session.scopes,
            "session",
            session.session_id,
            expires_at=session.expires_at,
            tenant=session.tenant,
        )

    def cookie_session(self, request: Request) -> Session | None:
        """The valid session named by the request's cookie, whatever authenticated the request.

        Signing out must end it even when a header credential decided the principal; it is
        still a change made with the cookie, so it passes the same CSRF check.
        """
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.read(cookie) if cookie is not None else None
        if session is not None:
            self._check_csrf(request, session)
        return session

    def _check_csrf(self, request: Request, session: Session) -> None:
        if request.method in SAFE_METHODS:
            return
        headers = request.headers
        problem = self.csrf.problem(
            session_id=session.session_id,
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=headers.get("host"),
            header_token=headers.get(CSRF_HEADER),
            cookie_token=request.cookies.get(CSRF_COOKIE),
        )
        if problem is not None:
            _log.warning("csrf_rejected", reason=problem)
            raise CsrfRejectedError(f"Cross-site request refused: {problem}.")


class _Authenticate(SecurityBase):
    """The one security dependency behind `RequireScopes`: authenticate, limit, check scopes.

    A single dependency, not one per scheme: each dependency FastAPI solves costs time on every
    request. The OpenAPI document still lists all three schemes (`document_credential_schemes`).
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=BEARER_DESCRIPTION)
        self.scheme_name = BEARER_SCHEME

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        authenticator = request_chassis(request).authenticator
        return await authenticator.authenticate(request, security_scopes.scopes)


authenticate = _Authenticate()


def document_credential_schemes(document: dict[str, Any], *, package: str) -> None:
    """Offer the API key and the session cookie wherever a bearer token is accepted."""
    others = other_schemes(package)
    used = False
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for requirement in list(operation.get("security", ())):
                scopes = requirement.get(BEARER_SCHEME)
                if scopes is not None:
                    operation["security"] += [{name: scopes} for name in others]
                    used = True
    if used:
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.update(others)
