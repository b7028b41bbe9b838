"""ARCH-3/INF-3: the worker as a real process: it runs jobs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from goldenpath_chassis import Service
from goldenpath_chassis._core.cache import JsonCodec, build_cache
from goldenpath_chassis._core.database import open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.resilience import CircuitBreakers
from goldenpath_chassis.security import Principal
from goldenpath_chassis.testing.processes import free_port, start_service

from tests.example.widgets import CACHE, Widget, WidgetCreate, WidgetRead, WidgetService
from tests.support.example_process import EXAMPLE_COMMAND, importable

pytestmark = pytest.mark.process


async def create_widget(service: Service, database_url: str, name: str) -> None:
    """As `POST /v1/widgets` does: the widget and its publish job, in one transaction."""
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        cache = build_cache(settings, None, breakers=CircuitBreakers())
        resource = cache.resource(CACHE, JsonCodec(WidgetRead))
        widgets = WidgetService(session, cache=resource, webhooks=False)
        await widgets.create(
            Principal("worker-test", frozenset(), "bearer"), WidgetCreate(name=name)
        )


async def status_of(service: Service, database_url: str, name: str) -> str | None:
    settings = service.load_settings(app_env="test", database_url=database_url)
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.sessionmaker() as session,
    ):
        return await session.scalar(select(Widget.status).where(Widget.name == name))


def test_arch3_worker_process_runs_jobs_and_exits_0_on_sigterm(
    tmp_path: Path, service: Service, database_url: str
) -> None:
    name = f"worker-{time.monotonic_ns()}"
    env = {
        **importable(),
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "WORKER_POLL_SECONDS": "0.1",
    }
    worker = start_service(
        [*EXAMPLE_COMMAND, "worker"],
        env=env,
        port=free_port(),
        log_path=tmp_path / "worker.log",
        wait_path=None,
    )
    try:
        asyncio.run(create_widget(service, database_url, name))
        deadline = time.monotonic() + 20
        while asyncio.run(status_of(service, database_url, name)) != "active":
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
        worker.signal()
        assert worker.wait(timeout=20) == 0, worker.output()
    finally:
        worker.stop()
    assert "worker_stopped" in worker.output()
