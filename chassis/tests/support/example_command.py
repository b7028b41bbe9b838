"""A command of the example service run as an operator runs it: `python -m tests.example ...`
from the chassis's directory, with the database it is given and nothing else of this shell."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CHASSIS = Path(__file__).resolve().parents[2]


def example_command(
    database_url: str, *args: str, environment: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`environment`: settings of the operator's shell beyond the database (AUTH_JWT_...)."""
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "test", "DATABASE_URL": database_url}
    env |= environment or {}
    if "EXAMPLE_BACKEND" in os.environ:
        env["EXAMPLE_BACKEND"] = os.environ["EXAMPLE_BACKEND"]
    return subprocess.run(
        [sys.executable, "-m", "tests.example", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=CHASSIS,
    )
