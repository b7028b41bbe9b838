"""The chassis's settings, one model per concern (CFG-1).

Each group reads the environment variables that share its prefix: `DatabaseSettings.pool_size`
is `DATABASE_POOL_SIZE`. The variable names are the ones services have always used, so moving a
concern into a group renames nothing a deployment sets. A group validates alone; the checks that
depend on the environment ("required in production") read `app_env` from the validation context
that `load_settings` passes, so one bad group never hides another's problems.

Every message names what is wrong and never the value, which may be a secret.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, ClassVar, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from ..security.settings_checks import (
    DEFAULT_JWT_ALGORITHMS,
    check_jwt_algorithms,
    check_origin,
    check_origins_in_production,
    check_public_key,
    check_rate_limit,
    check_token_types,
    split_list,
)
from ..security.token_types import DEFAULT_TOKEN_TYPES
from ..webhook_keys import signing_key

Environment = Literal["development", "test", "production"]
DatabaseBackend = Literal["postgresql", "sqlite"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEVELOPMENT_DATABASE_URL: Final = "sqlite+aiosqlite:///./var/development.sqlite3"
# How much longer than the statement timeout the driver waits for PostgreSQL to answer: where
# the server is alive, its own cancel (which leaves the connection clean) comes first.
DATABASE_CLIENT_TIMEOUT_MARGIN_SECONDS: Final = 1.0
_DATABASE_SCHEMES: Final[dict[str, str]] = {
    "postgresql": "postgresql+asyncpg://",
    "sqlite": "sqlite+aiosqlite://",
}


def app_env_of(info: ValidationInfo) -> str:
    """The environment `load_settings` validates for ("development" when built directly)."""
    context = info.context if isinstance(info.context, dict) else {}
    return str(context.get("app_env", "development"))


def in_production(info: ValidationInfo) -> bool:
    return app_env_of(info) == "production"


def _https_in_production(value: str | None, info: ValidationInfo) -> str | None:
    """A key set and a webhook cross networks the service does not own: over plain http://
    anyone on the path reads what is sent and can change what comes back."""
    if value is not None and in_production(info) and urlsplit(value).scheme != "https":
        raise ValueError("must be an https:// URL in production")
    return value


def _absolute_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


class SettingsGroup(BaseModel):
    """Settings of one concern, read from the environment variables that share `env_prefix`."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    env_prefix: ClassVar[str] = ""

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of one of this group's fields."""
        return (cls.env_prefix + field).upper()


