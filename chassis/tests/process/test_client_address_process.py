"""SEC-4/OBS-3 with the service as a real process on loopback, behind a "proxy" it trusts (the
test's own address): the access log names the client the proxy forwarded for, not the proxy,
when no rate limiter resolved the address (`RATE_LIMIT_ENABLED=false`, the set-up for a
service behind a gateway that limits, where every line named the gateway)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials, service_environment

from tests.support.example_process import running_example

pytestmark = pytest.mark.process

CLIENT = "198.51.100.7"


def test_sec4_obs3_the_access_log_names_the_forwarded_client_without_the_limiter(
    database_url: str, service_credentials: ServiceCredentials, tmp_path: Path
) -> None:
    env = service_environment(
        database_url=database_url,
        redis_url=None,
        credentials=service_credentials,
        RATE_LIMIT_ENABLED="false",
        TRUSTED_PROXIES="127.0.0.0/8,::1/128",
    )
    with running_example(env, log_path=tmp_path / "service.log") as process:
        with httpx.Client(base_url=process.base_url, timeout=10) as http:
            forwarded = http.get(
                "/v1/widgets", headers={"X-Forwarded-For": f"203.0.113.9, {CLIENT}"}
            )
            direct = http.get("/v1/widgets")
        process.stop()
        lines = [json.loads(line) for line in process.output().splitlines() if line[:1] == "{"]
    assert (forwarded.status_code, direct.status_code) == (401, 401)
    requests = [line for line in lines if line.get("event") == "request"]
    assert [line["client"] for line in requests] == [CLIENT, "127.0.0.1"], requests
