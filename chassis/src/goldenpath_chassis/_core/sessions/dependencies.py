"""Wiring for sessions: the codec, CSRF protection and revocations built once by
`core.security.install`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from ..security.csrf import CsrfProtection
from ..security.revocation import SessionRevocations
from ..security.session import SessionCodec
from ..state import request_chassis


def get_sessions(request: Request) -> SessionCodec:
    return request_chassis(request).guards.sessions


def get_csrf(request: Request) -> CsrfProtection:
    return request_chassis(request).guards.csrf


def get_revocations(request: Request) -> SessionRevocations:
    return request_chassis(request).guards.revocations


SameSite = Literal["strict", "lax"]


def get_same_site(request: Request) -> SameSite:
    return request_chassis(request).settings.sessions.same_site


SessionsDep = Annotated[SessionCodec, Depends(get_sessions)]
CsrfDep = Annotated[CsrfProtection, Depends(get_csrf)]
RevocationsDep = Annotated[SessionRevocations, Depends(get_revocations)]
SameSiteDep = Annotated[SameSite, Depends(get_same_site)]
