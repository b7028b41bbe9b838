"""Run the tools a generated project ships with, and fail with their output when they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import plumbum

REPOSITORY = Path(__file__).resolve().parents[2]

# An empty value unsets PYTHONDONTWRITEBYTECODE, which the shell running these tests may set:
# with it, every run and every process a run starts compiles all it imports again, which
# neither CI nor a developer's machine does. Figures and Copier runs pass this.
BYTECODE_CACHED: Mapping[str, str] = {"PYTHONDONTWRITEBYTECODE": ""}


class CommandFailedError(AssertionError):
    pass


def uv_executable() -> str:
    """The uv running these tests (`uv run` exports it), else the first on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is required: see the README's set-up")
    return found


def pin_python_for_generated_projects() -> None:
    """Make every uv run by the tests (and by Copier's tasks) use the interpreter running them.

    Without this, uv may look for a newer 3.13 to download, which fails on machines without
    internet access to GitHub; with it, a fresh machine needs only what the README installs.
    """
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    pins = {
        "UV_PYTHON": str(Path(sys.base_prefix) / "bin" / f"python{version}"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    for name, value in pins.items():
        os.environ.setdefault(name, value)
        # Copier runs its tasks with plumbum's copy of the environment, taken when plumbum was
        # first imported (by the pytest-copie plugin, before any conftest): update it too.
        if name not in plumbum.local.env:
            plumbum.local.env[name] = os.environ[name]


def tool_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for generated projects' tools: ours, minus the active virtualenv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return env | dict(extra or {})


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        list(command),
        cwd=cwd,
        env=tool_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise CommandFailedError(
            f"`{' '.join(command)}` failed with {completed.returncode} in {cwd}\n"
            f"--- stdout ---\n{completed.stdout[-20000:]}\n"
            f"--- stderr ---\n{completed.stderr[-8000:]}"
        )
    return completed


def uv_run(
    project: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return run([uv_executable(), "run", "--locked", *args], cwd=project, env=env, timeout=timeout)
