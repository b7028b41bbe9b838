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


def _run_benchmark(script: str, *args: str, timeout: float) -> str:
    """Run `benchmarks/<script>` briefly; it must succeed. Its stdout, to look for figures in."""
    completed = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=CHASSIS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_cache_invalidation_prints_both_cases() -> None:
    output = _run_benchmark("cache_invalidation.py", "--rounds", "1", "--writes", "50", timeout=120)
    for count in (1, 2):
        assert re.search(rf"{count} live version\(s\): median +\d+ us, p99 +\d+ us", output), output


def test_overload_prints_both_limits() -> None:
    output = _run_benchmark(
        "overload.py",
        *("--seconds", "1", "--capacity-seconds", "1", "--connections", "2"),
        timeout=180,
    )
    assert re.search(r"capacity: \d+ answers/s", output), output
    for label in ("100 (default)", "100000 (off)"):
        assert re.search(rf"{re.escape(label)}( +(?:[\d.]+|nan)){{8}}\n", output), output


def test_soak_prints_the_rss_slope_and_the_series() -> None:
    output = _run_benchmark(
        "soak.py",
        *("--minutes", "0.2", "--interval", "3", "--warm-up", "3", "--connections", "2"),
        timeout=180,
    )
    assert re.search(r"RSS slope after warm-up: [+-][\d.]+ MB per 10 minutes", output), output
    assert re.search(r"/metrics series: \d+ at start, \d+ after warm-up, \d+ at the end", output), (
        output
    )
    assert "Redis ended" not in output
