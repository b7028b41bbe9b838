"""ARCH-3/INF-3: the worker as a real process: it runs jobs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from goldenpath_chassis import Service

from tests.support.example_process import running_worker
from tests.support.published_widgets import create_widget_and_wait_until_published

pytestmark = pytest.mark.process


def test_arch3_worker_process_runs_jobs_and_exits_0_on_sigterm(
    tmp_path: Path, service: Service, database_url: str
) -> None:
    env = {"APP_ENV": "test", "DATABASE_URL": database_url, "WORKER_POLL_SECONDS": "0.1"}
    with running_worker(env, log_path=tmp_path / "worker.log", wait_path=None) as worker:
        name = f"worker-{time.monotonic_ns()}"
        create_widget_and_wait_until_published(worker, service, database_url, name)
        worker.signal()
        assert worker.wait(timeout=20) == 0, worker.output()
    assert "worker_stopped" in worker.output()
