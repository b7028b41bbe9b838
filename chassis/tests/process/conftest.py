"""Fixtures of the process tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import running_example


@pytest.fixture
def live(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    """The example service as a real process on loopback, logging to the test's folder."""
    with running_example(service_env, log_path=tmp_path / "service.log") as process:
        yield process
