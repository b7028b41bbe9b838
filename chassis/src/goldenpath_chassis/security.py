"""Access declarations for routes (SEC-3), object ownership (SEC-6), HTML sanitizing (SEC-1),
and the refusal of a user's URL that points inside (`resources.http.for_user_urls()` raises
`UnsafeUrlError`, SEC-1; so does `resources.http.check_user_url(url)`, without connecting).

    @router.get("", dependencies=[RequireScopes("items:read")])
    async def me(principal: CurrentPrincipal) -> ...
    router = APIRouter(prefix="/v1/status", dependencies=[Public])

Every route declares one or the other; the app refuses to start otherwise (deny by default).
A domain's repository filters every query by owner:

    ITEMS = Ownership(domain="items", admin_scope="items:admin")
    select(Item).where(Item.id == item_id, ITEMS.access(principal, "read").criterion(Item.owner))
"""

from ._core.security.ownership import OWNER_MAX_LENGTH, Owned, OwnerAccess, Ownership
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
from ._core.user_urls import UnsafeUrlError

__all__ = [
    "METRICS_SCOPE",
    "OWNER_MAX_LENGTH",
    "Authenticated",
    "CurrentPrincipal",
    "Owned",
    "OwnerAccess",
    "Ownership",
    "Principal",
    "Public",
    "RequireScopes",
    "UnsafeUrlError",
    "route_access",
    "sanitized_html",
]
