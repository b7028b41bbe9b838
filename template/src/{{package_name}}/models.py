"""Every table of the service in one metadata, for migrations and tests.

`core` never imports a domain, so the list of domains' models lives here, at the top.
"""

from __future__ import annotations

from .api_keys.models import ApiKey
from .categories.models import Category
from .core.models import Base
from .core.queue import Job
from .items.models import Item

metadata = Base.metadata

__all__ = ["ApiKey", "Category", "Item", "Job", "metadata"]
