"""Wiring for sessions: the codec and CSRF protection built once by `core.security.install`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from ..core.security.csrf import CsrfProtection
from ..core.security.session import SessionCodec


def get_sessions(request: Request) -> SessionCodec:
    sessions: SessionCodec = request.app.state.sessions
    return sessions


def get_csrf(request: Request) -> CsrfProtection:
    csrf: CsrfProtection = request.app.state.csrf
    return csrf


SameSite = Literal["strict", "lax"]


def get_same_site(request: Request) -> SameSite:
    same_site: SameSite = request.app.state.settings.auth_session_same_site
    return same_site


SessionsDep = Annotated[SessionCodec, Depends(get_sessions)]
CsrfDep = Annotated[CsrfProtection, Depends(get_csrf)]
SameSiteDep = Annotated[SameSite, Depends(get_same_site)]
