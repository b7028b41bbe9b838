"""The items domain, declared once: registered in `service.py`'s list of domains."""

from goldenpath_chassis import Domain

from .jobs import PUBLISH_ITEM, publish_item
from .models import Item
from .router import router
from .service import OWNERSHIP

DOMAIN = Domain(
    name="items",
    routers=(router,),
    models=(Item,),
    scopes={
        "items:read": "read items",
        "items:write": "create, change and delete items",
        OWNERSHIP.admin_scope: "reach every owner's items (each access is logged)",
    },
    jobs={PUBLISH_ITEM: publish_item},
)
