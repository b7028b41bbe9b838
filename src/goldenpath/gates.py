"""The service's own gates, run on an updated service before anyone is asked to review it.

The gates are the commands the generated README tells a team to run. They run through `uv`, in
the service's own locked environment, never in the environment running this tool: that is why
the variables of an active virtual environment are removed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._processes import run_bounded

UV_RUN = ("uv", "run", "--locked")
# Name -> command. `unit` is the quick subset for previews; `tests` is every suite, as CI runs.
GATES: dict[str, tuple[str, ...]] = {
    "sync": ("uv", "sync", "--locked"),
    "lint": (*UV_RUN, "ruff", "check", "--output-format", "concise"),
    "format": (*UV_RUN, "ruff", "format", "--check"),
    "types": (*UV_RUN, "mypy"),
    "unit": (*UV_RUN, "pytest", "-m", "unit", "--no-cov", "-p", "no:cacheprovider"),
    "tests": (*UV_RUN, "pytest"),
}
QUICK = ("lint", "format", "unit")
ALL = ("lint", "format", "types", "tests")
OUTPUT_TAIL = 4000
# How long one gate may run (the whole suite included) before it, and all it started, is stopped.
GATE_TIMEOUT = 1800.0
# Variables that would make `uv run` use this tool's environment instead of the service's.
FOREIGN_ENVIRONMENT = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME")


@dataclass(frozen=True)
class GateResult:
    name: str
    command: str
    passed: bool
    seconds: float
    output: str  # the tail of stdout and stderr, for a failure's report

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "command": self.command,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
        }


def parse_gates(value: str) -> tuple[str, ...]:
    """`lint,unit` -> ("lint", "unit"); `quick`, `all` and `none` name the usual sets."""
    named = {"quick": QUICK, "all": ALL, "none": ()}
    if value in named:
        return named[value]
    gates = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [gate for gate in gates if gate not in GATES]
    if unknown:
        raise ValueError(
            f"unknown gate(s) {', '.join(unknown)}; choose from {', '.join(GATES)}, "
            "or quick, all, none"
        )
    return gates


def service_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in FOREIGN_ENVIRONMENT}


def uv_command(command: Sequence[str]) -> list[str]:
    """Prefer the uv that launched this tool (`uv run` and `uvx` export it) to PATH's first."""
    if command[0] == "uv":
        uv = os.environ.get("UV") or shutil.which("uv") or "uv"
        return [uv, *command[1:]]
    return list(command)


def _timed_out(expired: subprocess.TimeoutExpired) -> str:
    printed = "".join(
        part if isinstance(part, str) else (part or b"").decode(errors="replace")
        for part in (expired.stdout, expired.stderr)
    )
    return (
        f"did not finish within {expired.timeout:g} s, so it was stopped with every process it "
        "started (a test or a build step that hangs?). What it printed last:\n"
        + printed[-OUTPUT_TAIL:]
    )


def run_gates(
    project: Path, names: Sequence[str], *, timeout_seconds: float = GATE_TIMEOUT
) -> list[GateResult]:
    """Install the locked environment, then run each gate; every gate runs even after a failure.

    A failed install fails every gate after it without running it: they could only fail too.
    """
    if not names:
        return []
    results: list[GateResult] = []
    for name in ("sync", *[name for name in names if name != "sync"]):
        command = GATES[name]
        if results and not results[0].passed:
            results.append(GateResult(name, " ".join(command), False, 0.0, "not run: sync failed"))
            continue
        started = time.monotonic()
        try:
            completed = run_bounded(
                uv_command(command), cwd=project, env=service_environment(), timeout=timeout_seconds
            )
            passed = completed.returncode == 0
            output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL:]
        except subprocess.TimeoutExpired as expired:
            passed, output = False, _timed_out(expired)
        except FileNotFoundError as error:
            passed, output = False, f"cannot run it: {error}"
        results.append(
            GateResult(name, " ".join(command), passed, time.monotonic() - started, output)
        )
    return results
