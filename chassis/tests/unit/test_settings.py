"""CFG-1/CFG-2: the chassis's settings, one group per concern, loaded and validated at start-up.

`load_settings` reads flat variables (the names services have always used), sorts them into the
groups by prefix and validates everything at once: one `ConfigurationError` names every bad
variable; production refuses what only suits a laptop.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field, ValidationError

from goldenpath_chassis import ChassisSettings, ConfigurationError, SettingsGroup, load_settings
from goldenpath_chassis._core.security import secrets as secret_sources
from goldenpath_chassis._core.security.dev_keys import generate_signing_key
from goldenpath_chassis.settings import (
    DEVELOPMENT_DATABASE_URL,
    DatabaseBackend,
    DatabaseSettings,
    JwtSettings,
    ProxySettings,
    variables,
)

from tests.example.service import ExampleSettings

pytestmark = pytest.mark.unit


def load(environ: Mapping[str, str] | None = None, /, **overrides: object) -> ChassisSettings:
    """The example service's settings: from this process's environment unless `environ`."""
    return load_settings(ExampleSettings, overrides, environ=environ)


class PostgresSettings(ChassisSettings):
    service_name: ClassVar[str] = "orders"
    database_backend: ClassVar[DatabaseBackend | None] = "postgresql"


class SqliteSettings(ChassisSettings):
    service_name: ClassVar[str] = "notes"
    database_backend: ClassVar[DatabaseBackend | None] = "sqlite"


POSTGRES_URL = "postgresql+asyncpg://app@db/app"
SQLITE_URL = "sqlite+aiosqlite:////data/app.sqlite3"
# What production needs for authentication (SEC-3), for the tests about other settings.
PRODUCTION_AUTH = {
    "auth_jwt_issuer": "https://login.example.com/",
    "auth_jwt_audience": "orders-api",
    "auth_jwt_jwks_url": "https://login.example.com/.well-known/jwks.json",
    "auth_session_secret": "s" * 40,
}
PRODUCTION_BASE = {
    "app_env": "production",
    "database_url": SQLITE_URL if ExampleSettings.database_backend == "sqlite" else POSTGRES_URL,
    "redis_url": "redis://cache:6379/0",
}

# Every variable a service read before the settings were grouped (template 0.3): grouping them
# renamed nothing a deployment sets.
VARIABLES_BEFORE_GROUPS = {
    "APP_ENV", "HOST", "PORT", "SHUTDOWN_GRACE_SECONDS", "SHUTDOWN_DRAIN_SECONDS",
    "LOG_LEVEL", "LOG_FORMAT", "DOCS_ENABLED", "READINESS_TIMEOUT_SECONDS",
    "DATABASE_URL", "DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW",
    "DATABASE_POOL_TIMEOUT_SECONDS", "DATABASE_POOL_RECYCLE_SECONDS",
    "DATABASE_POOL_PRE_PING_IDLE_SECONDS", "DATABASE_CONNECT_TIMEOUT_SECONDS",
    "DATABASE_STATEMENT_TIMEOUT_MS", "DATABASE_SLOW_QUERY_MS",
    "JOB_MAX_ATTEMPTS", "JOB_LEASE_SECONDS",
    "WORKER_CONCURRENCY", "WORKER_POLL_SECONDS", "WORKER_SHUTDOWN_GRACE_SECONDS",
    "REDIS_URL", "REDIS_TIMEOUT_SECONDS",
    "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "CACHE_TTL_SECONDS", "CACHE_TTL_JITTER", "CACHE_MEMORY_MAX_ENTRIES",
    "HTTP_CONNECT_TIMEOUT_SECONDS", "HTTP_READ_TIMEOUT_SECONDS", "HTTP_RETRY_ATTEMPTS",
    "HTTP_RETRY_DEADLINE_SECONDS",
    "BREAKER_FAILURE_THRESHOLD", "BREAKER_RESET_SECONDS",
    "WEBHOOK_URL", "WEBHOOK_SECRET", "CDN_BASE_URL",
    "REQUEST_MAX_HEADER_BYTES", "REQUEST_MAX_BODY_BYTES",
    "AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE", "AUTH_JWT_ALGORITHMS", "AUTH_JWT_PUBLIC_KEY",
    "AUTH_JWT_JWKS_URL", "AUTH_JWT_LEEWAY_SECONDS", "AUTH_JWT_JWKS_CACHE_SECONDS",
    "AUTH_JWT_JWKS_MIN_REFRESH_SECONDS", "AUTH_API_KEY_CACHE_SECONDS",
    "AUTH_SESSION_SECRET", "AUTH_SESSION_MAX_AGE_SECONDS", "AUTH_SESSION_SAME_SITE",
    "CORS_ALLOW_ORIGINS", "SECURITY_HSTS_SECONDS", "TRUSTED_PROXIES", "TRUSTED_PROXY_HEADER",
    "RATE_LIMIT_ENABLED", "RATE_LIMIT_PER_IP", "RATE_LIMIT_PER_PRINCIPAL",
    "RATE_LIMIT_ON_STORAGE_ERROR", "RATE_LIMIT_STORAGE_RETRY_SECONDS",
    "SECRETS_DIR", "SECRETS_AWS_SECRET_ID",
}  # fmt: skip
# Added since, each with a default (a new variable renames nothing either).
VARIABLES_ADDED_SINCE = {
    "AUTH_JWT_TENANT_CLAIM",
    "AUTH_JWT_TOKEN_TYPES",
    "CACHE_NEAR_MAX_STALENESS_MS",
    "CACHE_NEAR_MAX_ENTRIES",
    "CACHE_NEAR_MAX_BYTES",
    "SHUTDOWN_TRACE_FLUSH_SECONDS",
    "REQUEST_HEADER_TIMEOUT_SECONDS",
    "REQUEST_BODY_MIN_BYTES_PER_SECOND",
    "REQUEST_BODY_GRACE_SECONDS",
    "MAX_CONCURRENT_REQUESTS",
    "RESPONSE_SEND_TIMEOUT_SECONDS",
    "HTTP_MAX_RESPONSE_BYTES",
    "HTTP_USER_URL_ALLOWED_NETWORKS",
    "HTTP_USER_URL_ALLOWED_PORTS",
    "WEBHOOK_SECRET_PREVIOUS",
    "AUTH_SESSION_SECRET_PREVIOUS",
    "JOB_MAX_RUN_SECONDS",
    "MIGRATION_STATEMENT_TIMEOUT_MS",
    "MIGRATION_LOCK_TIMEOUT_MS",
    "MIGRATION_LOCK_WAIT_SECONDS",
    "WORKER_HTTP_PORT",
    # Standard variables the SDK read alone, validated by the chassis since.
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY",
}


# --- CFG-1: defaults, production, one error for every bad variable -----------------------------
def test_cfg1_development_starts_with_nothing_set() -> None:
    settings = load()
    assert settings.app_env == "development"
    assert settings.server.port == 8000
    assert settings.database.effective_url == DEVELOPMENT_DATABASE_URL
    assert settings.uses_embedded_database
    assert settings.redis.url is None


def test_cfg1_production_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(app_env="production")
    variables = {variable for variable, _ in caught.value.problems}
    assert {"DATABASE_URL", "REDIS_URL"} <= variables
    assert "DATABASE_URL: is required in production" in str(caught.value)


def test_cfg1_malformed_values_are_reported_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(port="eighty", log_level="LOUD", database_pool_size="0", app_env="production")
    variables = {variable for variable, _ in caught.value.problems}
    # One bad group never hides another's problems; each is named by its variable.
    assert {"PORT", "LOG_LEVEL", "DATABASE_POOL_SIZE", "DATABASE_URL", "REDIS_URL"} <= variables
    for variable in variables:
        assert f"\n  {variable}: " in str(caught.value)


def test_cfg1_database_url_must_name_the_async_driver() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(
            app_env="production",
            database_url="postgres://db/app",
            redis_url="redis://localhost:6379/0",
            **PRODUCTION_AUTH,
        )
    assert [variable for variable, _ in caught.value.problems] == ["DATABASE_URL"]


def test_cfg1_production_uses_the_chosen_database_only() -> None:
    redis_url = "redis://localhost:6379/0"
    # A PostgreSQL service refuses the embedded development database in production...
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            PostgresSettings,
            {"app_env": "production", "database_url": SQLITE_URL, "redis_url": redis_url}
            | PRODUCTION_AUTH,
            environ={},
        )
    assert dict(caught.value.problems) == {"DATABASE_URL": "must start with postgresql+asyncpg://"}
    assert (
        load_settings(
            PostgresSettings,
            {"app_env": "production", "database_url": POSTGRES_URL, "redis_url": redis_url}
            | PRODUCTION_AUTH,
            environ={},
        ).database.effective_url
        == POSTGRES_URL
    )
    # ...and a SQLite service refuses PostgreSQL, and runs on its file.
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings(
            SqliteSettings,
            {"app_env": "production", "database_url": POSTGRES_URL, "redis_url": redis_url}
            | PRODUCTION_AUTH,
            environ={},
        )
    settings = load_settings(
        SqliteSettings,
        {"app_env": "production", "database_url": SQLITE_URL, "redis_url": redis_url}
        | PRODUCTION_AUTH,
        environ={},
    )
    assert settings.database.effective_url == SQLITE_URL
    # Outside production, a PostgreSQL service may also run on SQLite (development, tests).
    assert load_settings(
        PostgresSettings, {"app_env": "test", "database_url": SQLITE_URL}, environ={}
    ).database.url


def test_cfg1_log_level_is_case_insensitive() -> None:
    assert load(log_level="debug").logging.level == "DEBUG"


def test_cfg1_settings_are_frozen() -> None:
    settings = load()
    with pytest.raises(ValidationError):
        settings.database.pool_size = 99  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.app_env = "production"  # type: ignore[misc]


def test_cfg2_secrets_never_show_in_repr_or_errors() -> None:
    secret = "redis://:hunter2@cache.internal:6379/0"
    settings = load(redis_url=secret, app_env="test")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    with pytest.raises(ConfigurationError) as caught:
        load(app_env="production", redis_url="http://:hunter2@cache.internal")
    assert "hunter2" not in str(caught.value)


# --- SEC-3/SEC-4/SEC-5 settings ----------------------------------------------------------------
def test_sec3_production_requires_every_auth_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(**PRODUCTION_BASE)
    variables = {variable for variable, _ in caught.value.problems}
    assert variables == {
        "AUTH_JWT_ISSUER",
        "AUTH_JWT_AUDIENCE",
        "AUTH_JWT_JWKS_URL",
        "AUTH_SESSION_SECRET",
    }


def test_sec3_production_starts_with_a_complete_auth_configuration() -> None:
    settings = load(**PRODUCTION_BASE, **PRODUCTION_AUTH)
    assert settings.jwt.algorithms == ("RS256", "ES256", "EdDSA")
    assert settings.jwt.token_types == ("JWT", "at+jwt")
    assert "s" * 40 not in repr(settings)


WEBHOOK_RECEIVER = "https://hooks.example.com/in"


def test_sec3_production_sends_no_unsigned_webhook() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(**PRODUCTION_BASE, **PRODUCTION_AUTH, webhook_url=WEBHOOK_RECEIVER)
    assert [variable for variable, _ in caught.value.problems] == ["WEBHOOK_SECRET"]
    secret = "w" * 32
    settings = load(
        **PRODUCTION_BASE, **PRODUCTION_AUTH, webhook_url=WEBHOOK_RECEIVER, webhook_secret=secret
    )
    assert settings.webhooks.secret is not None
    assert settings.webhooks.secret.get_secret_value() == secret
    assert load(**PRODUCTION_BASE, **PRODUCTION_AUTH).webhooks.secret is None  # no URL, no key


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_sec3_a_short_webhook_secret_is_refused_unshown(app_env: str) -> None:
    base = {**PRODUCTION_BASE, **PRODUCTION_AUTH} if app_env == "production" else {}
    with pytest.raises(ConfigurationError) as caught:
        load(**base, webhook_url=WEBHOOK_RECEIVER, webhook_secret="hunter2-webhooks")
    [(variable, message)] = caught.value.problems
    assert variable == "WEBHOOK_SECRET"
    assert message.startswith("must be at least 32 characters long, or whsec_")
    assert "hunter2" not in str(caught.value)


WHSEC_NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
WHSEC_OLD = "whsec_" + base64.b64encode(b"o" * 24).decode()


def test_sec3_a_whsec_secret_is_the_key_its_base64_holds() -> None:
    settings = load(
        **PRODUCTION_BASE, **PRODUCTION_AUTH, webhook_url=WEBHOOK_RECEIVER, webhook_secret=WHSEC_NEW
    )
    assert settings.webhooks.signing_keys() == (b"n" * 32,)
    assert load(webhook_secret="r" * 32).webhooks.signing_keys() == (b"r" * 32,)  # as before
    assert load().webhooks.signing_keys() == ()


def test_sec3_a_bad_whsec_secret_is_refused_unshown() -> None:
    short = "whsec_" + base64.b64encode(b"hunter2" * 3).decode()  # 21 bytes
    with pytest.raises(ConfigurationError) as caught:
        load(webhook_url=WEBHOOK_RECEIVER, webhook_secret=short)
    assert caught.value.problems == [
        ("WEBHOOK_SECRET", "must hold a key of 24 to 64 bytes after whsec_")
    ]
    assert base64.b64encode(b"hunter2" * 3).decode() not in str(caught.value)


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_sec3_a_rotation_signs_with_the_new_secret_then_the_previous(app_env: str) -> None:
    base = {**PRODUCTION_BASE, **PRODUCTION_AUTH} if app_env == "production" else {}
    settings = load(
        **base,
        webhook_url=WEBHOOK_RECEIVER,
        webhook_secret=WHSEC_NEW,
        webhook_secret_previous=WHSEC_OLD,
    )
    assert settings.webhooks.signing_keys() == (b"n" * 32, b"o" * 24)
    assert WHSEC_OLD not in repr(settings)


@pytest.mark.parametrize(
    ("secrets", "problems"),
    [
        (
            {"webhook_secret_previous": WHSEC_OLD},
            [("WEBHOOK_SECRET_PREVIOUS", "needs WEBHOOK_SECRET, the new secret it is replaced by")],
        ),
        (
            {"webhook_secret": WHSEC_NEW, "webhook_secret_previous": WHSEC_NEW},
            [("WEBHOOK_SECRET_PREVIOUS", "is the same key as WEBHOOK_SECRET")],
        ),
        (
            {"webhook_secret": WHSEC_NEW, "webhook_secret_previous": "hunter2"},
            [
                (
                    "WEBHOOK_SECRET_PREVIOUS",
                    "must be at least 32 characters long, or whsec_ and a base64 key of 24 to 64 "
                    "bytes",
                )
            ],
        ),
        (  # the current secret's problem is reported alone
            {"webhook_secret": "hunter2", "webhook_secret_previous": WHSEC_OLD},
            [
                (
                    "WEBHOOK_SECRET",
                    "must be at least 32 characters long, or whsec_ and a base64 key of 24 to 64 "
                    "bytes",
                )
            ],
        ),
    ],
    ids=["without-a-current-secret", "the-same-key", "previous-too-short", "current-too-short"],
)
def test_sec3_a_previous_secret_that_cannot_serve_a_rotation_is_refused(
    secrets: dict[str, str], problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(webhook_url=WEBHOOK_RECEIVER, **secrets)
    assert caught.value.problems == problems
    assert "hunter2" not in str(caught.value)


def test_sec3_production_posts_webhooks_over_https_only() -> None:
    """The signature keeps an event whole, not private: over http:// anyone on the way reads
    it. Local receivers stay on http:// outside production."""
    plain = "http://hooks.example.com/in"
    with pytest.raises(ConfigurationError) as caught:
        load(**PRODUCTION_BASE, **PRODUCTION_AUTH, webhook_url=plain, webhook_secret=WHSEC_NEW)
    assert caught.value.problems == [("WEBHOOK_URL", "must be an https:// URL in production")]
    for app_env in ("development", "test"):
        assert load(app_env=app_env, webhook_url=plain).webhooks.url == plain


