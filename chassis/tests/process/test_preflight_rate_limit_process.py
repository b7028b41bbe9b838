"""SEC-4/SEC-5 with the service as a real process: CORS preflights count against the per-IP
limit, and a browser on an allowed origin can still read the 429 that refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials, service_environment
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import running_example

pytestmark = pytest.mark.process

FRONTEND = "https://app.example.com"
LIMIT = 5
PREFLIGHT = {
    "Origin": FRONTEND,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
def limited(
    database_url: str, service_credentials: ServiceCredentials, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The example service with CORS on and a small per-IP budget, counted in its own memory
    (no Redis): nothing another test counted is in it."""
    env = service_environment(
        database_url=database_url,
        redis_url=None,
        credentials=service_credentials,
        CORS_ALLOW_ORIGINS=FRONTEND,
        RATE_LIMIT_PER_IP=f"{LIMIT}/minute",
    )
    with running_example(env, log_path=tmp_path / "service.log") as process:
        yield process


def assert_readable_429(response: httpx.Response) -> None:
    """A 429 a page on FRONTEND can read: allowed origin, with its retry headers exposed."""
    assert response.status_code == 429, response.text
    assert response.json()["type"] == "urn:problem-type:rate-limited"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed
    assert "ratelimit-reset" in exposed


def test_sec4_preflights_count_against_the_per_ip_limit_and_its_429_is_readable(
    limited: ServiceProcess, service_credentials: ServiceCredentials
) -> None:
    # The probes' wait for the service to answer made requests on exempt paths only.
    with httpx.Client(base_url=limited.base_url, timeout=10) as http:
        for _ in range(LIMIT):
            answered = http.options("/v1/widgets", headers=PREFLIGHT)
            assert answered.status_code == 200, answered.text
            assert answered.headers["access-control-allow-origin"] == FRONTEND
        # A preflight flood from one address is refused like any other flood.
        assert_readable_429(http.options("/v1/widgets", headers=PREFLIGHT))
        # The request a browser sends once its preflight was cached is refused too, and the
        # page can read why and when to retry (without CORS headers it sees a network error).
        headers = {"Origin": FRONTEND, **service_credentials.headers}
        assert_readable_429(http.get("/v1/widgets", headers=headers))
        # Another origin's page reads nothing, refusal or not.
        other = http.get("/v1/widgets", headers={**headers, "Origin": "https://evil.example"})
        assert other.status_code == 429
        assert "access-control-allow-origin" not in other.headers
        # Probes stay exempt, preflighted or not.
        for _ in range(2 * LIMIT):
            assert http.get("/health/live").status_code == 200
            assert http.options("/health/ready", headers=PREFLIGHT).status_code == 200
