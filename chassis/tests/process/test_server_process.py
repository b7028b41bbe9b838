"""INF-1/INF-3/CFG-1/OBS-3/SEC-3 with the service as a real process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis._core.security.dev_keys import SigningKey
from goldenpath_chassis.testing.auth import TokenFactory, auth_environment
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.example.service import BACKEND
from tests.support.example_process import EXAMPLE_COMMAND, PACKAGE, importable, running_example
from tests.support.slow_clients import closed_by_server, connect, get_on

pytestmark = pytest.mark.process

SLOW = "/v1/test/slow"  # the example's test-only slow route (tests/example/slow.py)


@pytest.fixture
def base_env(signing_key: SigningKey) -> dict[str, str]:
    # The zero-set-up development defaults, embedded database included (it lands in the test's
    # folder, the working directory, and migrates itself), plus this session's token issuer.
    return {
        **importable(),
        "APP_ENV": "development",
        "LOG_FORMAT": "json",
        **auth_environment(signing_key),
    }


def run_command(
    cwd: Path, env: dict[str, str], *arguments: str
) -> subprocess.CompletedProcess[str]:
    """`python -m tests.example ARGUMENTS` with only `env` (and what makes it importable)."""
    return subprocess.run(
        [sys.executable, *EXAMPLE_COMMAND, *arguments],
        env={"PATH": "/usr/bin:/bin", **importable(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def wait_until_in_flight(service: ServiceProcess, count: int, *, timeout: float = 30) -> None:
    """Until the service is serving `count` slow requests: the signal must land while they run."""
    deadline = time.monotonic() + timeout
    while httpx.get(service.base_url + SLOW + "/in-flight").json()["in_flight"] < count:
        assert time.monotonic() < deadline, "the slow request never reached the service"
        time.sleep(0.02)


def readiness_once_signalled(service: ServiceProcess, *, timeout: float = 10) -> httpx.Response:
    """The first readiness answer that is not 200: the signal is delivered asynchronously, and
    until it is handled the service is rightly still ready. A refused connection here would
    mean the listener closed without a drain, and fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        ready = httpx.get(service.base_url + "/health/ready", timeout=5)
        if ready.status_code != 200 or time.monotonic() > deadline:
            return ready
        time.sleep(0.01)


