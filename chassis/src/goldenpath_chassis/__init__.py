"""goldenpath-chassis: the cross-cutting standards of a goldenpath service, as a library.

A service declares itself once (`Service`), with its settings (`ChassisSettings` plus its own)
and its domains (`Domain`); the chassis builds its API, worker, migrations and command line from
that. The building blocks a domain uses live in the public modules beside this one:
`goldenpath_chassis.web` (routes, errors, schemas), `.security`, `.data`, `.cache`, `.jobs`,
`.logging`, `.settings`, and `.testing` for a service's own tests. Everything under `_core` is
private and may change in any release.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._core.domain import Domain
from ._core.service import Service
from ._core.settings import ChassisSettings, ConfigurationError, SettingsGroup, load_settings

if TYPE_CHECKING:
    from ._core.resources import Instruments, Resources, open_resources
    from ._core.state import ChassisState, chassis_of

try:
    __version__ = version("goldenpath-chassis")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0"

# Imported on first use: they bring FastAPI, SQLAlchemy and Redis, which `--help` and the
# image's health check never need.
_LAZY = {
    "Instruments": "._core.resources",
    "Resources": "._core.resources",
    "open_resources": "._core.resources",
    "ChassisState": "._core.state",
    "chassis_of": "._core.state",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChassisSettings",
    "ChassisState",
    "ConfigurationError",
    "Domain",
    "Instruments",
    "Resources",
    "Service",
    "SettingsGroup",
    "__version__",
    "chassis_of",
    "load_settings",
    "open_resources",
]
