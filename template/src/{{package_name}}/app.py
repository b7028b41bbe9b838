"""The application factory: the chassis's standards composed with this service's domains.

Nothing runs at import; `create_app()` reads the settings, the lifespan opens the resources.
"""

from __future__ import annotations

from fastapi import FastAPI

from .service import SERVICE
from .settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return SERVICE.create_app(settings or load_settings())


def main() -> int:
    """The console script of `[project.scripts]` in pyproject.toml: `python -m` this package."""
    return SERVICE.main()
