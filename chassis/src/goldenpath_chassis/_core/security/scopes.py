"""What each route requires (SEC-3): scopes, or an explicit `Public` mark. Deny by default.

Routes say what they need where they are declared:

    @router.get("", dependencies=[RequireScopes("items:read")])
    async def list_items(...): ...

    async def me(principal: CurrentPrincipal) -> ...        # any authenticated caller

    router = APIRouter(prefix="/health", dependencies=[Public])   # deliberately open

The OpenAPI document lists, for each operation, the accepted schemes with the scopes (FastAPI
derives it from these `Security` dependencies), so a client can read what to ask for.

Deny by default: at start-up `ensure_access_declared` walks every route of the application
(including the routers FastAPI 0.165 keeps nested) and refuses to start when one declares
neither scopes nor `Public`. Non-FastAPI routes (docs pages, mounted static files) must be
declared with `declare_public_path`. A forgotten declaration is a failed start, never an open
endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from ..domain import SCOPE_PATTERN
from .authentication import authenticate
from .principal import Principal

# /metrics needs this scope: give Prometheus an API key that holds only it.
METRICS_SCOPE = "metrics:read"
_PUBLIC_PATHS_STATE = "public_paths"


def RequireScopes(*scopes: str) -> Any:  # reads as a declaration in signatures
    """A dependency that authenticates the caller and requires every one of `scopes`."""
    for scope in scopes:
        if not SCOPE_PATTERN.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a scope name (e.g. items:read)")
    return Security(authenticate, scopes=list(scopes))


Authenticated = RequireScopes()
CurrentPrincipal = Annotated[Principal, Authenticated]


async def public_route() -> None:
    """Marks a route as open to anyone: a deliberate, visible decision."""


Public = Depends(public_route)


def declare_public_path(app: FastAPI, path: str) -> None:
    """Allow a route that is not a FastAPI route (docs, static files) to stay open."""
    paths: set[str] = getattr(app.state, _PUBLIC_PATHS_STATE, set())
    paths.add(path)
    setattr(app.state, _PUBLIC_PATHS_STATE, paths)


def _calls(dependant: Dependant) -> Iterator[object]:
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current.call
        pending.extend(current.dependencies)


def access_of(dependant: Dependant) -> str | None:
    """'authenticated', 'public', or None when the route declares neither."""
    calls = set(map(id, _calls(dependant)))
    if id(authenticate) in calls:
        return "authenticated"
    if id(public_route) in calls:
        return "public"
    return None


def route_access(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """Every (method, path) the app serves, with its declared access: None when any route of
    that method and path declares none."""
    public_paths: set[str] = getattr(app.state, _PUBLIC_PATHS_STATE, set())
    found: dict[tuple[str, str], str | None] = {}
    for route in iter_route_contexts(app.routes):
        path = str(route.path_format or route.path)
        methods = sorted(route.methods or {"*"})
        dependant = getattr(route, "dependant", None)
        if isinstance(dependant, Dependant):
            access = access_of(dependant)
        else:
            access = "public" if path in public_paths else None
        for method in methods:
            # Routes can share a method and path (the first serves them): a declared one must
            # not hide an undeclared one, whichever comes first.
            if (method, path) not in found or access is None:
                found[(method, path)] = access
    return found


def ensure_access_declared(app: FastAPI) -> None:
    undeclared = sorted(
        f"{method} {path}" for (method, path), access in route_access(app).items() if not access
    )
    if undeclared:
        raise RuntimeError(
            "routes without an access declaration (add RequireScopes(...) or Public): "
            + ", ".join(undeclared)
        )
