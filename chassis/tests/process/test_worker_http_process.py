"""OBS-1/ARCH-3: the worker process serves its own /metrics and probes, on WORKER_HTTP_PORT.

A real worker on the session's PostgreSQL: its /metrics needs the API's `metrics:read`
credential and counts each job run by kind and outcome; its liveness answers while the claim
loop goes round, and a handler that blocks the event loop leaves the probe unanswered (the
kubelet's timeout, a failure like a 503).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis import Service
from goldenpath_chassis._core.api_keys.service import ApiKeyService
from goldenpath_chassis._core.database import open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis.jobs import enqueue
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.processes import ServiceProcess, free_port

from tests.example.slow import BLOCKING_JOB
from tests.example.widgets import PUBLISH
from tests.process.test_healthcheck import run_healthcheck
from tests.support.example_process import running_worker
from tests.support.published_widgets import (
    PUBLISH_BOUND_SECONDS,
    create_widget,
    create_widget_and_wait_until_published,
)

pytestmark = pytest.mark.process

# A stop far inside this; only a hang reaches it.
EXIT_BOUND_SECONDS = 60

# A kubelet's probe waits this long (the manifest's timeoutSeconds) before counting a failure.
PROBE_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def worker(tmp_path: Path, service_env: dict[str, str]) -> Iterator[ServiceProcess]:
    env = {**service_env, "WORKER_POLL_SECONDS": "0.1", "WORKER_CONCURRENCY": "1"}
    with running_worker(env, log_path=tmp_path / "worker.log") as process:
        yield process


async def metrics_key(service: Service, database_url: str) -> str:
    """An API key holding `metrics:read` alone, as Prometheus is given."""
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        keys = ApiKeyService(session, declared_scopes=service.scopes)
        _, plaintext = await keys.create(name="prometheus", scopes=["metrics:read"])
        return plaintext


async def enqueue_job(
    service: Service, database_url: str, kind: str, payload: dict[str, float]
) -> None:
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        enqueue(session, kind, payload, max_attempts=1)
        await session.commit()


def succeeded_runs(scrape: str, kind: str) -> float:
    prefix = f'job_runs_total{{kind="{kind}",outcome="succeeded"}} '
    for line in scrape.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_obs1_the_worker_metrics_need_the_metrics_key_and_count_job_runs(
    worker: ServiceProcess, service: Service, database_url: str, tokens: TokenFactory
) -> None:
    key = asyncio.run(metrics_key(service, database_url))
    scraper = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=worker.base_url, timeout=5) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=tokens.headers("widgets:read")).status_code == 403
        before = succeeded_runs(client.get("/metrics", headers=scraper).text, PUBLISH)

        asyncio.run(create_widget(service, database_url, f"metrics-{time.monotonic_ns()}"))
        deadline = time.monotonic() + PUBLISH_BOUND_SECONDS
        while (scrape := client.get("/metrics", headers=scraper)).status_code == 200:
            if succeeded_runs(scrape.text, PUBLISH) >= before + 1:
                break
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
        assert scrape.status_code == 200, scrape.text
        assert f'job_run_duration_seconds_count{{kind="{PUBLISH}"}}' in scrape.text
        # What the worker's process records besides: its pool, its statements.
        assert "db_client_connection_count{" in scrape.text


def test_obs1_a_handler_blocking_the_event_loop_leaves_the_liveness_probe_unanswered(
    worker: ServiceProcess, service: Service, database_url: str
) -> None:
    with httpx.Client(base_url=worker.base_url, timeout=PROBE_TIMEOUT_SECONDS) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        assert client.get("/health/ready").status_code == 200

        # Blocked far longer than the probe waits: when the line is in the log, the handler's
        # next statement is the time.sleep that holds the loop.
        asyncio.run(enqueue_job(service, database_url, BLOCKING_JOB, {"seconds": 8.0}))
        deadline = time.monotonic() + 20
        while "job_blocking_loop" not in worker.output():
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
        with pytest.raises(httpx.ReadTimeout):
            client.get("/health/live")


def test_ops1_the_healthcheck_command_probes_the_worker_with_worker(
    worker: ServiceProcess, database_url: str, tmp_path: Path
) -> None:
    """The image's HEALTHCHECK, as compose's worker runs it: `healthcheck --worker`."""
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "PORT": str(free_port()),  # no API here
        "WORKER_HTTP_PORT": str(worker.port),
    }
    assert run_healthcheck(env, tmp_path, "--worker").returncode == 0
    assert run_healthcheck(env, tmp_path, "--timeout", "1").returncode == 1


def test_obs1_arch3_a_taken_listener_port_ends_the_worker_with_one_line_before_any_claim(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    """Two workers on a host's network, or WORKER_HTTP_PORT the API's PORT in one pod: the
    second one stops at once, saying which setting, and claims nothing without its probes."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**service_env, "WORKER_HTTP_PORT": str(port)}
        with running_worker(env, log_path=tmp_path / "worker.log", wait_path=None) as process:
            exit_code = process.wait(timeout=EXIT_BOUND_SECONDS)
    output = process.output()
    assert exit_code == 3, output  # uvicorn's, as the API's when its port is taken
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    last = lines[-1]
    assert last["event"] == "worker_listener_not_started", output
    assert (last["setting"], last["port"], last["level"]) == ("WORKER_HTTP_PORT", port, "error")
    assert "in use" in last["error"], output
    assert "Traceback" not in output, output
    assert not any("exception" in line for line in lines), output
    assert all(line["event"] != "worker_started" for line in lines), output


