"""Access declarations for routes (SEC-3) and HTML sanitizing for inputs (SEC-1).

    @router.get("", dependencies=[RequireScopes("items:read")])
    async def me(principal: CurrentPrincipal) -> ...
    router = APIRouter(prefix="/v1/status", dependencies=[Public])

Every route declares one or the other; the app refuses to start otherwise (deny by default).
"""

from ._core.security.principal import Principal
from ._core.security.sanitize import sanitized_html
from ._core.security.scopes import (
    METRICS_SCOPE,
    Authenticated,
    CurrentPrincipal,
    Public,
    RequireScopes,
    route_access,
)

__all__ = [
    "METRICS_SCOPE",
    "Authenticated",
    "CurrentPrincipal",
    "Principal",
    "Public",
    "RequireScopes",
    "route_access",
    "sanitized_html",
]
