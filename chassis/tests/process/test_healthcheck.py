"""OPS-1: the image's HEALTHCHECK command, run against a real server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath_chassis.testing.processes import free_port, start_service

from tests.support.example_process import EXAMPLE_COMMAND, importable

pytestmark = pytest.mark.process


def run_healthcheck(
    env: dict[str, str], cwd: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, *EXAMPLE_COMMAND, "healthcheck", *arguments],
        env=clean | importable() | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


def test_ops1_healthcheck_exits_0_while_the_server_is_live_and_1_once_it_is_gone(
    tmp_path: Path,
) -> None:
    env = {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/service.sqlite3",
        "HOST": "0.0.0.0",  # noqa: S104 - the image's setting: the check must still ask loopback
        "PORT": str(free_port()),
    }
    service = start_service(
        EXAMPLE_COMMAND, env=importable() | env | {"HOST": "127.0.0.1"}, port=int(env["PORT"]),
        log_path=tmp_path / "out.log", cwd=tmp_path,
        timeout=90,  # a cold start under coverage on a busy CI
    )  # fmt: skip
    try:
        healthy = run_healthcheck(env, tmp_path)
        assert healthy.returncode == 0, healthy.stderr
        missing = run_healthcheck(env, tmp_path, "--path", "/no/such/path")
        assert missing.returncode == 1
        assert "answered 404" in missing.stderr
    finally:
        service.stop()
    gone = run_healthcheck(env, tmp_path, "--timeout", "1")
    assert gone.returncode == 1
    assert "unreachable" in gone.stderr
    assert "Traceback" not in gone.stderr