def json_lines(text: str) -> list[dict[str, object]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_inf2_health_endpoints_answer_on_loopback(tmp_path: Path, base_env: dict[str, str]) -> None:
    with running_example(base_env, log_path=tmp_path / "out.log") as service:
        assert httpx.get(service.base_url + "/health/live").status_code == 200
        ready = httpx.get(service.base_url + "/health/ready")
        assert ready.status_code == 200, ready.text
    assert service.process.returncode == 0


def test_inf3_sigterm_lets_an_in_flight_request_finish_and_exits_0(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    env = base_env | {"SHUTDOWN_DRAIN_SECONDS": "1", "SHUTDOWN_GRACE_SECONDS": "10"}
    result: dict[str, object] = {}

    def slow_request(service: ServiceProcess) -> None:
        response = httpx.get(service.base_url + SLOW, params={"seconds": 2.5}, timeout=20)
        result["status"] = response.status_code
        result["body"] = response.json()

    with running_example(env, log_path=tmp_path / "out.log") as service:
        worker = threading.Thread(target=slow_request, args=(service,))
        worker.start()
        wait_until_in_flight(service, 1)
        signalled = time.monotonic()
        service.signal()
        # Draining: still serving, but readiness already says "take me out".
        ready = readiness_once_signalled(service)
        assert ready.status_code == 503
        assert ready.json()["status"] == "draining"
        worker.join(timeout=20)
        exit_code = service.wait(timeout=20)
        took = time.monotonic() - signalled

    assert result == {"status": 200, "body": {"slept": 2.5}}
    assert exit_code == 0, service.output()
    assert took < 10 + 1 + 5, "the process outlived its grace period"
    events = [line.get("event") for line in json_lines(service.output())]
    assert "shutdown_signal" in events
    assert "resources_closed" in events


def test_inf3_a_keep_alive_client_is_told_to_close_while_draining(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Draining, every answer says `Connection: close` and the connection closes after it: a
    client holding a keep-alive connection moves to a pod still in the endpoints instead of
    sending its next request as the listener closes."""
    # Far longer than the test: the drain is still on when the client asks. The second signal
    # (`stop`) skips the rest.
    env = base_env | {"SHUTDOWN_DRAIN_SECONDS": "120"}
    with (
        running_example(env, log_path=tmp_path / "out.log") as service,
        connect(service.port) as client,
    ):
        for _ in range(2):  # serving: the same connection answers again
            serving = get_on(client, "/health/live")
            assert serving.status == 200
            assert serving.getheader("connection") is None
        service.signal()
        assert readiness_once_signalled(service).status_code == 503
        draining = get_on(client, "/health/live")
        assert draining.status == 200
        assert draining.getheader("connection") == "close"
        assert closed_by_server(client), "the connection is kept while draining"
    assert service.process.returncode == 0, service.output()


def test_cfg1_production_without_database_url_exits_naming_it(tmp_path: Path) -> None:
    env = {"APP_ENV": "production", "REDIS_URL": "redis://127.0.0.1:1/0", "PORT": "8000"}
    completed = run_command(tmp_path, env)
    assert completed.returncode == 78
    assert completed.stderr.startswith(f"{PACKAGE}: "), completed.stderr
    assert "DATABASE_URL: is required in production" in completed.stderr
    # Authentication has no development fallback in production (SEC-3).
    for variable in (
        "AUTH_JWT_ISSUER",
        "AUTH_JWT_AUDIENCE",
        "AUTH_JWT_JWKS_URL",
        "AUTH_SESSION_SECRET",
    ):
        assert f"{variable}: " in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout


def test_sec3_dev_token_opens_the_api_of_a_development_service(tmp_path: Path) -> None:
    """The README's flow: mint a token with `dev-token`, call the API with it."""
    env = {"APP_ENV": "development"}  # nothing configured: the development key signs
    minted = run_command(tmp_path, env, "dev-token", "--scope", "widgets:read")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert token.count(".") == 2
    assert (tmp_path / "var" / "dev-keys").is_dir()  # the key pair stays in the project

    with running_example(env, log_path=tmp_path / "out.log") as service:
        widgets = service.base_url + "/v1/widgets"
        assert httpx.get(widgets).status_code == 401
        assert httpx.get(widgets, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        created = httpx.post(
            widgets, json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 403  # the token was minted without widgets:write
    assert service.process.returncode == 0


def test_sec3_dev_token_refuses_production(tmp_path: Path, signing_key: SigningKey) -> None:
    database_url = (
        "postgresql+asyncpg://app@127.0.0.1:1/app"
        if BACKEND == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3"
    )
    production = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "AUTH_SESSION_SECRET": "s" * 40,
        **auth_environment(signing_key),
    }
    completed = run_command(tmp_path, production, "dev-token")
    assert completed.returncode == 64, completed.stderr
    assert "refusing in production" in completed.stderr
    assert completed.stdout == ""
    assert not (tmp_path / "var").exists()


def test_obs3_every_output_line_is_json_with_request_ids(
    tmp_path: Path, base_env: dict[str, str], tokens: TokenFactory
) -> None:
    with running_example(base_env, log_path=tmp_path / "out.log") as service:
        response = httpx.get(
            service.base_url + "/v1/widgets",
            headers={"X-Request-ID": "abc-12345678", **tokens.headers("widgets:read")},
        )
        assert response.status_code == 200
    lines = json_lines(service.output())
    access = [line for line in lines if line.get("event") == "request"]
    assert any(line["request_id"] == "abc-12345678" for line in access)
    # uvicorn's own lines go through the same pipeline.
    assert any(line.get("logger") == "uvicorn.error" for line in lines)
