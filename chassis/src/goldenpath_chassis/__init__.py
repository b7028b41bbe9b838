"""goldenpath-chassis: the cross-cutting standards of a goldenpath service, as a library.

A service declares itself once (`Service`), with its settings (`ChassisSettings` plus its own)
and its domains (`Domain`); the chassis builds its API, worker, migrations and command line from
that. The building blocks a domain uses live in the public modules beside this one:
`goldenpath_chassis.web` (routes, errors, schemas), `.security`, `.data`, `.cache`, `.jobs`,
`.logging`, `.settings`, `.startup` (what a service's `__main__` runs first), and `.testing` for
a service's own tests. Everything under `_core` is private and may change in any release.

Every name here is imported on first use: importing the package itself loads nothing, so
`goldenpath_chassis.startup` can make SIGTERM stop the process before the heavy imports (INF-3),
and `--help` and the image's health check never load FastAPI, SQLAlchemy or Redis.
"""

TYPE_CHECKING = False  # not `typing`'s: that import alone is a tenth of the light path
if TYPE_CHECKING:
    from typing import Any

    from ._core.domain import Domain
    from ._core.resources import Instruments, Resources, open_resources
    from ._core.service import Service
    from ._core.settings import ChassisSettings, ConfigurationError, SettingsGroup, load_settings
    from ._core.state import ChassisState, chassis_of

    __version__: str

_LAZY = {
    "Domain": "._core.domain",
    "Service": "._core.service",
    "ChassisSettings": "._core.settings",
    "ConfigurationError": "._core.settings",
    "SettingsGroup": "._core.settings",
    "load_settings": "._core.settings",
    "Instruments": "._core.resources",
    "Resources": "._core.resources",
    "open_resources": "._core.resources",
    "ChassisState": "._core.state",
    "chassis_of": "._core.state",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("goldenpath-chassis")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> "Any":
    import importlib  # noqa: PLC0415

    if name == "__version__":
        value: object = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once: the next lookup finds it without this function
    return value


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
