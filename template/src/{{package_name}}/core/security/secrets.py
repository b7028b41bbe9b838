"""Where secret settings come from (CFG-2): the environment, mounted secret files, AWS.

Precedence, highest first: explicit arguments, environment variables, files in the secrets
directory (Docker and Kubernetes mount one file per secret, named like the variable, for
example `/run/secrets/database_url`), then one AWS Secrets Manager secret whose value is a JSON
object of variable names to values. Nothing is ever written to the image or the working tree.

The two variables that point at the other sources (`SECRETS_DIR`, `SECRETS_AWS_SECRET_ID`) are
read from the explicit arguments or the environment only: a source cannot name itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic_settings import (
    AWSSecretsManagerSettingsSource,
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
)

DEFAULT_SECRETS_DIR = Path("/run/secrets")
SECRETS_DIR_VARIABLE = "SECRETS_DIR"
AWS_SECRET_ID_VARIABLE = "SECRETS_AWS_SECRET_ID"  # noqa: S105 - a variable name


class SecretSourceError(Exception):
    """A secrets source is configured but cannot be read; names the variable, never a value."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _bootstrap_value(
    name: str, init_settings: PydanticBaseSettingsSource, environ: Mapping[str, str]
) -> str | None:
    explicit = getattr(init_settings, "init_kwargs", {}).get(name.lower())
    if explicit is not None:
        return str(explicit)
    for key, value in environ.items():
        if key.upper() == name and value != "":
            return value
    return None


def _secrets_directory(value: str | None, app_env: str | None) -> Path | None:
    if value is None:
        # The conventional mount point, used only when something is mounted there, and never
        # by tests, which must not depend on what the machine running them has mounted.
        if app_env == "test" or not DEFAULT_SECRETS_DIR.is_dir():
            return None
        return DEFAULT_SECRETS_DIR
    directory = Path(value)
    if not directory.is_dir():
        raise SecretSourceError(SECRETS_DIR_VARIABLE, f"{value} is not a directory")
    return directory


def _aws_source(settings_cls: type[BaseSettings], secret_id: str) -> PydanticBaseSettingsSource:
    if importlib.util.find_spec("boto3") is None:
        raise SecretSourceError(
            AWS_SECRET_ID_VARIABLE,
            "reading AWS Secrets Manager needs the `aws` extra (uv sync --extra aws)",
        )
    try:
        # Region, credentials and endpoint come from the standard AWS variables and files
        # (AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER, IAM roles for service accounts, ...).
        return AWSSecretsManagerSettingsSource(settings_cls, secret_id, case_sensitive=False)
    except json.JSONDecodeError:
        raise SecretSourceError(
            AWS_SECRET_ID_VARIABLE, f"secret {secret_id!r} is not a JSON object of variables"
        ) from None
    except Exception as error:  # botocore raises many kinds; none may leak a value
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        kind = code or type(error).__name__
        raise SecretSourceError(
            AWS_SECRET_ID_VARIABLE, f"cannot read secret {secret_id!r} ({kind})"
        ) from None


def secret_file_and_cloud_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    environ: Mapping[str, str] | None = None,
) -> list[PydanticBaseSettingsSource]:
    """The sources after the environment, in precedence order; empty when none is configured."""
    environ = os.environ if environ is None else environ
    sources: list[PydanticBaseSettingsSource] = []
    directory = _secrets_directory(
        _bootstrap_value(SECRETS_DIR_VARIABLE, init_settings, environ),
        _bootstrap_value("APP_ENV", init_settings, environ),
    )
    if directory is not None:
        sources.append(SecretsSettingsSource(settings_cls, secrets_dir=directory))
    secret_id = _bootstrap_value(AWS_SECRET_ID_VARIABLE, init_settings, environ)
    if secret_id is not None:
        sources.append(_aws_source(settings_cls, secret_id))
    return sources
