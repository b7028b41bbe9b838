"""Figures measured in pytest-xdist workers reach the controller's summary (TEST-2).

The chassis's own suite runs over every core; a team's may too. Each worker is a session of its
own, so without the hand-over the figures measured there were never printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHASSIS = Path(__file__).resolve().parents[2]

CONFTEST = """
import pytest

from tests.example.service import SERVICE

pytest_plugins = ["goldenpath_chassis.testing.fixtures"]


@pytest.fixture(scope="session")
def service():
    return SERVICE
"""

TESTS = """
import pytest


@pytest.mark.parametrize("n", range(4))
def test_measures(figures, n):
    figures.add("Made-up figures", f"figure {n}")
"""


@pytest.mark.parametrize("workers", ["2", "0"])
def test_test2_figures_from_every_worker_are_printed_once(tmp_path: Path, workers: str) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_made_up.py").write_text(TESTS)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(CHASSIS)},  # tests.example, the service
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert sum("Made-up figures" in line for line in lines) == 1, completed.stdout
    printed = sorted(line for line in lines if line.startswith("figure "))
    assert printed == [f"figure {n}" for n in range(4)], completed.stdout
