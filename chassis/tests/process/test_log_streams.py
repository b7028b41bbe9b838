"""OBS-3: where log lines go and how they look, with the service as a real process.

- `LOG_FORMAT` unset: the console renderer when the output is a terminal (a person reads it),
  JSON anywhere else (a collector reads it); `LOG_FORMAT=json` is JSON even on a terminal.
- The processes (`serve`) log to stdout; every other command to stderr, so its stdout is its
  result alone (`KEY=$(python -m <package> api-keys create ...)`).
- Alembic's start-up chatter (its plugins, its DDL mode) is never logged.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis._core.security.api_keys import API_KEY_PATTERN
from goldenpath_chassis.testing.processes import free_port

from tests.support.example_process import EXAMPLE_COMMAND, development_env, running_example

pytestmark = pytest.mark.process

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What alembic says at INFO on every start when nothing quietens it.
ALEMBIC_CHATTER = ("setup plugin", "Will assume", "Context impl")


def is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


class Terminal:
    """A process whose stdout and stderr are a pseudo-terminal, its output read as it comes (a
    full terminal buffer would block the process)."""

    def __init__(self, arguments: list[str], *, env: dict[str, str], cwd: Path) -> None:
        controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, *arguments],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        self._controller = controller
        self._output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._controller, 65536)
            except OSError:  # EIO: every copy of the terminal's other end is closed
                break
            if not chunk:
                break
            self._output += chunk

    def finish(self) -> str:
        """Stop the process (SIGTERM), and its whole output once it has exited."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        os.close(self._controller)
        return ANSI.sub("", self._output.decode(errors="replace")).replace("\r\n", "\n")


def serve_on_a_terminal(tmp_path: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    port = free_port()
    terminal = Terminal(
        [*EXAMPLE_COMMAND],
        env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        cwd=tmp_path,
    )
    answered = False
    deadline = time.monotonic() + 60
    try:
        with httpx.Client(timeout=1) as client:
            # Until it answers, or the process has died.
            while not answered and terminal.process.poll() is None:
                assert time.monotonic() < deadline, "the service did not answer within 60 s"
                try:
                    answered = client.get(f"http://127.0.0.1:{port}/health/live").is_success
                except httpx.TransportError:
                    time.sleep(0.05)
    finally:
        output = terminal.finish()
    assert answered, output
    return terminal.process.returncode, [line for line in output.splitlines() if line.strip()]


def test_obs3_on_a_terminal_without_log_format_lines_are_for_a_person(tmp_path: Path) -> None:
    code, lines = serve_on_a_terminal(tmp_path, development_env())
    assert code == 0, lines
    assert lines
    assert not any(is_json(line) for line in lines), lines
    # structlog's console renderer: the level in brackets, then the event.
    assert any(re.search(r"\[info\s*\] shutdown_complete", line) for line in lines), lines
    assert not any(chatter in line for line in lines for chatter in ALEMBIC_CHATTER), lines


def test_obs3_log_format_json_is_json_even_on_a_terminal(tmp_path: Path) -> None:
    code, lines = serve_on_a_terminal(tmp_path, development_env() | {"LOG_FORMAT": "json"})
    assert code == 0, lines
    assert lines
    assert all(is_json(line) for line in lines), lines


def test_obs3_without_a_terminal_or_log_format_every_line_is_json(tmp_path: Path) -> None:
    with running_example(development_env(), log_path=tmp_path / "out.log") as service:
        pass  # it answered: stopped, it has said all it will
    lines = service.output().splitlines()
    assert service.process.returncode == 0, lines
    assert any(json.loads(line)["event"] == "shutdown_complete" for line in lines)
    assert all(is_json(line) for line in lines), lines
    # The embedded database was migrated on start, and alembic's chatter left out.
    assert any("Running upgrade" in line for line in lines), lines
    assert not any(chatter in line for line in lines for chatter in ALEMBIC_CHATTER), lines


def run(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *EXAMPLE_COMMAND, *arguments],
        env=development_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_obs3_a_command_prints_its_result_on_stdout_and_logs_on_stderr(tmp_path: Path) -> None:
    """`KEY=$(python -m <package> api-keys create ...)` on the embedded database: it migrates
    itself first, and stdout holds the key alone, one line."""
    (tmp_path / "keys").mkdir()
    created = run(
        tmp_path / "keys", "api-keys", "create", "--name", "prometheus", "--scope", "widgets:read"
    )
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "keys" / "var" / "development.sqlite3").is_file()
    key = created.stdout.removesuffix("\n")
    assert created.stdout == key + "\n"
    assert API_KEY_PATTERN.fullmatch(key), created.stdout
    assert not any(chatter in created.stderr for chatter in ALEMBIC_CHATTER), created.stderr

    # A command whose work is all logs: they go to stderr, the chatter left out.
    (tmp_path / "migrate").mkdir()
    migrated = run(tmp_path / "migrate", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout == ""
    lines = migrated.stderr.splitlines()
    assert any("Running upgrade" in line for line in lines), lines
    assert all(is_json(line) for line in lines), lines
    assert not any(chatter in migrated.stderr for chatter in ALEMBIC_CHATTER), lines
