"""The service's settings: every concern of the chassis, plus this service's own (CFG-1).

Each chassis concern is a group read from variables that share a prefix (`DATABASE_POOL_SIZE` is
`settings.database.pool_size`); docs/standards.md lists them. Add the service's own settings
here: a field `invoice_page_size` is variable `INVOICE_PAGE_SIZE`; a group of them is a
`SettingsGroup` subclass with its own `env_prefix`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from goldenpath_chassis import ChassisSettings
from goldenpath_chassis import load_settings as load_chassis_settings
from goldenpath_chassis.settings import DatabaseBackend

from ._project import DATABASE_BACKEND, PROJECT_SLUG


class Settings(ChassisSettings):
    service_name: ClassVar[str] = PROJECT_SLUG
    database_backend: ClassVar[DatabaseBackend | None] = DATABASE_BACKEND


def load_settings(overrides: Mapping[str, object] | None = None, /, **more: object) -> Settings:
    """Read and validate the environment; `ConfigurationError` names every bad variable."""
    return load_chassis_settings(Settings, {**(overrides or {}), **more})
