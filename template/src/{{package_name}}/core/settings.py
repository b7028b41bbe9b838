"""Settings from the environment, validated once at start-up (CFG-1).

Every variable is read here and nowhere else. A bad or missing value stops start-up with one
`ConfigurationError` that names every bad variable; production additionally refuses the values
that only make sense on a laptop. Secrets are `SecretStr`, so they never show in a repr or a log.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .._project import DATABASE_BACKEND, PROJECT_SLUG
from .security.secrets import SecretSourceError, secret_file_and_cloud_sources
from .security.settings_checks import (
    DEFAULT_JWT_ALGORITHMS,
    check_jwt_algorithms,
    check_origin,
    check_public_key,
    check_rate_limit,
    split_list,
)

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
    def from_secret_source_error(cls, error: SecretSourceError) -> ConfigurationError:
        return cls([(error.variable, error.reason)])

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
    database_pool_pre_ping_idle_seconds: float = Field(
        0.5,
        ge=0,
        le=60,
        description="Test a pooled connection before use if it was idle longer (0: always).",
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

    # --- Observability: metrics and tracing (docs/observability.md) ----------------------------
    # The standard OpenTelemetry variables, validated like every other setting. Tracing is off
    # (no provider, no exporter) unless an OTLP endpoint is set. The SDK itself reads the rest:
    # OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER(_ARG), OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*.
    otel_sdk_disabled: bool = False
    otel_service_name: str = Field(PROJECT_SLUG, min_length=1, max_length=255)
    otel_traces_exporter: Literal["otlp", "none"] = "otlp"
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: str = "http/protobuf"
    otel_exporter_otlp_traces_protocol: str | None = None

    # --- Cache (PERF-1) -------------------------------------------------------------------------
    cache_ttl_seconds: float = Field(300.0, gt=0, le=86_400)
    cache_ttl_jitter: float = Field(
        0.1, ge=0, le=0.5, description="Each TTL is spread by up to this fraction, either way."
    )
    cache_memory_max_entries: int = Field(
        10_000, ge=1, le=1_000_000, description="Bound of the in-process cache used without Redis."
    )

    # --- Outbound HTTP and resilience (RES-1, RES-2) --------------------------------------------
    http_connect_timeout_seconds: float = Field(2.0, gt=0, le=60)
    http_read_timeout_seconds: float = Field(5.0, gt=0, le=300)
    http_retry_attempts: int = Field(4, ge=1, le=10, description="Attempts, the first included.")
    http_retry_deadline_seconds: float = Field(
        15.0, gt=0, le=600, description="No outbound call, retries included, takes longer."
    )
    breaker_failure_threshold: int = Field(
        5, ge=1, le=1000, description="Consecutive failures that open a dependency's breaker."
    )
    breaker_reset_seconds: float = Field(
        30.0, gt=0, le=3600, description="How long a breaker stays open before one trial call."
    )
    webhook_url: str | None = Field(
        None, description="Where item events are POSTed by the worker; unset: no webhooks."
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Signs webhook bodies (HMAC-SHA256, Standard Webhooks headers)."
    )

    # --- Static assets (PERF-3) -----------------------------------------------------------------
    cdn_base_url: str | None = Field(
        None, description="Asset URLs start with this origin (the CDN that pulls from /static)."
    )

    # --- Request limits (SEC-1) -----------------------------------------------------------------
    request_max_header_bytes: int = Field(
        32_768,
        ge=1024,
        le=1_048_576,
        description="Larger request headers (names and values together) are refused with 431.",
    )

    # --- Security: authentication (SEC-3) and browser sessions (SEC-2) --------------------------
    # Issuer, audience and a key source are required in production; development and tests fall
    # back to a local key pair (`python -m <package> dev-token`).
    auth_jwt_issuer: str | None = Field(None, min_length=1, max_length=2048)
    auth_jwt_audience: str | None = Field(None, min_length=1, max_length=2048)
    auth_jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = DEFAULT_JWT_ALGORITHMS
    auth_jwt_public_key: str | None = Field(None, description="A PEM public key.")
    auth_jwt_jwks_url: str | None = Field(None, max_length=2048)
    auth_jwt_leeway_seconds: int = Field(30, ge=0, le=300)
    auth_jwt_jwks_cache_seconds: float = Field(600.0, ge=10, le=86400)
    auth_jwt_jwks_min_refresh_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="An unknown `kid` refreshes the key set at most this often.",
    )
    auth_api_key_cache_seconds: float = Field(
        5.0, ge=0, le=300, description="How long a verified API key is trusted without a lookup."
    )
    auth_session_secret: SecretStr | None = Field(
        None, description="Signs session and CSRF cookies; random per process outside production."
    )
    auth_session_max_age_seconds: int = Field(8 * 3600, ge=60, le=30 * 86400)
    auth_session_same_site: Literal["strict", "lax"] = "strict"

    # --- Security: HTTP (SEC-1, SEC-5) and client addresses (SEC-4) -----------------------------
    request_max_body_bytes: int = Field(1_048_576, ge=1024, le=1_073_741_824)
    cors_allow_origins: Annotated[tuple[str, ...], NoDecode] = ()
    security_hsts_seconds: int = Field(63_072_000, ge=0, le=63_072_000)
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        (), description="Networks of the proxies whose forwarding header is believed."
    )
    trusted_proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        "x-forwarded-for", description="The one header those proxies append the client to."
    )

    # --- Security: rate limiting (SEC-4) --------------------------------------------------------
    rate_limit_enabled: bool = True
    rate_limit_per_ip: str = Field("1200/minute", description="Before authentication.")
    rate_limit_per_principal: str = Field("600/minute", description="Per user or API key.")
    rate_limit_on_storage_error: Literal["allow", "deny"] = Field(
        "allow", description="When Redis cannot be reached: serve (and warn) or answer 503."
    )
    rate_limit_storage_retry_seconds: float = Field(
        2.0, ge=0, le=60, description="After a Redis failure, skip Redis this long."
    )

    # --- Secrets sources (CFG-2) ----------------------------------------------------------------
    # Read first, before the other settings: they say where the other settings come from.
    secrets_dir: Path | None = Field(None, description="Mounted secret files; /run/secrets if any.")
    secrets_aws_secret_id: str | None = Field(None, min_length=1, max_length=2048)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, the environment, mounted secret files, AWS Secrets
        # Manager. No .env file: configuration comes from the platform, not the working tree.
        return (
            init_settings,
            env_settings,
            *secret_file_and_cloud_sources(settings_cls, init_settings),
        )

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

    @field_validator(
        "otel_exporter_otlp_endpoint", "otel_exporter_otlp_traces_endpoint", "webhook_url",
        "cdn_base_url",
    )  # fmt: skip
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value

    @field_validator("cdn_base_url")
    @classmethod
    def _cdn_base_is_an_origin_or_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).query or urlsplit(value).fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("otel_exporter_otlp_protocol", "otel_exporter_otlp_traces_protocol")
    @classmethod
    def _otlp_over_http(cls, value: str | None) -> str | None:
        if value is not None and value != "http/protobuf":
            raise ValueError(
                "only http/protobuf is supported; point the endpoint at the collector's "
                "OTLP/HTTP port (4318)"
            )
        return value

    # --- Security validation --------------------------------------------------------------------
    @field_validator("auth_jwt_issuer", "auth_jwt_audience")
    @classmethod
    def _auth_required_in_production(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("app_env") == "production":
            raise ValueError("is required in production")
        return value

    @field_validator("auth_jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        return split_list(value)

    @field_validator("auth_jwt_algorithms")
    @classmethod
    def _asymmetric_algorithms_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_jwt_algorithms(value)

    @field_validator("auth_jwt_public_key")
    @classmethod
    def _public_key_is_pem(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return check_public_key(value, info.data.get("auth_jwt_algorithms"))

    @field_validator("auth_jwt_jwks_url")
    @classmethod
    def _one_key_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        production = info.data.get("app_env") == "production"
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL")
        if value is not None and production and not value.startswith("https://"):
            raise ValueError("must be an https:// URL in production")
        if "auth_jwt_public_key" not in info.data:
            return value  # the public key was invalid and is reported on its own
        has_key = info.data["auth_jwt_public_key"] is not None
        if value is not None and has_key:
            raise ValueError("set AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL, not both")
        if value is None and not has_key and production:
            raise ValueError("AUTH_JWT_JWKS_URL or AUTH_JWT_PUBLIC_KEY is required in production")
        return value

    @field_validator("auth_session_secret")
    @classmethod
    def _session_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr:
        if value is None:
            if info.data.get("app_env") == "production":
                raise ValueError("is required in production (32 or more random characters)")
            # Outside production, sessions live as long as the process: nothing to configure.
            return SecretStr(secrets.token_urlsafe(32))
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters long")
        return value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_list(value)

    @field_validator("cors_allow_origins")
    @classmethod
    def _explicit_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_origin(origin) for origin in value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return split_list(value)

    @field_validator("rate_limit_per_ip", "rate_limit_per_principal")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        return check_rate_limit(value)

    # --- Derived values -------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def effective_session_secret(self) -> str:
        # The validator fills a random secret outside production; None cannot reach here.
        assert self.auth_session_secret is not None
        return self.auth_session_secret.get_secret_value()

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded development database."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return DEVELOPMENT_DATABASE_URL

    @property
    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go, by the OTLP exporter rules; None when tracing is off."""
        if self.otel_sdk_disabled or self.otel_traces_exporter == "none":
            return None
        if self.otel_exporter_otlp_traces_endpoint is not None:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint is not None:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None


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
    except SecretSourceError as error:
        raise ConfigurationError(
            problems + ConfigurationError.from_secret_source_error(error).problems
        ) from None
    if problems:
        raise ConfigurationError(problems)
    return settings
