"""Authenticate before the body is read (SEC-3): an anonymous body is never read or parsed.

FastAPI reads and parses a route's body before it solves the route's dependencies, so the
authentication dependency alone would let any caller make the service read a 1 MiB body (or
parse a deeply nested one) only to be answered 401. This middleware wraps `receive`: the first
time a protected route pulls its body, the caller is authenticated and the route's scopes are
checked first, and a refusal is answered without a byte of the body having been read.

Nothing is added to requests without a body, since nothing pulls one (a GET costs a closure).
The principal is kept in the request's state as usual, so the route's own dependency finds it
there and the per-principal rate limit counts the request once. What each route requires is read
from its dependencies when the lifespan starts (`BodyGuard.open`); a route the table does not
know (added later, public, or not a FastAPI route) is left to its dependencies, as before.

A refusal travels as an `HTTPException` subclass, the one kind of error FastAPI lets out of
its body reading unchanged (anything else becomes a 400); its handler answers the problem the
authentication raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DomainError, domain_error_response
from .authentication import authenticate

if TYPE_CHECKING:
    from .authentication import Authenticator


class RefusedBeforeBodyError(HTTPException):
    """Authentication refused the request on its first read of the body."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.status, detail=error.detail)
        self.error = error


def _authentications(dependant: Dependant) -> Iterator[Dependant]:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is authenticate:
            yield current
        pending.extend(current.dependencies)


def required_scopes(dependant: Dependant) -> tuple[str, ...] | None:
    """Every scope a route's authentication dependencies require; None if it has none."""
    found = list(_authentications(dependant))
    if not found:
        return None
    scopes: dict[str, None] = {}
    for node in found:
        for scope in (*(node.parent_oauth_scopes or ()), *(node.own_oauth_scopes or ())):
            scopes[scope] = None
    return tuple(scopes)


def body_requirements(app: FastAPI) -> dict[int, tuple[str, ...]]:
    """The scopes each protected FastAPI route requires, by the id of its route object.

    Requests name their route by its original object (`scope["route"]`). A route included in
    several places with different requirements is left to its dependencies.
    """
    seen: dict[int, tuple[str, ...] | None] = {}
    conflicting: set[int] = set()
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if not isinstance(dependant, Dependant):
            continue
        key = id(context.original_route)
        scopes = required_scopes(dependant)
        if key in seen and seen[key] != scopes:
            conflicting.add(key)
        seen[key] = scopes
    return {
        key: scopes for key, scopes in seen.items() if scopes is not None and key not in conflicting
    }


@dataclass(eq=False)
class BodyGuard:
    """What the middleware needs while the app runs: the authenticator and the table."""

    authenticator: Authenticator | None = None
    requirements: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def open(self, app: FastAPI, authenticator: Authenticator) -> None:
        self.requirements = body_requirements(app)
        self.authenticator = authenticator

    def close(self) -> None:
        self.authenticator = None
        self.requirements = {}

    async def check(self, scope: Scope) -> None:
        authenticator = self.authenticator
        route = scope.get("route")
        if authenticator is None or route is None:
            return
        required: Sequence[str] | None = self.requirements.get(id(route))
        if required is None:
            return
        try:
            await authenticator.authenticate(Request(scope), required)
        except DomainError as error:
            raise RefusedBeforeBodyError(error) from None


class AuthenticateBeforeBodyMiddleware:
    def __init__(self, app: ASGIApp, *, guard: BodyGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        checked = False

        async def receive_once_authenticated() -> Message:
            nonlocal checked
            if not checked:
                checked = True
                await self.guard.check(scope)
            return await receive()

        await self.app(scope, receive_once_authenticated, send)


async def refused_before_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RefusedBeforeBodyError)
    return domain_error_response(request, exc.error)