SESSION_OLD = "o" * 40  # PRODUCTION_AUTH's session secret is "s" * 40


def test_sec2_a_session_secret_rotation_keeps_the_previous_secret_unshown() -> None:
    settings = load(**PRODUCTION_BASE, **PRODUCTION_AUTH, auth_session_secret_previous=SESSION_OLD)
    assert settings.sessions.secret_previous is not None
    assert settings.sessions.secret_previous.get_secret_value() == SESSION_OLD
    assert SESSION_OLD not in repr(settings)
    assert SESSION_OLD not in str(settings.model_dump())
    assert load(**PRODUCTION_BASE, **PRODUCTION_AUTH).sessions.secret_previous is None


@pytest.mark.parametrize(
    ("secrets", "problems"),
    [
        (
            {"auth_session_secret_previous": "s" * 40},
            [("AUTH_SESSION_SECRET_PREVIOUS", "is the same secret as AUTH_SESSION_SECRET")],
        ),
        (
            {"auth_session_secret_previous": "hunter2-sessions"},
            [("AUTH_SESSION_SECRET_PREVIOUS", "must be at least 32 characters long")],
        ),
        (  # the current secret's problem is reported alone
            {"auth_session_secret": "hunter2-sessions", "auth_session_secret_previous": "o" * 40},
            [("AUTH_SESSION_SECRET", "must be at least 32 characters long")],
        ),
    ],
    ids=["the-same-secret", "previous-too-short", "current-too-short"],
)
def test_sec2_a_previous_session_secret_that_cannot_serve_a_rotation_is_refused(
    secrets: dict[str, str], problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(**(PRODUCTION_BASE | PRODUCTION_AUTH | secrets))
    assert caught.value.problems == problems
    assert "hunter2" not in str(caught.value)
    assert "s" * 40 not in str(caught.value)


def test_sec5_production_refuses_plain_http_cors_origins_by_name() -> None:
    """A listed origin calls with credentials and passes the CSRF check: over http, anyone on
    the network path serves its pages. Development frontends stay on http outside production."""
    origins = "https://app.example.com,http://admin.example.com,http://127.0.0.1.example.com:80"
    with pytest.raises(ConfigurationError) as caught:
        load(**PRODUCTION_BASE, **PRODUCTION_AUTH, cors_allow_origins=origins)
    [(variable, message)] = caught.value.problems
    assert variable == "CORS_ALLOW_ORIGINS"
    assert message.startswith(
        "http://admin.example.com, http://127.0.0.1.example.com:80 are plain http, refused in "
        "production"
    )
    for app_env in ("development", "test"):
        assert load(app_env=app_env, cors_allow_origins=origins).cors.allow_origins == tuple(
            origins.split(",")
        )


def test_sec5_production_allows_https_and_loopback_http_cors_origins() -> None:
    """A page on a loopback host is on the user's own machine: no network path to sit on."""
    origins = (
        "https://app.example.com",
        "http://localhost:3000",
        "http://127.0.0.1",
        "http://[::1]:5173",
        "http://LOCALHOST:8080",
    )
    settings = load(**PRODUCTION_BASE, **PRODUCTION_AUTH, cors_allow_origins=",".join(origins))
    assert settings.cors.allow_origins == tuple(origin.lower() for origin in origins)


@pytest.mark.parametrize(
    ("app_env", "variable", "enabled"),
    [
        ("development", None, True),
        ("test", None, True),
        ("production", None, False),  # a changed default: DOCS_ENABLED=true turns them on
        ("production", "true", True),
        ("development", "false", False),
    ],
)
def test_sec5_docs_are_off_by_default_in_production_only(
    app_env: str, variable: str | None, enabled: bool
) -> None:
    base = {**PRODUCTION_BASE, **PRODUCTION_AUTH} if app_env == "production" else {}
    environ = {"DOCS_ENABLED": variable} if variable is not None else {}
    assert load(environ, **{**base, "app_env": app_env}).docs.enabled is enabled


@pytest.mark.parametrize(
    ("overrides", "variable", "message"),
    [
        ({"auth_jwt_algorithms": "RS256,HS256"}, "AUTH_JWT_ALGORITHMS", "HS256 not allowed"),
        ({"auth_jwt_algorithms": "none"}, "AUTH_JWT_ALGORITHMS", "none not allowed"),
        ({"auth_jwt_algorithms": ""}, "AUTH_JWT_ALGORITHMS", "at least one"),
        ({"auth_jwt_token_types": ""}, "AUTH_JWT_TOKEN_TYPES", "at least one token type"),
        (
            {"auth_jwt_token_types": "at+jwt,at jwt"},
            "AUTH_JWT_TOKEN_TYPES",
            "entry 2 not a media type",
        ),
        ({"auth_jwt_public_key": "not a key"}, "AUTH_JWT_PUBLIC_KEY", "not a PEM public key"),
        (
            {"auth_jwt_jwks_url": "http://login.example.com/jwks"},
            "AUTH_JWT_JWKS_URL",
            "https:// URL in production",
        ),
        ({"auth_session_secret": "short"}, "AUTH_SESSION_SECRET", "at least 32"),
        ({"cors_allow_origins": "*"}, "CORS_ALLOW_ORIGINS", "'*' is not allowed"),
        (
            {"cors_allow_origins": "https://app.example.com/"},
            "CORS_ALLOW_ORIGINS",
            "not an origin",
        ),
        ({"rate_limit_per_ip": "lots"}, "RATE_LIMIT_PER_IP", "not a rate limit"),
        ({"trusted_proxies": "10.0.0.0/8,not-a-network"}, "TRUSTED_PROXIES", ""),
    ],
)
def test_sec_bad_security_settings_name_their_variable(
    overrides: dict[str, str], variable: str, message: str
) -> None:
    complete = PRODUCTION_BASE | PRODUCTION_AUTH
    if "auth_jwt_public_key" in overrides:
        complete.pop("auth_jwt_jwks_url")
    with pytest.raises(ConfigurationError) as caught:
        load(**(complete | overrides))
    problems = dict(caught.value.problems)
    assert variable in problems, caught.value.problems
    assert message in problems[variable]


@pytest.mark.parametrize(
    ("overrides", "variable", "message"),
    [
        (
            {"cors_allow_origins": "https://app.example.com,hunter2"},
            "CORS_ALLOW_ORIGINS",
            "entry 2 is not an origin",
        ),
        ({"rate_limit_per_ip": "hunter2"}, "RATE_LIMIT_PER_IP", "is not a rate limit"),
        ({"rate_limit_per_principal": "hunter2"}, "RATE_LIMIT_PER_PRINCIPAL", "not a rate limit"),
        (
            {"auth_jwt_algorithms": "RS256,HS256,hunter2"},
            "AUTH_JWT_ALGORITHMS",
            "HS256, entry 3 not allowed",
        ),
        ({"auth_jwt_token_types": "JWT,hunter2!?"}, "AUTH_JWT_TOKEN_TYPES", "entry 2 not a"),
    ],
)
def test_sec_a_bad_setting_is_named_by_variable_and_entry_never_by_its_value(
    overrides: dict[str, str], variable: str, message: str
) -> None:
    """A value in the wrong variable could be a secret: the message never repeats it."""
    with pytest.raises(ConfigurationError) as caught:
        load(**overrides)
    [(named, reason)] = caught.value.problems
    assert named == variable
    assert message in reason
    assert "hunter2" not in str(caught.value)


def test_sec3_a_key_and_a_jwks_url_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        load(
            auth_jwt_public_key=generate_signing_key().public_pem,
            auth_jwt_jwks_url="https://login.example.com/jwks",
        )


def test_sec4_lists_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example.com, https://b.example.com:8443")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    monkeypatch.setenv("AUTH_JWT_ALGORITHMS", "ES256")
    monkeypatch.setenv("AUTH_JWT_TOKEN_TYPES", "at+jwt, application/at+jwt")
    settings = load()
    assert settings.cors.allow_origins == ("https://a.example.com", "https://b.example.com:8443")
    assert [str(network) for network in settings.proxies.proxies] == [
        "10.0.0.0/8",
        "2001:db8::/32",
    ]
    assert settings.jwt.algorithms == ("ES256",)
    assert settings.jwt.token_types == ("at+jwt", "application/at+jwt")


def test_cfg2_the_session_secret_is_random_outside_production_and_never_shown() -> None:
    first, second = load(), load()
    first_secret = first.sessions.secret.get_secret_value()
    assert first_secret != second.sessions.secret.get_secret_value()
    assert len(first_secret) >= 32
    assert first_secret not in repr(first)


# --- Retired variables -------------------------------------------------------------------------
def test_cfg1_a_renamed_variable_still_set_stops_start_up_naming_its_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retired = ExampleSettings.retired_variables
    for old in retired:
        monkeypatch.setenv(old, "2")
    with pytest.raises(ConfigurationError) as caught:
        load()
    assert caught.value.problems == [
        (old, f"was renamed to {new}; rename it") for old, new in retired.items()
    ]
    assert "READINESS_TIMEOUT_SECONDS" in retired.values()


def test_cfg1_retired_variables_are_reported_with_every_other_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({"HEALTH_TIMEOUT_SECONDS": "2"}, port="eighty")
    variables = [variable for variable, _ in caught.value.problems]
    assert variables == ["HEALTH_TIMEOUT_SECONDS", "PORT"]


def test_cfg1_a_service_adds_its_own_retired_variables() -> None:
    class Renaming(ExampleSettings):
        retired_variables: ClassVar[Mapping[str, str]] = {
            **ExampleSettings.retired_variables,
            "INVOICE_SIZE": "INVOICE_PAGE_SIZE",
        }
        invoice_page_size: int = 50

    with pytest.raises(ConfigurationError) as caught:
        load_settings(Renaming, environ={"invoice_size": "10"})  # names in any case
    assert caught.value.problems == [
        ("INVOICE_SIZE", "was renamed to INVOICE_PAGE_SIZE; rename it")
    ]


def test_obs2_what_bounds_span_export_is_validated_and_named_by_its_variable() -> None:
    telemetry = load({"APP_ENV": "test"}).telemetry
    assert telemetry.traces_timeout == 10.0  # the SDK's own default, retries included
    assert (telemetry.bsp_max_queue_size, telemetry.bsp_max_export_batch_size) == (2048, 512)
    assert load({"APP_ENV": "test"}).server.shutdown_trace_flush_seconds == 5.0
    traces_only = load(
        {"OTEL_EXPORTER_OTLP_TIMEOUT": "4", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2"}
    )
    assert traces_only.telemetry.traces_timeout == 2.0
    with pytest.raises(ConfigurationError) as caught:
        load(
            {
                "SHUTDOWN_TRACE_FLUSH_SECONDS": "0",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "600",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "ten",
                "OTEL_BSP_MAX_QUEUE_SIZE": "8",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
            }
        )
    assert dict(caught.value.problems) == {
        "SHUTDOWN_TRACE_FLUSH_SECONDS": "Input should be greater than 0",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "Input should be less than or equal to 60",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": (
            "Input should be a valid number, unable to parse string as a number"
        ),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "must not exceed OTEL_BSP_MAX_QUEUE_SIZE",
    }


def test_obs2_otel_bsp_export_timeout_is_validated_though_the_sdk_ignores_it() -> None:
    # Unset by default; set, it is read (to be said ignored at start-up, core/tracing.py).
    assert load({"APP_ENV": "test"}).telemetry.bsp_export_timeout is None
    assert load({"OTEL_BSP_EXPORT_TIMEOUT": "2000"}).telemetry.bsp_export_timeout == 2000
    for value, problem in [
        ("-1", "Input should be greater than or equal to 0"),
        ("2.5", "Input should be a valid integer, unable to parse string as an integer"),
        ("soon", "Input should be a valid integer, unable to parse string as an integer"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({"OTEL_BSP_EXPORT_TIMEOUT": value})
        assert dict(caught.value.problems) == {"OTEL_BSP_EXPORT_TIMEOUT": problem}


def test_obs2_otel_bsp_schedule_delay_is_validated_and_given_to_the_batch_processor() -> None:
    # The SDK parsed it alone: a bad value was a traceback in the log at start-up and the
    # default used; it is now a start-up error naming the variable.
    assert load({"APP_ENV": "test"}).telemetry.bsp_schedule_delay == 5000
    assert load({"OTEL_BSP_SCHEDULE_DELAY": "250"}).telemetry.bsp_schedule_delay == 250
    for value, problem in [
        ("0", "Input should be greater than 0"),
        ("1e3", "Input should be a valid integer, unable to parse string as an integer"),
        ("3600001", "Input should be less than or equal to 3600000"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({"OTEL_BSP_SCHEDULE_DELAY": value})
        assert dict(caught.value.problems) == {"OTEL_BSP_SCHEDULE_DELAY": problem}


def test_sec1_the_request_head_deadline_is_validated_and_named_by_its_variable() -> None:
    assert load({"APP_ENV": "test"}).request_limits.header_timeout_seconds == 10.0
    for value, problem in [
        ("0", "Input should be greater than 0"),
        ("3600", "Input should be less than or equal to 300"),
        ("soon", "Input should be a valid number, unable to parse string as a number"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({"REQUEST_HEADER_TIMEOUT_SECONDS": value})
        assert dict(caught.value.problems) == {"REQUEST_HEADER_TIMEOUT_SECONDS": problem}


def test_sec1_the_response_send_timeout_is_validated_and_named_by_its_variable() -> None:
    assert load({"APP_ENV": "test"}).server.response_send_timeout_seconds == 60.0
    for value, problem in [
        ("0", "Input should be greater than 0"),
        ("-1", "Input should be greater than 0"),
        ("3600", "Input should be less than or equal to 300"),
        ("never", "Input should be a valid number, unable to parse string as a number"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({"RESPONSE_SEND_TIMEOUT_SECONDS": value})
        assert dict(caught.value.problems) == {"RESPONSE_SEND_TIMEOUT_SECONDS": problem}


def test_sec1_the_request_body_rate_is_validated_and_named_by_its_variables() -> None:
    limits = load({"APP_ENV": "test"}).request_limits
    assert (limits.body_min_bytes_per_second, limits.body_grace_seconds) == (240.0, 5.0)
    for variable, value, problem in [
        ("REQUEST_BODY_MIN_BYTES_PER_SECOND", "0", "Input should be greater than 0"),
        (
            "REQUEST_BODY_MIN_BYTES_PER_SECOND",
            "fast",
            "Input should be a valid number, unable to parse string as a number",
        ),
        ("REQUEST_BODY_GRACE_SECONDS", "-1", "Input should be greater than or equal to 0"),
        ("REQUEST_BODY_GRACE_SECONDS", "3600", "Input should be less than or equal to 300"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({variable: value})
        assert dict(caught.value.problems) == {variable: problem}


def test_inf1_the_concurrency_limit_is_validated_and_named_by_its_variable() -> None:
    assert load({"APP_ENV": "test"}).server.max_concurrent_requests == 100
    assert load({"MAX_CONCURRENT_REQUESTS": "2"}).server.max_concurrent_requests == 2
    for value, problem in [
        ("0", "Input should be greater than or equal to 1"),
        ("1000000", "Input should be less than or equal to 100000"),
        ("many", "Input should be a valid integer, unable to parse string as an integer"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            load({"MAX_CONCURRENT_REQUESTS": value})
        assert dict(caught.value.problems) == {"MAX_CONCURRENT_REQUESTS": problem}


def test_cfg1_readiness_timeout_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_TIMEOUT_SECONDS", "2.5")
    assert load().health.timeout_seconds == 2.5


# --- Groups: the variables keep their names, and each lands in its group -----------------------
def test_cfg1_grouping_renamed_no_variable() -> None:
    assert set(variables(ExampleSettings)) == VARIABLES_BEFORE_GROUPS | VARIABLES_ADDED_SINCE


@pytest.mark.parametrize(
    ("variable", "value", "group", "field", "expected"),
    [
        ("PORT", "8080", "server", "port", 8080),
        ("SHUTDOWN_DRAIN_SECONDS", "3", "server", "shutdown_drain_seconds", 3.0),
        ("SHUTDOWN_TRACE_FLUSH_SECONDS", "2", "server", "shutdown_trace_flush_seconds", 2.0),
        ("LOG_FORMAT", "console", "logging", "format", "console"),
        ("DOCS_ENABLED", "false", "docs", "enabled", False),
        ("DATABASE_POOL_SIZE", "7", "database", "pool_size", 7),
        ("JOB_MAX_ATTEMPTS", "9", "jobs", "max_attempts", 9),
        ("WORKER_CONCURRENCY", "2", "worker", "concurrency", 2),
        ("REDIS_TIMEOUT_SECONDS", "1.5", "redis", "timeout_seconds", 1.5),
        ("OTEL_SERVICE_NAME", "renamed", "telemetry", "service_name", "renamed"),
        ("CACHE_TTL_SECONDS", "60", "cache", "ttl_seconds", 60.0),
        ("HTTP_RETRY_ATTEMPTS", "2", "http_client", "retry_attempts", 2),
        ("BREAKER_FAILURE_THRESHOLD", "3", "breakers", "failure_threshold", 3),
        (
            "WEBHOOK_URL",
            "https://hooks.example.com/in",
            "webhooks",
            "url",
            "https://hooks.example.com/in",
        ),
        (
            "CDN_BASE_URL",
            "https://cdn.example.com/",
            "static",
            "base_url",
            "https://cdn.example.com",
        ),
        ("REQUEST_MAX_BODY_BYTES", "2048", "request_limits", "max_body_bytes", 2048),
        ("REQUEST_HEADER_TIMEOUT_SECONDS", "2.5", "request_limits", "header_timeout_seconds", 2.5),
        (
            "REQUEST_BODY_MIN_BYTES_PER_SECOND",
            "1000",
            "request_limits",
            "body_min_bytes_per_second",
            1000.0,
        ),
        ("REQUEST_BODY_GRACE_SECONDS", "0", "request_limits", "body_grace_seconds", 0.0),
        ("RESPONSE_SEND_TIMEOUT_SECONDS", "2.5", "server", "response_send_timeout_seconds", 2.5),
        ("AUTH_JWT_LEEWAY_SECONDS", "5", "jwt", "leeway_seconds", 5),
        ("AUTH_API_KEY_CACHE_SECONDS", "0", "api_keys", "cache_seconds", 0.0),
        ("AUTH_SESSION_SAME_SITE", "lax", "sessions", "same_site", "lax"),
        ("SECURITY_HSTS_SECONDS", "0", "headers", "hsts_seconds", 0),
        ("TRUSTED_PROXY_HEADER", "forwarded", "proxies", "proxy_header", "forwarded"),
        ("RATE_LIMIT_ON_STORAGE_ERROR", "deny", "rate_limits", "on_storage_error", "deny"),
        ("RATE_LIMIT_ON_STORAGE_ERROR", "allow", "rate_limits", "on_storage_error", "allow"),
    ],
)
def test_cfg1_a_variable_lands_in_its_group(
    variable: str, value: str, group: str, field: str, expected: object
) -> None:
    settings = load({variable: value, "APP_ENV": "test"})
    assert getattr(getattr(settings, group), field) == expected
    assert variables(ExampleSettings)[variable] == (group, field)
    # The same value, given as an override (any case), lands in the same place.
    overridden = load({"APP_ENV": "test"}, **{variable.lower(): value})
    assert getattr(getattr(overridden, group), field) == expected


def test_cfg1_each_group_reads_its_own_prefix_and_validates_alone() -> None:
    assert DatabaseSettings.variable("pool_size") == "DATABASE_POOL_SIZE"
    assert JwtSettings.variable("jwks_url") == "AUTH_JWT_JWKS_URL"
    assert ProxySettings.variable("proxies") == "TRUSTED_PROXIES"
    # A group built on its own is a development one: nothing is required.
    assert DatabaseSettings().url is None
    with pytest.raises(ValidationError):
        DatabaseSettings(pool_size=0)
    with pytest.raises(ValidationError):
        DatabaseSettings(pool_sise=5)  # type: ignore[call-arg]  # a typo is an error


def test_cfg1_unknown_environment_variables_are_not_the_services() -> None:
    settings = load({"PATH": "/usr/bin", "DATABASE": "x", "DATABASE_POOL": "3", "APP_ENV": "test"})
    assert settings.database == DatabaseSettings()


@pytest.mark.parametrize("name", ["databse_url", "database", "pool_size", "DATABASE_POOL"])
def test_cfg1_unknown_override_names_are_refused(name: str) -> None:
    # An override is code, not the environment: a typo there is a programming error.
    with pytest.raises(TypeError, match=f"not settings of ExampleSettings: {name}"):
        load(**{name: "5"})


class DatabaseLookalike(SettingsGroup):
    env_prefix: ClassVar[str] = "DATABASE_"

    url: str | None = None


def test_cfg1_two_groups_claiming_one_variable_are_a_type_error() -> None:
    class Clashing(ChassisSettings):
        replica: DatabaseLookalike = Field(default_factory=DatabaseLookalike)

    with pytest.raises(TypeError, match="Clashing: two settings read DATABASE_URL"):
        load_settings(Clashing, environ={})


def test_cfg1_a_plain_field_claiming_a_groups_variable_is_a_type_error() -> None:
    class Clashing(ChassisSettings):
        redis_url: str = ""

    with pytest.raises(TypeError, match="two settings read REDIS_URL"):
        load_settings(Clashing, environ={})


class PaymentSettings(SettingsGroup):
    env_prefix: ClassVar[str] = "PAYMENTS_"

    provider_url: str = "https://pay.example.com"
    timeout_seconds: float = Field(5.0, gt=0, le=60)


class InvoiceSettings(ExampleSettings):
    invoice_page_size: int = Field(50, ge=1, le=500)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)


def test_cfg1_a_service_adds_its_own_variables_and_groups() -> None:
    settings = load_settings(
        InvoiceSettings,
        {"payments_timeout_seconds": 2},
        environ={"INVOICE_PAGE_SIZE": "20", "PAYMENTS_PROVIDER_URL": "https://psp.example.com"},
    )
    assert settings.invoice_page_size == 20
    assert settings.payments == PaymentSettings(
        provider_url="https://psp.example.com", timeout_seconds=2
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            InvoiceSettings,
            environ={"INVOICE_PAGE_SIZE": "0", "PAYMENTS_TIMEOUT_SECONDS": "0", "PORT": "0"},
        )
    assert {variable for variable, _ in caught.value.problems} == {
        "INVOICE_PAGE_SIZE",
        "PAYMENTS_TIMEOUT_SECONDS",
        "PORT",
    }


# --- CFG-2: sources and their precedence -------------------------------------------------------
def test_cfg2_explicit_values_beat_the_environment_which_beats_secret_files(
    tmp_path: Path,
) -> None:
    for name, value in {
        "log_level": "debug",
        "LOG_FORMAT": "console",
        "redis_url": "redis://from-a-file:6379/0",
        "database_pool_size": "3",
    }.items():
        (tmp_path / name).write_text(value + "\n")
    environ = {
        "SECRETS_DIR": str(tmp_path),
        "APP_ENV": "test",
        "LOG_LEVEL": "warning",
        "REDIS_URL": "redis://from-the-environment:6379/0",
    }
    settings = load(environ, redis_url="redis://explicit:6379/0")
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://explicit:6379/0"
    assert settings.logging.level == "WARNING"  # the environment over the file
    assert settings.logging.format == "console"  # only the file sets it (upper-case name)
    assert settings.database.pool_size == 3  # a file's value lands in its group too


def test_cfg2_tests_never_read_the_machines_mounted_secrets() -> None:
    """Settings loaded without APP_ENV=test look in the default secrets directory: in tests, an
    empty one of the suite's own, whatever the machine has mounted at /run/secrets."""
    default = secret_sources.DEFAULT_SECRETS_DIR
    assert default != Path("/run/secrets")
    assert default.is_dir()
    assert not any(default.iterdir())
    (default / "log_level").write_text("error")
    try:
        assert load().logging.level == "ERROR"  # the directory the loader reads
    finally:
        (default / "log_level").unlink()


@pytest.mark.parametrize("variable", ["SECRETS_DIR", "SECRETS_AWS_SECRET_ID"])
def test_cfg2_a_secret_file_cannot_name_another_source(tmp_path: Path, variable: str) -> None:
    """It would be read too late to take effect, yet show as set: refused, not ignored."""
    mounted, elsewhere = tmp_path / "mounted", tmp_path / "elsewhere"
    mounted.mkdir()
    elsewhere.mkdir()
    (mounted / variable.lower()).write_text(str(elsewhere))
    with pytest.raises(ConfigurationError) as caught:
        load({"APP_ENV": "test"}, secrets_dir=str(mounted))
    assert caught.value.problems == [
        (variable, f"set by a file in {mounted}; only the environment may set it")
    ]


def test_cfg2_the_secrets_dir_may_come_from_an_override(tmp_path: Path) -> None:
    (tmp_path / "auth_session_secret").write_text("k" * 40)
    settings = load({"APP_ENV": "test"}, secrets_dir=str(tmp_path))
    assert settings.sessions.secret.get_secret_value() == "k" * 40
    assert settings.secrets.dir == tmp_path


def test_cfg2_a_missing_secrets_dir_is_named_with_every_other_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load({"SECRETS_DIR": str(tmp_path / "absent"), "HEALTH_TIMEOUT_SECONDS": "1"})
    assert [variable for variable, _ in caught.value.problems] == [
        "HEALTH_TIMEOUT_SECONDS",
        "SECRETS_DIR",
    ]


def test_sec1_user_url_ports_are_the_webs_by_default_and_any_only_when_said() -> None:
    assert load({"APP_ENV": "test"}).http_client.user_url_allowed_ports == (80, 443)
    environ = {"HTTP_USER_URL_ALLOWED_PORTS": "443, 8443"}
    assert load(environ).http_client.user_url_allowed_ports == (443, 8443)
    assert load({"HTTP_USER_URL_ALLOWED_PORTS": "*"}).http_client.user_url_allowed_ports == "*"
    for value in ("", " , ", "0", "70000", "https"):
        with pytest.raises(ConfigurationError) as caught:
            load({"HTTP_USER_URL_ALLOWED_PORTS": value})
        # A bad port also says `*` was the other choice: one variable either way.
        assert {variable for variable, _ in caught.value.problems} == {
            "HTTP_USER_URL_ALLOWED_PORTS"
        }, value