class ServerSettings(SettingsGroup):
    """The HTTP server and the process's shutdown (INF-1, INF-3)."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=1, le=65535)
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
    shutdown_trace_flush_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="At shutdown, spans not yet exported are sent for at most this long; what "
        "the collector has not taken by then is dropped (the API and the worker alike).",
    )
    max_concurrent_requests: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Requests one process works on at once; past it a request is refused at "
        "once with 503 and Retry-After (the probes and the metrics scrape excepted), so an "
        "overloaded process keeps its latency instead of slowing every request past its "
        "clients' timeouts. By Little's law (in flight = throughput x time), an accepted request "
        "queues at most about this many / the throughput: 50 ms for cached reads at 2,000 a "
        "second, 330 ms for authenticated database reads at 300 a second (two cores, "
        "docs/benchmarks.md); twice a 50-user load test's in-flight.",
    )
    # Here, not beside the slow clients' other limits: RequestLimitSettings's prefix would make
    # it REQUEST_RESPONSE_SEND_TIMEOUT_SECONDS.
    response_send_timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=300,
        description="A connection whose client takes none of its response for this long is "
        "reset (slow readers). nginx's send_timeout: a stall is timed, not a whole response, "
        "so a large download on a slow link is never cut; a minute outlasts a live link's "
        "stalls (a phone between cells, TCP's retransmissions backing off) and gives back the "
        "buffer and the connection of a client that stopped reading.",
    )


class LoggingSettings(SettingsGroup):
    """Structured logs (OBS-3): `LOG_LEVEL`, `LOG_FORMAT`."""

    env_prefix: ClassVar[str] = "LOG_"

    level: LogLevel = "INFO"
    # Unset: console on a terminal, JSON anywhere else (logging.py: resolve_format).
    format: Literal["json", "console"] | None = None

    @field_validator("level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class DocsSettings(SettingsGroup):
    """The OpenAPI document and the docs page (API-2): `DOCS_ENABLED`."""

    env_prefix: ClassVar[str] = "DOCS_"

    enabled: bool = Field(
        None,  # type: ignore[assignment]  # the validator decides by the environment
        description="Serve /docs and /openapi.json; by default everywhere but production.",
    )

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, value: object, info: ValidationInfo) -> object:
        # Production serves neither unless asked: the document maps every route and scope for
        # whoever can reach the service, and its clients have the committed `openapi.json`.
        return not in_production(info) if value is None else value


class HealthSettings(SettingsGroup):
    """Readiness (INF-2): `READINESS_TIMEOUT_SECONDS`."""

    env_prefix: ClassVar[str] = "READINESS_"

    timeout_seconds: float = Field(
        1.0, gt=0, le=30, description="How long /health/ready waits for each dependency."
    )


class DatabaseSettings(SettingsGroup):
    """The database and its connection pool (DB-1, PERF-2).

    Connections per process = pool size + overflow; keep (replicas x that) + worker pools under
    PostgreSQL's max_connections minus a reserve for migrations and humans.
    """

    env_prefix: ClassVar[str] = "DATABASE_"

    url: SecretStr | None = None
    pool_size: int = Field(10, ge=1, le=100)
    max_overflow: int = Field(5, ge=0, le=100)
    pool_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="How long a request waits for a pooled connection."
    )
    pool_recycle_seconds: int = Field(
        1800, ge=30, le=86400, description="Reopen connections older than this."
    )
    pool_pre_ping_idle_seconds: float = Field(
        0.5,
        ge=0,
        le=60,
        description="Test a pooled connection before use if it was idle longer (0: always).",
    )
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    statement_timeout_ms: int = Field(
        5000, ge=100, le=600_000, description="The server cancels statements that run longer."
    )
    slow_query_ms: int = Field(
        200, ge=1, le=600_000, description="Statements slower than this are logged."
    )

    @field_validator("url")
    @classmethod
    def _url_fits_backend(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if in_production(info):
                raise ValueError("is required in production")
            return None
        context = info.context if isinstance(info.context, dict) else {}
        backend = context.get("database_backend")
        # The service's declared backend; any known one when the group is built on its own.
        allowed = {_DATABASE_SCHEMES[backend]} if backend else set(_DATABASE_SCHEMES.values())
        if not in_production(info):
            # Development and tests may also use the embedded SQLite database.
            allowed.add(_DATABASE_SCHEMES["sqlite"])
        if not value.get_secret_value().startswith(tuple(allowed)):
            raise ValueError(f"must start with {' or '.join(sorted(allowed))}")
        return value

    @property
    def client_timeout_seconds(self) -> float:
        """How long the driver waits for any answer from PostgreSQL: a server that stops
        answering (a frozen host, a partition) cannot apply its own statement timeout."""
        return self.statement_timeout_ms / 1000 + DATABASE_CLIENT_TIMEOUT_MARGIN_SECONDS

    @property
    def effective_url(self) -> str:
        """The configured database, or the embedded development database."""
        if self.url is not None:
            return self.url.get_secret_value()
        return DEVELOPMENT_DATABASE_URL


class MigrationSettings(SettingsGroup):
    """The bounds of `migrate`'s connection (DB-2), in place of the application's:
    `MIGRATION_STATEMENT_TIMEOUT_MS`, `MIGRATION_LOCK_TIMEOUT_MS`, `MIGRATION_LOCK_WAIT_SECONDS`.
    PostgreSQL only: SQLite has none, and its migrations wait for the write lock up to
    DATABASE_STATEMENT_TIMEOUT_MS."""

    env_prefix: ClassVar[str] = "MIGRATION_"

    # No bound by default: an index built or a table backfilled legitimately runs for minutes,
    # and any figure here is wrong for some table. The migration Job's deadline
    # (activeDeadlineSeconds) bounds the whole run; its SIGTERM ends the statement too.
    statement_timeout_ms: int = Field(
        0,
        ge=0,
        le=86_400_000,
        description="The server cancels a migration's statement that runs longer (0: no bound).",
    )
    # Below the application's statement timeout: the queries queued behind a migration's lock
    # request resume before their own timeout cancels them.
    lock_timeout_ms: int = Field(
        2000,
        ge=0,
        le=600_000,
        description=(
            "A migration gives up waiting this long for a lock (0: waits for ever), so the"
            " queries queued behind its request are not held up."
        ),
    )
    # Another run migrating is normal (a retried Job, two pipelines): wait for it, then find
    # nothing left to apply. Bounded, so that a stuck holder fails the run in one line (exit
    # 75, the Job retries) well within the migration Job's deadline of 600 s.
    lock_wait_seconds: float = Field(
        120.0,
        ge=0,
        le=86_400,
        description=(
            "PostgreSQL: a migration waits this long for another run of migrate on the same"
            " database to finish (0: for ever)."
        ),
    )


class JobSettings(SettingsGroup):
    """Jobs in the queue (ARCH-3): `JOB_MAX_ATTEMPTS`, `JOB_LEASE_SECONDS`,
    `JOB_MAX_RUN_SECONDS`."""

    env_prefix: ClassVar[str] = "JOB_"

    max_attempts: int = Field(5, ge=1, le=50)
    lease_seconds: float = Field(
        30.0,
        ge=5,
        le=3600,
        description=(
            "How long a claim holds a job: the worker extends it every third of it while the "
            "job runs (one UPDATE for all its jobs), so a worker that died holds its jobs "
            "this long before another retries them."
        ),
    )
    max_run_seconds: float = Field(
        900.0,
        ge=1,
        le=86400,
        description=(
            "A job's handler runs for at most this: then it is cancelled and the attempt "
            "fails (retried with backoff)."
        ),
    )


class WorkerSettings(SettingsGroup):
    """The worker process (ARCH-3)."""

    env_prefix: ClassVar[str] = "WORKER_"

    concurrency: int = Field(4, ge=1, le=64)
    poll_seconds: float = Field(1.0, gt=0, le=60)
    shutdown_grace_seconds: float = Field(30.0, gt=0, le=600)
    http_port: int = Field(
        9000,
        ge=1,
        le=65535,
        description="The worker's own HTTP listener, on HOST: /metrics (the API's "
        "metrics:read key) and the probes /health/live and /health/ready.",
    )


class RedisSettings(SettingsGroup):
    """Redis: the shared cache and rate-limit store."""

    env_prefix: ClassVar[str] = "REDIS_"

    url: SecretStr | None = None
    timeout_seconds: float = Field(0.5, gt=0, le=10)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if in_production(info):
                raise ValueError("is required in production")
            return None
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class TelemetrySettings(SettingsGroup):
    """OpenTelemetry, by its standard variables (OBS-2).

    Tracing is off (no provider, no exporter) unless an OTLP endpoint is set. The SDK itself
    reads the rest: OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER(_ARG),
    OTEL_RESOURCE_ATTRIBUTES.

    OTEL_BSP_EXPORT_TIMEOUT is validated like its neighbours, but nothing uses it: the SDK's
    batch processor reads it and ignores it (opentelemetry-python#4555). Tracing says so at
    start-up when it is set (core/tracing.py), with what bounds an export instead:
    OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT, and SHUTDOWN_TRACE_FLUSH_SECONDS at shutdown.
    """

    env_prefix: ClassVar[str] = "OTEL_"

    sdk_disabled: bool = False
    service_name: str | None = Field(
        None, min_length=1, max_length=255, description="Default: the service's slug."
    )
    traces_exporter: Literal["otlp", "none"] = "otlp"
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None
    exporter_otlp_protocol: str = "http/protobuf"
    exporter_otlp_traces_protocol: str | None = None
    # Read here so that they are validated at start-up and passed to the SDK explicitly: the
    # SDK would fall back to its default on a bad value, with a warning at the first export.
    exporter_otlp_timeout: float = Field(
        10.0, gt=0, le=60, description="Seconds one export may take, its retries included."
    )
    exporter_otlp_traces_timeout: float | None = Field(None, gt=0, le=60)
    bsp_max_queue_size: int = Field(
        2048, ge=1, le=65_536, description="Spans waiting for export; those beyond are dropped."
    )
    bsp_max_export_batch_size: int = Field(512, ge=1, le=65_536)
    bsp_schedule_delay: int = Field(
        5000, gt=0, le=3_600_000, description="Milliseconds between two exports of the queue."
    )
    bsp_export_timeout: int | None = Field(
        None, ge=0, description="Milliseconds; ignored by the SDK (see the class's docstring)."
    )

    @field_validator("exporter_otlp_endpoint", "exporter_otlp_traces_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _absolute_http_url(value)

    @field_validator("exporter_otlp_protocol", "exporter_otlp_traces_protocol")
    @classmethod
    def _otlp_over_http(cls, value: str | None) -> str | None:
        if value is not None and value != "http/protobuf":
            raise ValueError(
                "only http/protobuf is supported; point the endpoint at the collector's "
                "OTLP/HTTP port (4318)"
            )
        return value

    @field_validator("bsp_max_export_batch_size")
    @classmethod
    def _batch_fits_the_queue(cls, value: int, info: ValidationInfo) -> int:
        queue = info.data.get("bsp_max_queue_size")
        if queue is not None and value > queue:
            raise ValueError("must not exceed OTEL_BSP_MAX_QUEUE_SIZE")
        return value

    @property
    def traces_timeout(self) -> float:
        """Seconds one export may take, retries and back-off included (the SDK's deadline)."""
        if self.exporter_otlp_traces_timeout is not None:
            return self.exporter_otlp_traces_timeout
        return self.exporter_otlp_timeout

    @property
    def traces_timeout_variable(self) -> str:
        """The variable `traces_timeout` comes from, to name it in the log."""
        if self.exporter_otlp_traces_timeout is not None:
            return "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
        return "OTEL_EXPORTER_OTLP_TIMEOUT"

    @property
    def traces_endpoint(self) -> str | None:
        """Where spans go, by the OTLP exporter rules; None when tracing is off."""
        if self.sdk_disabled or self.traces_exporter == "none":
            return None
        if self.exporter_otlp_traces_endpoint is not None:
            return self.exporter_otlp_traces_endpoint
        if self.exporter_otlp_endpoint is not None:
            return self.exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None


class CacheSettings(SettingsGroup):
    """Cache-aside (PERF-1)."""

    env_prefix: ClassVar[str] = "CACHE_"

    ttl_seconds: float = Field(300.0, gt=0, le=86_400)
    ttl_jitter: float = Field(
        0.1, ge=0, le=0.5, description="Each TTL is spread by up to this fraction, either way."
    )
    memory_max_entries: int = Field(
        10_000, ge=1, le=1_000_000, description="Bound of the in-process cache used without Redis."
    )
    near_max_staleness_ms: int = Field(
        100,
        ge=0,
        le=60_000,
        description="With Redis: entries are also kept in process memory, and a read served there "
        "is never staler than this after another process's write (0: always read Redis).",
    )
    near_max_entries: int = Field(
        10_000, ge=1, le=1_000_000, description="Bound of the entries kept in process memory."
    )
    near_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        le=4 * 1024**3,
        description="Bound of what the entries kept in process memory take (keys and values).",
    )


class HttpClientSettings(SettingsGroup):
    """Outbound HTTP: timeouts, retries and the overall deadline (RES-2)."""

    env_prefix: ClassVar[str] = "HTTP_"

    connect_timeout_seconds: float = Field(2.0, gt=0, le=60)
    read_timeout_seconds: float = Field(5.0, gt=0, le=300)
    retry_attempts: int = Field(4, ge=1, le=10, description="Attempts, the first included.")
    retry_deadline_seconds: float = Field(
        15.0, gt=0, le=600, description="No outbound call, retries included, takes longer."
    )
    max_response_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="A longer response body (decompressed) fails its call, unread past this.",
    )
    user_url_allowed_networks: tuple[IPvAnyNetwork, ...] = Field(
        (),
        description="Non-public networks that URLs from users may still reach (`for_user_urls`): "
        "internal hosts a team trusts. Empty: public addresses only.",
    )

    user_url_allowed_ports: tuple[Annotated[int, Field(ge=1, le=65535)], ...] | Literal["*"] = (
        Field(
            (80, 443),
            description="Ports URLs from users may name (`for_user_urls`), comma-separated; `*` "
            "for any. The web's two by default: a callback is a web server, and any other port "
            "of a public host (SMTP, Redis, an admin console) is not one to let users reach.",
        )
    )

    @field_validator("user_url_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return split_list(value)

    @field_validator("user_url_allowed_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == "*":
            return "*"
        ports = split_list(value)
        if ports == ():
            # Empty could be read as "none" or as "any": neither silently.
            raise ValueError("name the ports (80,443), or * for any")
        return ports


class BreakerSettings(SettingsGroup):
    """Circuit breakers on every dependency (RES-1)."""

    env_prefix: ClassVar[str] = "BREAKER_"

    failure_threshold: int = Field(
        5, ge=1, le=1000, description="Consecutive failures that open a dependency's breaker."
    )
    reset_seconds: float = Field(
        30.0, gt=0, le=3600, description="How long a breaker stays open before one trial call."
    )


class WebhookSettings(SettingsGroup):
    """Signed webhooks, delivered by the worker."""

    env_prefix: ClassVar[str] = "WEBHOOK_"

    url: str | None = Field(
        None, description="Where events are POSTed (https:// in production); unset: no webhooks."
    )
    secret: SecretStr | None = Field(
        None,
        description="Signs webhook bodies (HMAC-SHA256, Standard Webhooks headers): whsec_ and a "
        "base64 key of 24 to 64 bytes, as the spec and its libraries read it (recommended), or "
        "32 or more characters taken as they are; required in production with a URL.",
    )
    secret_previous: SecretStr | None = Field(
        None,
        description="During a rotation, the secret being replaced: each delivery carries a "
        "signature with it too, so a receiver still on it keeps verifying. Same forms.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _https_in_production(_absolute_http_url(value), info)

    @field_validator("secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Receivers tell our events from forgeries by the signature alone, and a short key falls
        # to an offline search from any one signed event a receiver logged.
        if value is None:
            if info.data.get("url") is not None and in_production(info):
                raise ValueError("is required in production with WEBHOOK_URL")
            return None
        signing_key(value.get_secret_value())
        return value

    @field_validator("secret_previous")
    @classmethod
    def _rotated_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        key = signing_key(value.get_secret_value())
        if "secret" not in info.data:
            return value  # the current secret was invalid and is reported on its own
        current = info.data["secret"]
        if current is None:
            raise ValueError("needs WEBHOOK_SECRET, the new secret it is replaced by")
        if key == signing_key(current.get_secret_value()):
            raise ValueError("is the same key as WEBHOOK_SECRET")
        return value

    def signing_keys(self) -> tuple[bytes, ...]:
        """The keys each delivery is signed with: the current secret's, then the previous one's."""
        secrets = (self.secret, self.secret_previous)
        return tuple(
            signing_key(secret.get_secret_value()) for secret in secrets if secret is not None
        )


class StaticSettings(SettingsGroup):
    """CDN-ready static assets (PERF-3): `CDN_BASE_URL`."""

    env_prefix: ClassVar[str] = "CDN_"

    base_url: str | None = Field(
        None, description="Asset URLs start with this origin (the CDN that pulls from /static)."
    )

    @field_validator("base_url")
    @classmethod
    def _origin_or_prefix(cls, value: str | None) -> str | None:
        if _absolute_http_url(value) is None or value is None:
            return None
        if urlsplit(value).query or urlsplit(value).fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")


class RequestLimitSettings(SettingsGroup):
    """Request size limits, how long a request head may take to arrive and how slowly its body
    may (SEC-1)."""

    env_prefix: ClassVar[str] = "REQUEST_"

    max_header_bytes: int = Field(
        32_768,
        ge=1024,
        le=1_048_576,
        description="Larger request headers (names and values together) are refused with 431.",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, le=1_073_741_824)
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A connection that has not sent a whole request head this long after it "
        "opened, or after the first byte of its next request, is closed (slow clients).",
    )
    body_min_bytes_per_second: float = Field(
        240.0,
        gt=0,
        le=1_073_741_824,
        description="After REQUEST_BODY_GRACE_SECONDS, a request body must average at least this "
        "rate since its head, or its connection is closed (slow clients).",
    )
    body_grace_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a request body may take before its minimum rate applies.",
    )


class JwtSettings(SettingsGroup):
    """Bearer tokens (SEC-3).

    Issuer, audience and a key source are required in production; development and tests fall
    back to a local key pair (`python -m <package> dev-token`).
    """

    env_prefix: ClassVar[str] = "AUTH_JWT_"

    issuer: str | None = Field(None, min_length=1, max_length=2048)
    audience: str | None = Field(None, min_length=1, max_length=2048)
    algorithms: tuple[str, ...] = DEFAULT_JWT_ALGORITHMS
    token_types: tuple[str, ...] = Field(
        DEFAULT_TOKEN_TYPES,
        description="Accepted `typ` headers (RFC 8725); a token without one is a `JWT`.",
    )
    public_key: str | None = Field(None, description="A PEM public key.")
    jwks_url: str | None = Field(None, max_length=2048)
    leeway_seconds: int = Field(30, ge=0, le=300)
    jwks_cache_seconds: float = Field(600.0, ge=10, le=86400)
    jwks_min_refresh_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="An unknown `kid` refreshes the key set at most this often.",
    )
    tenant_claim: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:/-]{1,200}$",
        description="The claim naming the caller's tenant; when set, objects belong to tenants "
        "(SEC-6) and every token must carry it.",
    )

    @field_validator("issuer", "audience")
    @classmethod
    def _required_in_production(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and in_production(info):
            raise ValueError("is required in production")
        return value

    @field_validator("algorithms", "token_types", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return split_list(value)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_algorithms_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_jwt_algorithms(value)

    @field_validator("token_types")
    @classmethod
    def _media_types_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_token_types(value)

    @field_validator("public_key")
    @classmethod
    def _public_key_is_pem(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return check_public_key(value, info.data.get("algorithms"))

    @field_validator("jwks_url")
    @classmethod
    def _one_key_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        production = in_production(info)
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL")
        _https_in_production(value, info)
        if "public_key" not in info.data:
            return value  # the public key was invalid and is reported on its own
        has_key = info.data["public_key"] is not None
        if value is not None and has_key:
            raise ValueError("set AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL, not both")
        if value is None and not has_key and production:
            raise ValueError("AUTH_JWT_JWKS_URL or AUTH_JWT_PUBLIC_KEY is required in production")
        return value


class ApiKeySettings(SettingsGroup):
    """API keys (SEC-3): `AUTH_API_KEY_CACHE_SECONDS`."""

    env_prefix: ClassVar[str] = "AUTH_API_KEY_"

    cache_seconds: float = Field(
        5.0, ge=0, le=300, description="How long a verified API key is trusted without a lookup."
    )


class SessionSettings(SettingsGroup):
    """Browser sessions and CSRF tokens (SEC-2)."""

    env_prefix: ClassVar[str] = "AUTH_SESSION_"

    secret: SecretStr = Field(
        None,  # type: ignore[assignment]  # the validator fills it outside production
        description="Signs session and CSRF cookies; random per process outside production.",
    )
    secret_previous: SecretStr | None = Field(
        None,
        description="During a rotation, the secret being replaced: cookies it signed are still "
        "accepted, new ones are signed with AUTH_SESSION_SECRET. Same rules.",
    )
    max_age_seconds: int = Field(8 * 3600, ge=60, le=30 * 86400)
    same_site: Literal["strict", "lax"] = "strict"

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            if in_production(info):
                raise ValueError("is required in production (32 or more random characters)")
            # Outside production, sessions live as long as the process: nothing to configure.
            return secrets.token_urlsafe(32)
        return _long_enough(value)

    @field_validator("secret_previous", mode="before")
    @classmethod
    def _rotated_secret(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return None
        _long_enough(value)
        current = info.data.get("secret")
        if current is None:
            return value  # the current secret was invalid and is reported on its own
        if _text_of(value) == current.get_secret_value():
            raise ValueError("is the same secret as AUTH_SESSION_SECRET")
        return value


def _text_of(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _long_enough(value: object) -> object:
    """A session secret short enough to search for offline would let anyone sign cookies."""
    text = _text_of(value)
    if isinstance(text, str) and len(text) < 32:
        raise ValueError("must be at least 32 characters long")
    return value


class CorsSettings(SettingsGroup):
    """CORS from an explicit list of origins (SEC-5): `CORS_ALLOW_ORIGINS`."""

    env_prefix: ClassVar[str] = "CORS_"

    allow_origins: tuple[str, ...] = ()

    @field_validator("allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_list(value)

    @field_validator("allow_origins")
    @classmethod
    def _explicit_origins(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        origins = tuple(
            check_origin(origin, position=position) for position, origin in enumerate(value, 1)
        )
        return check_origins_in_production(origins) if in_production(info) else origins


class SecurityHeaderSettings(SettingsGroup):
    """Security headers (SEC-5): `SECURITY_HSTS_SECONDS`."""

    env_prefix: ClassVar[str] = "SECURITY_"

    hsts_seconds: int = Field(63_072_000, ge=0, le=63_072_000)


class ProxySettings(SettingsGroup):
    """Which proxies' forwarding headers are believed for the client address (SEC-4)."""

    env_prefix: ClassVar[str] = "TRUSTED_"

    proxies: tuple[IPvAnyNetwork, ...] = Field(
        (), description="Networks of the proxies whose forwarding header is believed."
    )
    proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        "x-forwarded-for", description="The one header those proxies append the client to."
    )

    @field_validator("proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return split_list(value)


class RateLimitSettings(SettingsGroup):
    """Two layers of rate limits, shared through Redis (SEC-4)."""

    env_prefix: ClassVar[str] = "RATE_LIMIT_"

    enabled: bool = True
    per_ip: str = Field("1200/minute", description="Before authentication.")
    per_principal: str = Field("600/minute", description="Per user or API key.")
    on_storage_error: Literal["local", "allow", "deny"] = Field(
        "local",
        description=(
            "When Redis cannot be reached (each warns): count in each process's memory "
            "(the limits hold per process), serve unlimited, or answer 503."
        ),
    )
    storage_retry_seconds: float = Field(
        2.0, ge=0, le=60, description="After a Redis failure, skip Redis this long."
    )

    @field_validator("per_ip", "per_principal")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        return check_rate_limit(value)


class SecretSourceSettings(SettingsGroup):
    """Where secret settings come from (CFG-2), read before every other setting."""

    env_prefix: ClassVar[str] = "SECRETS_"

    dir: Path | None = Field(None, description="Mounted secret files; /run/secrets if any.")
    aws_secret_id: str | None = Field(None, min_length=1, max_length=2048)
