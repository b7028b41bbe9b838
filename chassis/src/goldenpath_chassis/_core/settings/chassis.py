"""`ChassisSettings`: every concern's group, composed; a service subclasses it to add its own.

    class Settings(ChassisSettings):
        database_backend: ClassVar[DatabaseBackend] = "postgresql"
        invoice_page_size: int = Field(50, ge=1, le=500)      # INVOICE_PAGE_SIZE
        payments: PaymentSettings = Field(default_factory=PaymentSettings)   # PAYMENTS_...

A plain field of the subclass is the variable of its upper-case name; a `SettingsGroup` field
is the group's variables, under its own prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field

from .groups import (
    ApiKeySettings,
    BreakerSettings,
    CacheSettings,
    CorsSettings,
    DatabaseBackend,
    DatabaseSettings,
    DocsSettings,
    Environment,
    HealthSettings,
    HttpClientSettings,
    JobSettings,
    JwtSettings,
    LoggingSettings,
    MigrationSettings,
    ProxySettings,
    RateLimitSettings,
    RedisSettings,
    RequestLimitSettings,
    SecretSourceSettings,
    SecurityHeaderSettings,
    ServerSettings,
    SessionSettings,
    StaticSettings,
    TelemetrySettings,
    WebhookSettings,
    WorkerSettings,
)

# Variables a release renamed (old -> new). Still set, an old name would be silently ignored,
# so start-up refuses it and names its replacement; `copier update` renames them in the
# service's own files (see the template's CHANGELOG).
RETIRED_VARIABLES: Final[Mapping[str, str]] = {
    "HEALTH_TIMEOUT_SECONDS": "READINESS_TIMEOUT_SECONDS",  # template 0.2.0
}


class ChassisSettings(BaseModel):
    """The configuration of a chassis service, validated once at start-up (CFG-1)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    # The service's slug: it prefixes cache and rate-limit keys, names the service to
    # PostgreSQL, metrics and traces (unless OTEL_SERVICE_NAME is set); set by the service.
    service_name: ClassVar[str] = "service"
    # What `DATABASE_URL` may point at in production; set by the service.
    database_backend: ClassVar[DatabaseBackend | None] = None
    # A service adds its own renamed variables to the chassis's.
    retired_variables: ClassVar[Mapping[str, str]] = RETIRED_VARIABLES

    app_env: Environment = "development"
    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    docs: DocsSettings = Field(default_factory=DocsSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    http_client: HttpClientSettings = Field(default_factory=HttpClientSettings)
    breakers: BreakerSettings = Field(default_factory=BreakerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    static: StaticSettings = Field(default_factory=StaticSettings)
    request_limits: RequestLimitSettings = Field(default_factory=RequestLimitSettings)
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    headers: SecurityHeaderSettings = Field(default_factory=SecurityHeaderSettings)
    proxies: ProxySettings = Field(default_factory=ProxySettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    secrets: SecretSourceSettings = Field(default_factory=SecretSourceSettings)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def telemetry_service_name(self) -> str:
        """The name in metrics and traces: OTEL_SERVICE_NAME, or the service's slug."""
        return self.telemetry.service_name or self.service_name

    @property
    def uses_embedded_database(self) -> bool:
        """Development without DATABASE_URL: the embedded SQLite database, migrated on start."""
        return self.app_env == "development" and self.database.url is None
