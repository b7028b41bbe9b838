"""Settings: per-concern groups (`groups`), their composition (`chassis`) and the loader."""

from .chassis import ChassisSettings
from .groups import SettingsGroup
from .loading import ConfigurationError, load_settings, variables

__all__ = ["ChassisSettings", "ConfigurationError", "SettingsGroup", "load_settings", "variables"]
