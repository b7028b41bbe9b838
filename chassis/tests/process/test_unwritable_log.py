"""OBS-3: a service whose log cannot be written keeps serving.

Once the collector reading a process's stdout goes away, every write there fails (a broken
pipe). The standard library's handlers never raise from a failed line; structlog's loggers
did, into whatever logged: the service stopped at its first start-up line, and a request's
access line would have turned into an error. Each line that cannot be written goes to stderr.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from goldenpath_chassis.testing.processes import free_port, start_service

from tests.support.example_process import EXAMPLE_COMMAND, development_env
from tests.support.pipes import pipe_nobody_reads

pytestmark = pytest.mark.process


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_obs3_a_service_whose_log_cannot_be_written_keeps_serving(fmt: str, tmp_path: Path) -> None:
    stderr_log = tmp_path / "stderr.log"
    with pipe_nobody_reads() as stdout:
        process = start_service(
            EXAMPLE_COMMAND,
            env=development_env() | {"LOG_FORMAT": fmt},
            port=free_port(),
            log_path=stderr_log,
            stdout=stdout,
            cwd=tmp_path,
        )
    try:
        statuses = [
            httpx.get(f"{process.base_url}{path}", timeout=10).status_code
            for path in ("/health/ready", "/v1/test/fail", "/v1/nothing-here")
        ]
    finally:
        process.stop()
    stderr = stderr_log.read_text()
    assert statuses == [200, 401, 404], stderr
    # The access lines of the refused and the unknown request, written where they could be.
    assert "log line could not be written (BrokenPipeError: " in stderr
    assert "logger: access" in stderr
    assert "/v1/nothing-here" in stderr
