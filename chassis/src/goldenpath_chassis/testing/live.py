"""The service as a real process for the load and reliability suites: its command, and the
environment that points it at the session's database and Redis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def service_command(package: str) -> tuple[str, ...]:
    """The arguments after the interpreter that start the service: `python -m <package>`."""
    return ("-m", package)


@dataclass(frozen=True)
class ServiceCredentials:
    """What makes a service process accept the tests' requests (`env`), and what those requests
    carry (`headers`): the test issuer's settings (SEC-3) and a bearer token with every scope."""

    env: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def service_environment(
    *,
    database_url: str,
    redis_url: str | None,
    credentials: ServiceCredentials,
    **overrides: str,
) -> dict[str, str]:
    """A service process on the given database, as close to production as a test allows."""
    env = {
        "APP_ENV": "test",
        "LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        # SEC-4's per-IP and per-caller limits stay on, sized so that the tests' own load from
        # one address is never throttled; the rate-limit test sets its own.
        "RATE_LIMIT_PER_IP": "1000000/minute",
        "RATE_LIMIT_PER_PRINCIPAL": "1000000/minute",
        **credentials.env,
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env | overrides
