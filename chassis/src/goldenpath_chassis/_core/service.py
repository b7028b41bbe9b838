"""`Service`: a chassis service declared once, and everything derived from the declaration.

    SERVICE = Service(
        title="Acme Orders", version=__version__, package="acme_orders",
        settings=Settings, domains=domains, migrations=MIGRATIONS,
    )

The API (`create_app`), the worker, the migrations' metadata, the scopes and the command line
are all built from it. The declaration itself imports nothing heavy: `domains` is a function,
called when an app, a worker or the full command line is built, so `python -m <package>
healthcheck` stays a cheap process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .domain import Domain, check_domains
from .settings import ChassisSettings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import MetaData

    from .worker import JobHandler

# Every business route is under a version (API-1): /v1, and /v2 beside it after a breaking change.
API_VERSIONED = re.compile(r"^/v[1-9][0-9]*/")
_PACKAGE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def _chassis_domains() -> tuple[Domain, ...]:
    from .builtin_domains import chassis_domains  # noqa: PLC0415

    return chassis_domains()


@dataclass(frozen=True, kw_only=True, eq=False)
class Service:
    """Who the service is, how it is configured, and its domains."""

    title: str
    version: str
    package: str
    settings: type[ChassisSettings]
    domains: Callable[[], Sequence[Domain]]
    migrations: Path
    description: str = ""
    # The API document's version; its major is the URL's /v1 (API-1).
    api_version: str = "1.0.0"
    static: Path | None = None
    # Only the chassis's own domains; tests of the chassis replace them.
    chassis_domains: Callable[[], Sequence[Domain]] = field(default=_chassis_domains)

    def __post_init__(self) -> None:
        problems = []
        if not self.title.strip():
            problems.append("title: must not be empty")
        if not _PACKAGE.fullmatch(self.package):
            problems.append(f"package: {self.package!r} is not an importable module name")
        if not _SEMVER.fullmatch(self.api_version):
            problems.append(f"api_version: {self.api_version!r} is not MAJOR.MINOR.PATCH")
        if not self.migrations.is_dir():
            problems.append(f"migrations: {self.migrations} is not a directory")
        if problems:
            raise ValueError("invalid Service declaration: " + "; ".join(problems))

    @property
    def name(self) -> str:
        """The service's slug, from its settings class."""
        return self.settings.service_name

    @cached_property
    def own_domains(self) -> tuple[Domain, ...]:
        """The service's domains, in the order declared, each router under a version."""
        own = tuple(self.domains())
        for domain in own:
            for router in domain.routers:
                if not API_VERSIONED.match(router.prefix or ""):
                    raise ValueError(
                        f"domain {domain.name}: router {router.prefix!r} is not under a "
                        "version (/v1, /v2, ...)"
                    )
        return own

    @cached_property
    def all_domains(self) -> tuple[Domain, ...]:
        """The chassis's domains, then the service's, in the order declared."""
        return check_domains((*self.chassis_domains(), *self.own_domains))

    @property
    def scopes(self) -> Mapping[str, str]:
        return {scope: text for domain in self.all_domains for scope, text in domain.scopes.items()}

    @property
    def jobs(self) -> Mapping[str, JobHandler]:
        return {kind: job for domain in self.all_domains for kind, job in domain.jobs.items()}

    @property
    def metadata(self) -> MetaData:
        """Every table of every domain, for migrations and tests."""
        from .models import Base  # noqa: PLC0415

        self.all_domains  # noqa: B018 - importing the domains registers their tables
        return Base.metadata

    def load_settings(self, **overrides: object) -> ChassisSettings:
        return load_settings(self.settings, overrides)

    def create_app(self, settings: ChassisSettings | None = None) -> FastAPI:
        from .api import build_api  # noqa: PLC0415

        return build_api(self, settings or self.load_settings())

    def main(self, argv: Sequence[str] | None = None) -> int:
        """`python -m <package>`: serve, or run one of the service's commands."""
        from .cli import main  # noqa: PLC0415

        return main(self, argv)
