"""TEST-1: the coverage gate counts every line that runs, those in SQLAlchemy's greenlets too.

SQLAlchemy's async layer runs the database work in greenlets. The C tracer keeps a stack of the
functions it is in, and a greenlet switch changes the running stack without returning: unless
it tracks greenlets, the lines after each `await` that reached the database read as missed.
`sys.monitoring` keeps no such stack. A change to `[tool.coverage.run]` (`branch = true` on
Python 3.13 makes coverage fall back to the C tracer, with a warning that scrolls past) must
not leave the gate judging lines it cannot see.
"""

from __future__ import annotations

import coverage
import pytest

pytestmark = pytest.mark.unit


def test_test1_coverage_sees_the_lines_run_in_greenlets() -> None:
    measuring = coverage.Coverage.current()
    if measuring is None:
        pytest.skip("this run does not measure coverage (--no-cov)")
    core = dict(measuring.sys_info())["core"]
    concurrency = measuring.get_option("run:concurrency")
    tracks_greenlets = isinstance(concurrency, list) and "greenlet" in concurrency
    assert core == "SysMonitor" or tracks_greenlets, (
        f"coverage measures with {core} without tracking greenlets (concurrency={concurrency}): "
        'lines after a database call would read as missed. Keep `core = "sysmon"` in '
        'pyproject.toml, or set `concurrency = ["greenlet", "thread"]` for the C tracer'
    )
