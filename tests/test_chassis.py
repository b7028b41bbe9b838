"""TPL-5: the chassis's own gates, once, in its own environment: format, lint, types and its
suite against real PostgreSQL, Redis and processes (chassis/tests)."""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.support.commands import REPOSITORY, run, uv_executable
from tests.support.releases import working_tree_version

CHASSIS = REPOSITORY / "chassis"


@pytest.fixture(scope="module")
def chassis() -> Path:
    run([uv_executable(), "sync", "--locked", "--quiet"], cwd=CHASSIS)
    return CHASSIS


def test_tpl5_chassis_ruff_format_leaves_no_diff(chassis: Path) -> None:
    run([uv_executable(), "run", "ruff", "format", "--check", "--diff"], cwd=chassis)


def test_tpl5_chassis_ruff_lint_is_clean(chassis: Path) -> None:
    run([uv_executable(), "run", "ruff", "check", "--output-format", "concise"], cwd=chassis)


def test_tpl5_chassis_mypy_strict_is_clean(chassis: Path) -> None:
    run([uv_executable(), "run", "mypy"], cwd=chassis)


@pytest.mark.slow
def test_tpl5_the_chassis_suite_passes(chassis: Path) -> None:
    started = time.monotonic()
    result = run(
        # Over every core (pytest-xdist): most of its time is processes and servers waiting.
        [uv_executable(), "run", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto"],
        cwd=chassis,
        timeout=1800,
    )
    print(result.stdout[-3000:])
    print(f"chassis suite: {time.monotonic() - started:.0f} s")


def test_tpl5_the_chassis_installs_and_imports_at_its_floors() -> None:
    """Services resolve the chassis's dependencies from its `>=` floors, not its lock: at uv's
    lowest-direct resolution each floor has a Python 3.13 wheel where services build and every
    chassis module imports. The whole suite at the floors is the script without
    `--imports-only`, run before a release (docs/chassis.md)."""
    result = run(
        [sys.executable, "scripts/chassis_lowest_versions.py", "--imports-only"],
        cwd=REPOSITORY,
        env={"UV": uv_executable()},
        timeout=600,
    )
    assert "every chassis module imports" in result.stdout


def test_tpl5_one_version_for_the_template_and_the_chassis() -> None:
    """The chassis and the tools (audit, update, fleet) are released with the template: one
    tag, one CHANGELOG, one version. An audit run from an untagged checkout takes its own
    version as the current release, which TPL-2 judges services against."""
    chassis = tomllib.loads((CHASSIS / "pyproject.toml").read_text())["project"]["version"]
    tools = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    assert tools == chassis
    copier_yml = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    assert copier_yml["chassis_version"]["default"] == chassis
    assert str(working_tree_version()) == chassis
