"""Session routes under /v1/auth: open (exchange a bearer token), inspect, close (revoke, here
or everywhere)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from ..openapi import problem_responses
from ..security.authentication import (
    SESSIONS_UNAVAILABLE,
    AuthenticationUnavailableError,
    SessionOnlyForBearerError,
)
from ..security.csrf import CSRF_COOKIE
from ..security.revocation import RevocationUnavailableError
from ..security.scopes import CurrentPrincipal
from ..security.session import SESSION_COOKIE
from ..state import request_chassis
from .dependencies import CsrfDep, RevocationsDep, SameSiteDep, SessionsDep
from .schemas import PrincipalRead, SessionRead

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/session",
    summary="Open a browser session with a bearer token",
    description="Sets an HttpOnly, Secure, SameSite session cookie and a CSRF token. Browser "
    "code then calls the API with the cookie and sends `X-CSRF-Token` on state-changing "
    "requests; it never has to keep the bearer token. A session cookie the request still "
    "carries is revoked: the new session replaces it.",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionRead,
    responses=problem_responses(401, 403, 429, 503),
)
async def open_session(
    *,
    principal: CurrentPrincipal,
    sessions: SessionsDep,
    csrf: CsrfDep,
    revocations: RevocationsDep,
    same_site: SameSiteDep,
    request: Request,
    response: Response,
) -> SessionRead:
    if principal.method != "bearer":
        raise SessionOnlyForBearerError
    # The cookie about to be replaced would otherwise stay valid wherever a copy of it is. No
    # CSRF check: a bearer token authenticates this request, which no other site can send.
    replaced_cookie = request.cookies.get(SESSION_COOKIE)
    replaced = sessions.read(replaced_cookie) if replaced_cookie is not None else None
    if replaced is not None:
        await _revoke(revocations.revoke(replaced.session_id, expires_at=replaced.expires_at))
    # The session ends when the token would have, and keeps the token's scopes until then.
    cookie, session = sessions.issue(
        subject=principal.subject,
        scopes=principal.scopes,
        not_after=principal.expires_at,
        tenant=principal.tenant,
    )
    csrf_token = csrf.token_for(session.session_id)
    max_age = max(0, session.expires_at - int(time.time()))
    for name, value, http_only in (
        (SESSION_COOKIE, cookie, True),
        (CSRF_COOKIE, csrf_token, False),  # page scripts read it to send the header
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=True,
            httponly=http_only,
            samesite=same_site,
        )
    return SessionRead(
        subject=session.subject,
        scopes=sorted(session.scopes),
        expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        csrf_token=csrf_token,
    )


@router.get(
    "/session",
    summary="Who is calling",
    response_model=PrincipalRead,
    responses=problem_responses(401, 429),
)
async def read_principal(principal: CurrentPrincipal) -> PrincipalRead:
    return PrincipalRead(
        subject=principal.subject, scopes=sorted(principal.scopes), method=principal.method
    )


@router.delete(
    "/session",
    summary="Close the browser session",
    description="Clears the cookies and revokes the session on every replica: a copy of its "
    "cookie is refused from then on. With `everywhere=true`, every session of the caller "
    "opened until now is revoked too, on every device.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 429, 503),
)
async def close_session(
    # Authenticated, and CSRF-checked whenever the request carries a session cookie.
    principal: CurrentPrincipal,
    revocations: RevocationsDep,
    request: Request,
    response: Response,
    everywhere: Annotated[
        bool, Query(description="Sign out every session of the caller, not only this one.")
    ] = False,
) -> None:
    # The cookie's session, also when a bearer token or API key sent alongside it decided the
    # principal: otherwise the cookies are cleared here while a copy of the cookie still works.
    session = request_chassis(request).authenticator.cookie_session(request)
    if everywhere and principal.method == "api_key":
        # A key's id is no user's: it must not name a user whose sessions it would end.
        raise SessionOnlyForBearerError("An API key has no sessions to sign out everywhere.")
    if session is not None:
        await _revoke(revocations.revoke(session.session_id, expires_at=session.expires_at))
    if everywhere:
        await _revoke(revocations.revoke_subject(principal.subject, tenant=principal.tenant))
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=True, httponly=name == SESSION_COOKIE)


async def _revoke[T](revoking: Awaitable[T]) -> T:
    try:
        return await revoking
    except RevocationUnavailableError:
        raise AuthenticationUnavailableError(SESSIONS_UNAVAILABLE) from None
