"""The chassis's benchmarks keep running as the chassis changes: each runs once, briefly, and
must print every figure it promises. No figure is judged here (docs/benchmarks.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHASSIS = Path(__file__).resolve().parents[2]


def test_cache_invalidation_prints_both_cases() -> None:
    completed = subprocess.run(
        [sys.executable, "benchmarks/cache_invalidation.py", "--rounds", "1", "--writes", "50"],
        cwd=CHASSIS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    for count in (1, 2):
        assert re.search(
            rf"{count} live version\(s\): median +\d+ us, p99 +\d+ us", completed.stdout
        ), completed.stdout


def test_overload_prints_both_limits() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "benchmarks/overload.py",
            *("--seconds", "1", "--capacity-seconds", "1", "--connections", "2"),
        ],
        cwd=CHASSIS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert re.search(r"capacity: \d+ answers/s", completed.stdout), completed.stdout
    for label in ("100 (default)", "100000 (off)"):
        assert re.search(rf"{re.escape(label)}( +(?:[\d.]+|nan)){{8}}\n", completed.stdout), (
            completed.stdout
        )


def test_soak_prints_the_rss_slope_and_the_series() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "benchmarks/soak.py",
            *("--minutes", "0.2", "--interval", "3", "--warm-up", "3", "--connections", "2"),
        ],
        cwd=CHASSIS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert re.search(r"RSS slope after warm-up: [+-][\d.]+ MB per 10 minutes", completed.stdout), (
        completed.stdout
    )
    assert re.search(
        r"/metrics series: \d+ at start, \d+ after warm-up, \d+ at the end", (completed.stdout)
    ), completed.stdout
    assert "Redis ended" not in completed.stdout
