"""Settings from the environment, validated once at start-up (CFG-1).

Every variable is read here and nowhere else. A bad or missing value stops start-up with one
`ConfigurationError` that names every bad variable; production additionally refuses the values
that only make sense on a laptop. Secrets are `SecretStr`, so they never show in a repr or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._project import DATABASE_BACKEND

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEVELOPMENT_DATABASE_URL = "sqlite+aiosqlite:///./var/development.sqlite3"

# Variables a template release renamed (old -> new). Still set, an old name would be silently
# ignored, so start-up refuses it and names its replacement. `copier update` renames them in the
# project's own files (see the template's CHANGELOG).
RETIRED_VARIABLES: Final[Mapping[str, str]] = {
    "HEALTH_TIMEOUT_SECONDS": "READINESS_TIMEOUT_SECONDS",  # template 0.2.0
}


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

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> ConfigurationError:
        # Only the location and message: pydantic's default text includes the input value,
        # which may be a secret.
        problems = [
            (
                str(item["loc"][0]).upper() if item["loc"] else "SETTINGS",
                item["msg"].removeprefix("Value error, "),
            )
            for item in error.errors(include_url=False, include_input=False)
        ]
        return cls(problems)


class Settings(BaseSettings):
    """The service's configuration. Field `foo_bar` is environment variable `FOO_BAR`."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        # Validators must also see defaults, so production can refuse a missing value.
        validate_default=True,
    )

    # --- Runtime --------------------------------------------------------------------------------
    # app_env comes first: the validators below read it from `info.data`.
    app_env: Environment = "development"
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=1, le=65535)
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] = "json"
    docs_enabled: bool = True
    shutdown_grace_seconds: float = Field(
        20.0, gt=0, le=600, description="How long in-flight requests may take after SIGTERM."
    )
    shutdown_drain_seconds: float = Field(
        0.0,
        ge=0,
        le=120,
        description="After SIGTERM, keep serving while readiness is 503 for this long, so load "
        "balancers stop routing here before the listener closes.",
    )
    readiness_timeout_seconds: float = Field(
        1.0, gt=0, le=30, description="How long /health/ready waits for each dependency."
    )

    # --- Database (DB-1, PERF-2) -----------------------------------------------------------------
    database_url: SecretStr | None = None
    # Connections per process = pool size + overflow; keep (replicas x that) + worker pools under
    # PostgreSQL's max_connections minus a reserve for migrations and humans (see README).
    database_pool_size: int = Field(10, ge=1, le=100)
    database_max_overflow: int = Field(5, ge=0, le=100)
    database_pool_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="How long a request waits for a pooled connection."
    )
    database_pool_recycle_seconds: int = Field(
        1800, ge=30, le=86400, description="Reopen connections older than this."
    )
    database_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    database_statement_timeout_ms: int = Field(
        5000, ge=100, le=600_000, description="The server cancels statements that run longer."
    )
    database_slow_query_ms: int = Field(
        200, ge=1, le=600_000, description="Statements slower than this are logged."
    )

    # --- Job queue (ARCH-3) -----------------------------------------------------------------------
    worker_concurrency: int = Field(4, ge=1, le=64)
    worker_poll_seconds: float = Field(1.0, gt=0, le=60)
    worker_shutdown_grace_seconds: float = Field(30.0, gt=0, le=600)
    job_max_attempts: int = Field(5, ge=1, le=50)
    job_lease_seconds: float = Field(
        120.0, ge=5, le=3600, description="A job held longer than this by a worker is retried."
    )

    # --- Redis ----------------------------------------------------------------------------------
    redis_url: SecretStr | None = None
    redis_timeout_seconds: float = Field(0.5, gt=0, le=10)

    # --- Validation -----------------------------------------------------------------------------
    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", "redis_url")
    @classmethod
    def _required_in_production(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        if value is None and info.data.get("app_env") == "production":
            raise ValueError("is required in production")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_matches_backend(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None:
            return value
        url = value.get_secret_value()
        schemes: dict[str, tuple[str, ...]] = {
            "postgresql": ("postgresql+asyncpg://",),
            "sqlite": ("sqlite+aiosqlite://",),
        }
        allowed = schemes[DATABASE_BACKEND]
        if info.data.get("app_env") != "production":
            # Development and tests may also use the embedded SQLite database.
            allowed = (*allowed, "sqlite+aiosqlite://")
        if not url.startswith(allowed):
            raise ValueError(f"must start with {' or '.join(sorted(set(allowed)))}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    # --- Derived values -------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded development database."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return DEVELOPMENT_DATABASE_URL


def retired_variables(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """A problem for each retired variable that is still set, naming its replacement."""
    present = {name.upper() for name in environ}
    return [
        (old, f"was renamed to {new}; rename it")
        for old, new in RETIRED_VARIABLES.items()
        if old in present
    ]


def load_settings(**overrides: object) -> Settings:
    """Read and validate the environment; raise `ConfigurationError` naming every bad variable."""
    problems = retired_variables(os.environ)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        validation = ConfigurationError.from_validation_error(error)
        raise ConfigurationError(problems + validation.problems) from None
    if problems:
        raise ConfigurationError(problems)
    return settings
