"""The example service (tests/example) as a real process: `python -m tests.example`, importable
from any working directory, on the same database backend as the rest of the session."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from goldenpath_chassis.testing.live import service_command
from goldenpath_chassis.testing.processes import ServiceProcess, free_port, start_service

# chassis/: where `tests.example` is importable from.
CHASSIS_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tests.example"
EXAMPLE_COMMAND = service_command(PACKAGE)
# A development service's first start migrates its embedded database before it answers.
FIRST_START_SECONDS = 60


def importable() -> dict[str, str]:
    """What a process needs, on top of its settings, to run the example from any folder (a test's
    own, where a development service keeps its embedded database and keys)."""
    # The test-only routes (slow, failing) serve the process tests (tests/example/service.py).
    env = {"PYTHONPATH": str(CHASSIS_ROOT), "EXAMPLE_TEST_ROUTES": "1"}
    backend = os.environ.get("EXAMPLE_BACKEND")
    if backend:
        env["EXAMPLE_BACKEND"] = backend
    return env


def development_env() -> dict[str, str]:
    """Zero set-up: the embedded database (migrated on start, in the test's folder)."""
    return {"PATH": "/usr/bin:/bin", **importable(), "APP_ENV": "development"}


@contextmanager
def running_example(
    env: Mapping[str, str], *, log_path: Path, timeout: float = 30
) -> Iterator[ServiceProcess]:
    """The example service with `env` (its settings) on a free loopback port, stopped on exit;
    run in its log's folder, where a development service keeps its database and keys (not the
    checkout). `timeout` bounds the wait for it to answer."""
    process = start_service(
        EXAMPLE_COMMAND,
        env=importable() | dict(env),
        port=free_port(),
        log_path=log_path,
        cwd=log_path.parent,
        timeout=timeout,
    )
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def running_worker(
    env: Mapping[str, str],
    *,
    log_path: Path,
    wait_path: str | None = "/health/live",
    cwd: Path | None = None,
) -> Iterator[ServiceProcess]:
    """The example's job worker with `env` (its settings), its listener (/metrics, probes) on a
    free loopback port unless `env` names WORKER_HTTP_PORT, stopped on exit. With `wait_path`
    None it is not waited for (a worker expected to exit, or one whose listener is not asked)."""
    process = start_service(
        [*EXAMPLE_COMMAND, "worker"],
        env=importable() | dict(env),
        port=free_port(),
        log_path=log_path,
        wait_path=wait_path,
        cwd=cwd,
    )
    try:
        yield process
    finally:
        process.stop()
