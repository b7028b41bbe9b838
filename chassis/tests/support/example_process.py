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
def running_example(env: Mapping[str, str], *, log_path: Path) -> Iterator[ServiceProcess]:
    """The example service with `env` (its settings) on a free loopback port, stopped on exit;
    run in its log's folder, where a development service keeps its database and keys (not the
    checkout)."""
    process = start_service(
        EXAMPLE_COMMAND,
        env=importable() | dict(env),
        port=free_port(),
        log_path=log_path,
        cwd=log_path.parent,
    )
    try:
        yield process
    finally:
        process.stop()
