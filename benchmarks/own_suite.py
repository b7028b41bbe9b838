"""The generated project's own test suite, timed: issue 18 wants it well under a minute.

`uv run pytest`, as the project's README runs it, twice, wall clock. The first run in a new
environment also compiles every module it imports to bytecode (uv installs without it by
default), which a fresh CI runner pays on every run; the second is what a developer waits for,
and the figure held against the target. A failing suite fails the benchmark, with its output.
`uv run python benchmarks/own_suite.py --project PATH` alone; `standards_cost.py --suite` too.

`--coverage-settings` times the shipped coverage settings (lines, through `sys.monitoring`)
beside the ones they replaced (branches, through the C tracer tracking greenlets), later runs
alternating, since a changed default is measured in both settings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.commands import BYTECODE_CACHED, uv_run

SUITE_TARGET_SECONDS = 60.0
LABEL = "the project's own test suite"
# What Python 3.13 needs to measure branches: the C tracer, told to track SQLAlchemy's greenlets.
BRANCH_COVERAGE = {"core": "ctrace", "branch": True, "concurrency": ["greenlet", "thread"]}


@dataclass(frozen=True)
class OwnSuite:
    first_seconds: float
    seconds: float
    outcome: str  # pytest's summary line, as it printed it


def timed_run(project: Path, *pytest_args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One `uv run pytest` in the project and its wall time; it fails as the suite fails."""
    started = time.monotonic()
    # As CI and a developer run it: bytecode cached, whatever the caller's shell says.
    result = uv_run(
        project, "pytest", "-q", "-p", "no:cacheprovider", *pytest_args, env=BYTECODE_CACHED
    )
    return time.monotonic() - started, result


def time_own_suite(project: Path) -> OwnSuite:
    (first, _), (second, result) = timed_run(project), timed_run(project)
    return OwnSuite(first, second, result.stdout.strip().splitlines()[-1].strip("= "))


def write_branch_coverage_config(project: Path, directory: Path) -> Path:
    """The project's coverage settings with `BRANCH_COVERAGE` over them, as a file of their own."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    sections = pyproject["tool"]["coverage"]
    sections["run"] = {**sections["run"], **BRANCH_COVERAGE}
    # JSON's strings, lists, numbers and booleans are TOML's too.
    lines = []
    for name, settings in sections.items():
        lines.append(f"[tool.coverage.{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    config = directory / "branch-coverage.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def coverage_figure(result: subprocess.CompletedProcess[str]) -> str:
    """The report's TOTAL line: what each setting measured, beside what it cost."""
    totals = [line for line in result.stdout.splitlines() if line.startswith("TOTAL")]
    return " ".join(totals[-1].split()[1:]) if totals else "no coverage report"


def compare_coverage_settings(project: Path, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        branches = write_branch_coverage_config(project, Path(directory))
        timed_run(project)  # the first run compiles what the suite imports; not compared
        for round_number in range(1, rounds + 1):
            shipped_seconds, shipped = timed_run(project)
            branch_seconds, branch = timed_run(project, f"--cov-config={branches}")
            print(
                f"round {round_number}: shipped (lines, sys.monitoring) {shipped_seconds:.1f} s "
                f"[TOTAL {coverage_figure(shipped)}]; branches (C tracer tracking greenlets) "
                f"{branch_seconds:.1f} s [TOTAL {coverage_figure(branch)}]   "
                f"target < {SUITE_TARGET_SECONDS:g} s",
                flush=True,
            )


def describe(suite: OwnSuite | None) -> tuple[str, bool | None]:
    """The figure's line for a report, and its verdict (None when not measured)."""
    target = f"target < {SUITE_TARGET_SECONDS:g} s"
    if suite is None:
        return (
            f"{LABEL:<36}not measured in this run (`--suite`: "
            f"`uv run pytest` twice, about two minutes)   {target}",
            None,
        )
    passed = suite.seconds < SUITE_TARGET_SECONDS
    return (
        f"{LABEL:<36}{suite.seconds:6.1f} s   (`uv run pytest`, the "
        f"second run; the first in this environment {suite.first_seconds:.1f} s; "
        f"{suite.outcome})   {target}: {'PASS' if passed else 'MISS'}",
        passed,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, required=True, help="a generated, synced project")
    parser.add_argument(
        "--coverage-settings",
        type=int,
        metavar="ROUNDS",
        help="time the shipped coverage settings beside branch coverage, ROUNDS times each",
    )
    args = parser.parse_args()
    if args.coverage_settings:
        compare_coverage_settings(args.project, args.coverage_settings)
        return 0
    line, _ = describe(time_own_suite(args.project))
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
