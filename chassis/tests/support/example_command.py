"""A command of the example service run as an operator runs it: `python -m tests.example ...`
from the chassis's directory, with the database it is given and nothing else of this shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHASSIS = Path(__file__).resolve().parents[2]


def example_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "test", "DATABASE_URL": database_url}
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