class SilentIdentityProvider:
    """A JWKS endpoint that accepts connections and never answers, counting who came."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/jwks"

    def _accept(self) -> None:
        while True:
            try:
                self.connections.append(self._socket.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self._socket.close()
        for connection in self.connections:
            connection.close()


def test_arch3_an_identity_provider_outage_leaves_the_workers_jobs_and_key_scrapes_alone(
    tmp_path: Path, service: Service, database_url: str, service_env: dict[str, str]
) -> None:
    """The listener's authenticator opens at start-up, for /metrics: the key set is fetched on
    a token's first use, never before, so jobs do not wait on the IdP, nor does an API key."""
    idp = SilentIdentityProvider()
    env = {key: value for key, value in service_env.items() if key != "AUTH_JWT_PUBLIC_KEY"} | {
        "AUTH_JWT_JWKS_URL": idp.jwks_url,
        "WORKER_POLL_SECONDS": "0.1",
    }
    try:
        with running_worker(env, log_path=tmp_path / "worker.log") as worker:
            name = f"idp-down-{time.monotonic_ns()}"
            create_widget_and_wait_until_published(worker, service, database_url, name)
            key = asyncio.run(metrics_key(service, database_url))
            with httpx.Client(base_url=worker.base_url, timeout=5) as client:
                scrape = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert scrape.status_code == 200, scrape.text
            assert idp.connections == [], worker.output()
    finally:
        idp.close()


def test_arch3_a_worker_that_cannot_write_the_development_key_still_runs_its_jobs(
    tmp_path: Path,
    service: Service,
    database_url: str,
    service_env: dict[str, str],
    tokens: TokenFactory,
) -> None:
    """Development without a configured key, in a read-only root (compose's): the listener's
    key is read when a token first needs it, so the jobs and a key's scrape go on; the token
    alone is answered 503, with the line saying why."""
    (tmp_path / "var").write_text("a file where var/dev-keys/ would be made")
    env = {key: value for key, value in service_env.items() if key != "AUTH_JWT_PUBLIC_KEY"} | {
        "WORKER_POLL_SECONDS": "0.1"
    }
    with running_worker(env, log_path=tmp_path / "worker.log", cwd=tmp_path) as worker:
        name = f"no-dev-key-{time.monotonic_ns()}"
        create_widget_and_wait_until_published(worker, service, database_url, name)
        key = asyncio.run(metrics_key(service, database_url))
        with httpx.Client(base_url=worker.base_url, timeout=5) as client:
            scrape = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert scrape.status_code == 200, scrape.text
            by_token = client.get("/metrics", headers=tokens.headers("metrics:read"))
            assert by_token.status_code == 503, by_token.text
        assert '"development_signing_key_unavailable"' in worker.output()
