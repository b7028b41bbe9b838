"""CFG-1: settings are validated at start-up; production refuses what only suits a laptop."""

from __future__ import annotations

import pytest

from {{ package_name }}._project import DATABASE_BACKEND
from {{ package_name }}.core.security.dev_keys import generate_signing_key
from {{ package_name }}.core.settings import (
    DEVELOPMENT_DATABASE_URL,
    RETIRED_VARIABLES,
    ConfigurationError,
    load_settings,
)

pytestmark = pytest.mark.unit

# What production needs for authentication (SEC-3), for the tests about other settings.
PRODUCTION_AUTH = {
    "auth_jwt_issuer": "https://login.example.com/",
    "auth_jwt_audience": "orders-api",
    "auth_jwt_jwks_url": "https://login.example.com/.well-known/jwks.json",
    "auth_session_secret": "s" * 40,
}


def test_cfg1_development_starts_with_nothing_set() -> None:
    settings = load_settings()
    assert settings.app_env == "development"
    assert settings.port == 8000
    assert settings.effective_database_url == DEVELOPMENT_DATABASE_URL
    assert settings.redis_url is None


def test_cfg1_production_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="production")
    variables = {variable for variable, _ in caught.value.problems}
    assert {"DATABASE_URL", "REDIS_URL"} <= variables
    assert "DATABASE_URL: is required in production" in str(caught.value)


def test_cfg1_malformed_values_are_reported_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(port="eighty", log_level="LOUD", app_env="production")
    variables = {variable for variable, _ in caught.value.problems}
    assert {"PORT", "LOG_LEVEL", "DATABASE_URL", "REDIS_URL"} <= variables


def test_cfg1_database_url_must_name_the_async_driver() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            app_env="production",
            database_url="postgres://db/app",
            redis_url="redis://localhost:6379/0",
            **PRODUCTION_AUTH,
        )
    assert [variable for variable, _ in caught.value.problems] == ["DATABASE_URL"]


def test_cfg1_production_uses_the_chosen_database_only() -> None:
    sqlite_url = "sqlite+aiosqlite:////data/app.sqlite3"
    redis_url = "redis://localhost:6379/0"
    if DATABASE_BACKEND == "postgresql":
        # The embedded development database is refused in production.
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            load_settings(
                app_env="production",
                database_url=sqlite_url,
                redis_url=redis_url,
                **PRODUCTION_AUTH,
            )
    else:
        settings = load_settings(
            app_env="production", database_url=sqlite_url, redis_url=redis_url, **PRODUCTION_AUTH
        )
        assert settings.effective_database_url == sqlite_url


def test_cfg1_log_level_is_case_insensitive() -> None:
    assert load_settings(log_level="debug").log_level == "DEBUG"


def test_cfg2_secrets_never_show_in_repr_or_errors() -> None:
    secret = "redis://:hunter2@cache.internal:6379/0"
    settings = load_settings(redis_url=secret, app_env="test")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="production", redis_url="http://:hunter2@cache.internal")
    assert "hunter2" not in str(caught.value)


# --- SEC-3/SEC-4/SEC-5 settings ----------------------------------------------------------------
PRODUCTION_BASE = {
    "app_env": "production",
    "database_url": "postgresql+asyncpg://app@db/app"
    if DATABASE_BACKEND == "postgresql"
    else "sqlite+aiosqlite:////data/app.sqlite3",
    "redis_url": "redis://cache:6379/0",
}


def test_sec3_production_requires_every_auth_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**PRODUCTION_BASE)
    variables = {variable for variable, _ in caught.value.problems}
    assert variables == {
        "AUTH_JWT_ISSUER",
        "AUTH_JWT_AUDIENCE",
        "AUTH_JWT_JWKS_URL",
        "AUTH_SESSION_SECRET",
    }


def test_sec3_production_starts_with_a_complete_auth_configuration() -> None:
    settings = load_settings(**PRODUCTION_BASE, **PRODUCTION_AUTH)
    assert settings.auth_jwt_algorithms == ("RS256", "ES256", "EdDSA")
    assert "s" * 40 not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "variable", "message"),
    [
        ({"auth_jwt_algorithms": "RS256,HS256"}, "AUTH_JWT_ALGORITHMS", "HS256 not allowed"),
        ({"auth_jwt_algorithms": "none"}, "AUTH_JWT_ALGORITHMS", "none not allowed"),
        ({"auth_jwt_algorithms": ""}, "AUTH_JWT_ALGORITHMS", "at least one"),
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
        load_settings(**(complete | overrides))
    problems = dict(caught.value.problems)
    assert variable in problems, caught.value.problems
    assert message in problems[variable]


def test_sec3_a_key_and_a_jwks_url_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        load_settings(
            auth_jwt_public_key=generate_signing_key().public_pem,
            auth_jwt_jwks_url="https://login.example.com/jwks",
        )


def test_sec4_lists_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example.com, https://b.example.com:8443")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    monkeypatch.setenv("AUTH_JWT_ALGORITHMS", "ES256")
    settings = load_settings()
    assert settings.cors_allow_origins == ("https://a.example.com", "https://b.example.com:8443")
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "2001:db8::/32"]
    assert settings.auth_jwt_algorithms == ("ES256",)


def test_cfg2_the_session_secret_is_random_outside_production_and_never_shown() -> None:
    first, second = load_settings(), load_settings()
    assert first.effective_session_secret != second.effective_session_secret
    assert first.effective_session_secret not in repr(first)


def test_cfg1_a_renamed_variable_still_set_stops_start_up_naming_its_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for old in RETIRED_VARIABLES:
        monkeypatch.setenv(old, "2")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.problems == [
        (old, f"was renamed to {new}; rename it") for old, new in RETIRED_VARIABLES.items()
    ]
    assert "READINESS_TIMEOUT_SECONDS" in RETIRED_VARIABLES.values()


def test_cfg1_readiness_timeout_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_TIMEOUT_SECONDS", "2.5")
    assert load_settings().readiness_timeout_seconds == 2.5
