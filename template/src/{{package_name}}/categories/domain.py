"""The categories domain, declared once: registered in `service.py`'s list of domains."""

from goldenpath_chassis import Domain

from .models import Category
from .router import router
from .service import OWNERSHIP

DOMAIN = Domain(
    name="categories",
    routers=(router,),
    models=(Category,),
    scopes={
        "categories:read": "read categories",
        "categories:write": "create, change and delete categories",
        OWNERSHIP.admin_scope: "reach every owner's categories (each access is logged)",
    },
)
