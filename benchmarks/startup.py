"""Benchmark: time to generate a project, and time from process start to `/health/ready` 200
in development settings (SQLite, what a developer's first run waits for).

Prints figures; it is not a test and fails nothing. Run it with
`uv run python -m benchmarks.startup [--runs N]`. The start-up issue 18 holds to its target is
in production settings, with tracing configured: `standards_cost.py` prints it beside it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from copier import run_copy

from tests.support.commands import pin_python_for_generated_projects
from tests.support.projects import DEFAULTS, synced_defaults
from tests.support.service import start

DEFAULTS_PACKAGE = "acme_orders"
TEMPLATE = Path(__file__).resolve().parents[1]


def time_generation(workdir: Path, runs: int) -> list[float]:
    timings = []
    for index in range(runs):
        started = time.perf_counter()
        # Without tasks: the figure is Copier's rendering, not dependency locking.
        run_copy(
            str(TEMPLATE),
            str(workdir / f"render-{index}"),
            data=DEFAULTS,
            defaults=True,
            unsafe=True,
            skip_tasks=True,
            quiet=True,
            vcs_ref="HEAD",  # the working tree, not the newest release tag
        )
        timings.append(time.perf_counter() - started)
    return timings


def time_startup(project: Path, workdir: Path, runs: int) -> list[float]:
    timings = []
    for index in range(runs):
        service = start(
            project,
            ["-m", DEFAULTS_PACKAGE],
            env={
                "APP_ENV": "development",
                "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/bench-{index}.sqlite3",
            },
            log_path=workdir / f"startup-{index}.log",
            wait_path="/health/ready",
        )
        timings.append(time.perf_counter() - service.started_at)
        service.stop()
    return timings


def report(name: str, timings: list[float]) -> None:
    print(
        f"{name:<38} median {statistics.median(timings):6.3f} s"
        f"   min {min(timings):6.3f} s   max {max(timings):6.3f} s   (n={len(timings)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory(prefix="goldenpath-bench-") as tmp:
        workdir = Path(tmp)
        report("copier copy --defaults (no tasks)", time_generation(workdir, args.runs))
        project = synced_defaults(workdir / "project")
        report("development start -> /health/ready", time_startup(project, workdir, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
