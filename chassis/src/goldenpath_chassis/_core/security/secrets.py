"""Where secret settings come from (CFG-2): the environment, mounted secret files, AWS.

Precedence, highest first: explicit arguments, environment variables, files in the secrets
directory (Docker and Kubernetes mount one file per secret, named like the variable, for
example `/run/secrets/database_url`), then one AWS Secrets Manager secret whose value is a JSON
object of variable names to values. Nothing is ever written to the image or the working tree.

The two variables that point at the other sources (`SECRETS_DIR`, `SECRETS_AWS_SECRET_ID`) are
read from the explicit arguments or the environment only: a source cannot name itself, and one
that tries is refused rather than ignored.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic_settings import AWSSecretsManagerSettingsSource, BaseSettings

DEFAULT_SECRETS_DIR = Path("/run/secrets")
SECRETS_DIR_VARIABLE = "SECRETS_DIR"
AWS_SECRET_ID_VARIABLE = "SECRETS_AWS_SECRET_ID"  # noqa: S105 - a variable name


class SecretSourceError(Exception):
    """A secrets source is configured but cannot be read; names the variable, never a value."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _bootstrap_value(name: str, bootstrap: Mapping[str, object]) -> str | None:
    value = bootstrap.get(name)
    return None if value is None or value == "" else str(value)


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


def _secret_files(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """One file per secret, named like its variable in either case (`database_url`)."""
    found: dict[str, str] = {}
    for name in names:
        for candidate in (directory / name.lower(), directory / name):
            if candidate.is_file():
                found[name] = candidate.read_text(encoding="utf-8").strip()
                break
    return found


class _AnySettings(BaseSettings):
    """pydantic-settings reads the secret for a settings class; ours are nested, so none."""


def _aws_secret(secret_id: str, names: Iterable[str]) -> dict[str, str]:
    if importlib.util.find_spec("boto3") is None:
        raise SecretSourceError(
            AWS_SECRET_ID_VARIABLE,
            "reading AWS Secrets Manager needs the `aws` extra (uv sync --extra aws)",
        )
    try:
        # Region, credentials and endpoint come from the standard AWS variables and files
        # (AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER, IAM roles for service accounts, ...).
        source = AWSSecretsManagerSettingsSource(_AnySettings, secret_id, case_sensitive=False)
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
    values = {key.upper(): value for key, value in source.env_vars.items() if value is not None}
    return {name: values[name] for name in names if name in values}


def secret_sources(
    *, bootstrap: Mapping[str, object], names: Iterable[str]
) -> list[dict[str, str]]:
    """The sources after the environment, highest precedence first; empty when none is set.

    `bootstrap` holds the overrides and the environment: only they may name the other sources.
    """
    names = list(names)
    sources: list[dict[str, str]] = []
    directory = _secrets_directory(
        _bootstrap_value(SECRETS_DIR_VARIABLE, bootstrap),
        _bootstrap_value("APP_ENV", bootstrap),
    )
    if directory is not None:
        sources.append(
            _refuse_source_names(_secret_files(directory, names), f"a file in {directory}")
        )
    secret_id = _bootstrap_value(AWS_SECRET_ID_VARIABLE, bootstrap)
    if secret_id is not None:
        found = _aws_secret(secret_id, names)
        sources.append(_refuse_source_names(found, f"AWS secret {secret_id!r}"))
    return sources


def _refuse_source_names(found: dict[str, str], where: str) -> dict[str, str]:
    # Read too late to take effect: ignored, they would still show as set in `settings.secrets`.
    for name in (SECRETS_DIR_VARIABLE, AWS_SECRET_ID_VARIABLE):
        if name in found:
            raise SecretSourceError(name, f"set by {where}; only the environment may set it")
    return found
