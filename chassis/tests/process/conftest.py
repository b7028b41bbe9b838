"""Fixtures of the process tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from goldenpath_chassis.testing.processes import ServiceProcess, free_port, start_service

from tests.support.example_process import EXAMPLE_COMMAND, importable


@pytest.fixture
def live(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    """The example service as a real process on loopback, logging to the test's folder."""
    process = start_service(
        EXAMPLE_COMMAND,
        env=importable() | service_env,
        port=free_port(),
        log_path=tmp_path / "service.log",
    )
    try:
        yield process
    finally:
        process.stop()
