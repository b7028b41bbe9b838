"""The service, declared once: who it is, its settings and its domains.

The chassis (goldenpath-chassis) builds the API, the worker, the migrations' metadata, the
scopes and the command line from this declaration. A new domain is its own package, one line
in `domains()` and one migration.
"""

from __future__ import annotations

from pathlib import Path

from goldenpath_chassis import Domain, Service

from . import __version__
from ._project import DESCRIPTION, PROJECT_NAME
from .settings import Settings

PACKAGE = Path(__file__).resolve().parent


def domains() -> tuple[Domain, ...]:
    """This service's domains, in order; imported only when an app, worker or tool needs them."""
    from .categories.domain import DOMAIN as CATEGORIES  # noqa: PLC0415
    from .items.domain import DOMAIN as ITEMS  # noqa: PLC0415

    return (ITEMS, CATEGORIES)


SERVICE = Service(
    title=PROJECT_NAME,
    description=DESCRIPTION,
    version=__version__,
    package=__package__ or PACKAGE.name,
    settings=Settings,
    domains=domains,
    migrations=PACKAGE / "migrations",
    static=PACKAGE / "static",
    # The API's version, in the OpenAPI document: its major is the URL's /v1. A breaking change
    # (tests/contract/test_openapi_snapshot.py knows which are) needs a new major, hence a /v2.
    api_version="1.0.0",
)
