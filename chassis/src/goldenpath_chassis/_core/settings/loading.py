"""Read a service's settings from its sources and validate them in one pass (CFG-1, CFG-2).

Sources, highest precedence first: explicit overrides (tests, tools), environment variables,
files in the secrets directory, one AWS Secrets Manager secret. Each source is a flat mapping of
variable names; `nest` sorts the variables into the settings' groups by their prefixes, then
pydantic validates everything at once, so one `ConfigurationError` names every bad variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..security.secrets import SecretSourceError, secret_sources
from .chassis import ChassisSettings
from .groups import SettingsGroup

# Where a variable goes: (top-level field, group field or None for a plain field).
type Destination = tuple[str, str | None]


class ConfigurationError(Exception):
    """The environment does not describe a service that can start; lists every bad variable."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"  {variable}: {reason}" for variable, reason in problems]
        noun = "variable" if len(problems) == 1 else "variables"
        super().__init__(
            f"invalid configuration, {len(problems)} environment {noun} to fix:\n"
            + "\n".join(lines)
        )


def _group_of(settings_cls: type[ChassisSettings], field: str) -> type[SettingsGroup] | None:
    annotation = settings_cls.model_fields[field].annotation
    if isinstance(annotation, type) and issubclass(annotation, SettingsGroup):
        return annotation
    return None


def variables(settings_cls: type[ChassisSettings]) -> dict[str, Destination]:
    """Every environment variable the settings read, and where its value goes."""
    found: dict[str, Destination] = {}
    for name in settings_cls.model_fields:
        group = _group_of(settings_cls, name)
        fields: list[tuple[str, Destination]] = (
            [(group.variable(sub), (name, sub)) for sub in group.model_fields]
            if group is not None
            else [(name.upper(), (name, None))]
        )
        for variable, destination in fields:
            if variable in found:
                raise TypeError(f"{settings_cls.__name__}: two settings read {variable}")
            found[variable] = destination
    return found


def variable_of(settings_cls: type[ChassisSettings], location: tuple[int | str, ...]) -> str:
    """The variable a validation error's location points at."""
    if not location:
        return "SETTINGS"
    name = str(location[0])
    group = _group_of(settings_cls, name) if name in settings_cls.model_fields else None
    if group is not None and len(location) > 1:
        return group.variable(str(location[1]))
    return name.upper()


def nest(settings_cls: type[ChassisSettings], flat: Mapping[str, object]) -> dict[str, Any]:
    """Sort flat variables into the settings' fields; unknown names are not this service's."""
    known = variables(settings_cls)
    nested: dict[str, Any] = {
        name: {} for name in settings_cls.model_fields if _group_of(settings_cls, name)
    }
    for variable, value in flat.items():
        destination = known.get(variable.upper())
        if destination is None or value is None:
            continue
        field, sub = destination
        if sub is None:
            nested[field] = value
        else:
            nested[field][sub] = value
    return nested


def _problems_of(
    settings_cls: type[ChassisSettings], error: ValidationError
) -> list[tuple[str, str]]:
    # Only the location and message: pydantic's default text includes the input value, which
    # may be a secret.
    return [
        (variable_of(settings_cls, tuple(item["loc"])), item["msg"].removeprefix("Value error, "))
        for item in error.errors(include_url=False, include_input=False)
    ]


def retired_problems(
    settings_cls: type[ChassisSettings], environ: Mapping[str, str]
) -> list[tuple[str, str]]:
    """A problem for each retired variable that is still set, naming its replacement."""
    present = {name.upper() for name in environ}
    return [
        (old, f"was renamed to {new}; rename it")
        for old, new in settings_cls.retired_variables.items()
        if old in present
    ]


def _flat_overrides(
    settings_cls: type[ChassisSettings], overrides: Mapping[str, object]
) -> dict[str, object]:
    known = variables(settings_cls)
    unknown = sorted(name for name in overrides if name.upper() not in known)
    if unknown:
        raise TypeError(f"not settings of {settings_cls.__name__}: {', '.join(unknown)}")
    return {name.upper(): value for name, value in overrides.items()}


def load_settings[S: ChassisSettings](
    settings_cls: type[S],
    /,
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> S:
    """Read and validate the settings; raise `ConfigurationError` naming every bad variable.

    `overrides` take variable names in any case (`{"database_url": ...}`), above every source.
    """
    environ = os.environ if environ is None else environ
    explicit = _flat_overrides(settings_cls, overrides or {})
    environment = {
        name.upper(): value
        for name, value in environ.items()
        if name.upper() in variables(settings_cls)
    }
    problems = retired_problems(settings_cls, environ)
    try:
        lower = secret_sources(bootstrap={**environment, **explicit}, names=variables(settings_cls))
    except SecretSourceError as error:
        raise ConfigurationError([*problems, (error.variable, error.reason)]) from None
    flat: dict[str, object] = {}
    sources: list[Mapping[str, object]] = [*reversed(lower), environment, explicit]
    for source in sources:
        flat.update(source)
    app_env = flat.get("APP_ENV", "development")
    context = {"app_env": app_env, "database_backend": settings_cls.database_backend}
    try:
        settings = settings_cls.model_validate(nest(settings_cls, flat), context=context)
    except ValidationError as error:
        raise ConfigurationError(problems + _problems_of(settings_cls, error)) from None
    if problems:
        raise ConfigurationError(problems)
    return settings
