"""INF-3: a SIGTERM while the process starts up stops it at once, cleanly.

As PID 1 in its container, Python ignores a SIGTERM it has no handler for: without the chassis's
start-up handler a pod deleted while the service starts would wait out its grace period. A test
process is not PID 1, and there the default action kills it by the signal (exit code -15 here):
a clean exit (0), with the chassis's line saying it stopped during start-up, shows that the
handler was installed and acted.

The example's start-up is held (far longer than the test waits) where an app or a worker loads
the domains, after it said so: the signal lands during start-up, never before the handler is
installed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from goldenpath_chassis.testing.processes import ServiceProcess, free_port, start_service

from tests.support.example_process import EXAMPLE_COMMAND, development_env, importable

pytestmark = pytest.mark.process

# Far past the bound below: only the signal can end the start-up in time.
HELD_STARTUP_SECONDS = 600
# A busy machine's interpreter start and imports take seconds; the stop itself is immediate.
BOUND_SECONDS = 30


def wait_until_starting(process: ServiceProcess) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while '"event":"slow_startup"' not in process.output():
        assert process.process.poll() is None, process.output()
        assert time.monotonic() < deadline, process.output()
        time.sleep(0.05)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_inf3_sigterm_during_startup_ends_the_process_cleanly(
    tmp_path: Path, database_url: str, command: str
) -> None:
    if command == "serve":
        env = development_env()
    else:  # as tests/process/test_worker_process.py runs it
        env = {**importable(), "APP_ENV": "test", "DATABASE_URL": database_url}
    process = start_service(
        [*EXAMPLE_COMMAND, command],
        env=env | {"EXAMPLE_SLOW_STARTUP_SECONDS": str(HELD_STARTUP_SECONDS)},
        port=free_port(),
        log_path=tmp_path / "out.log",
        wait_path=None,
        cwd=tmp_path,
    )
    try:
        wait_until_starting(process)
        process.signal()
        exit_code = process.wait(timeout=BOUND_SECONDS)
    finally:
        process.stop()
    output = process.output()
    assert exit_code == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines[-1]["event"] == "stopped_during_startup", output
    assert lines[-1]["level"] == "info", output
    assert "Traceback" not in output, output
