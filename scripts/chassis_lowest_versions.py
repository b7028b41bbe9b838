"""Run the chassis at the lowest versions its `>=` floors allow.

Services resolve the chassis's dependencies from the floors in `chassis/pyproject.toml`, so a
floor below the release that added what the chassis uses breaks a service that happens to
resolve low. This resolves the chassis with uv's `lowest-direct` (each declared dependency at
its floor, the rest at their newest), checks that every floor has a wheel for Python 3.13 on the
platforms services build on, installs it into a virtualenv of its own (the chassis's `.venv`
and `uv.lock` are left alone), imports every chassis module and runs the chassis's suite:

    uv run python scripts/chassis_lowest_versions.py                  # the whole suite
    uv run python scripts/chassis_lowest_versions.py --imports-only   # resolve, install, import
    uv run python scripts/chassis_lowest_versions.py -- -m unit -x    # arguments for pytest

Standard library only. Exit status: 0 when all of it passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CHASSIS = REPOSITORY / "chassis"
PYTHON_VERSION = "3.13"
# Where services build and run: CI and images on Linux (both architectures), laptops on macOS.
WHEEL_PLATFORMS = ("x86_64-manylinux_2_28", "aarch64-manylinux_2_28", "aarch64-apple-darwin")
# Imports every module of the package; prints the ones that fail and exits 1.
IMPORT_ALL = """
import importlib, pkgutil, sys
import goldenpath_chassis
failed = []
for module in pkgutil.walk_packages(goldenpath_chassis.__path__, "goldenpath_chassis."):
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{module.name}: {error!r}")
print("\\n".join(failed) or "every chassis module imports")
sys.exit(1 if failed else 0)
"""


def dev_requirements() -> list[str]:
    """The chassis's dev group without its reference to itself, which `uv pip` cannot read."""
    project = tomllib.loads((CHASSIS / "pyproject.toml").read_text())
    group: list[str] = project["dependency-groups"]["dev"]
    return [requirement for requirement in group if not requirement.startswith("goldenpath-")]


def compile_lowest(
    uv: str, workdir: Path, *, platform: str | None = None, dev: bool = False
) -> tuple[Path, dict[str, str]]:
    """Resolve the chassis with every extra (and its dev group for the suite) lowest-direct:
    the requirements file and its pins, name -> version.

    With a platform only wheels count, so a floor with no wheel there resolves higher."""
    output = workdir / f"lowest-{platform or 'here'}{'-dev' if dev else ''}.txt"
    command = [
        uv, "pip", "compile", "--quiet", "pyproject.toml", "--all-extras",
        "--resolution", "lowest-direct", "--python-version", PYTHON_VERSION,
        "--no-header", "--no-annotate", "--output-file", str(output),
    ]  # fmt: skip
    if dev:
        requirements = workdir / "dev.in"
        requirements.write_text("\n".join(dev_requirements()) + "\n")
        command.append(str(requirements))
    if platform is not None:
        command += ["--python-platform", platform, "--only-binary", ":all:"]
    # A fresh output file each time: uv takes an existing one's pins as preferences.
    output.unlink(missing_ok=True)
    subprocess.run(command, cwd=CHASSIS, check=True)
    pins = {}
    for line in output.read_text().splitlines():
        name, separator, version = line.partition("==")
        if separator:
            pins[name.strip()] = version.split(";")[0].strip()
    return output, pins


def floors_without_wheels(uv: str, workdir: Path, lowest: dict[str, str]) -> list[str]:
    """Where a platform's wheels-only resolution differs from the plain one: a floor that
    services there would have to build from source (or could not)."""
    problems = []
    for platform in WHEEL_PLATFORMS:
        _, wheels_only = compile_lowest(uv, workdir, platform=platform)
        for name, version in sorted(lowest.items()):
            if wheels_only.get(name, version) != version:
                problems.append(
                    f"{name}=={version} has no Python {PYTHON_VERSION} wheel for {platform} "
                    f"(the lowest with one: {wheels_only[name]})"
                )
    return problems


def install(uv: str, environment: Path, requirements: Path) -> Path:
    subprocess.run(
        [uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(environment)], check=True
    )
    python = environment / "bin" / "python"
    subprocess.run(
        [uv, "pip", "sync", "--quiet", "--python", str(python), "--only-binary", ":all:",
         str(requirements)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", "-e", str(CHASSIS)],
        check=True,
    )
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports-only", action="store_true", help="skip the test suite")
    parser.add_argument(
        "--env", type=Path, help="the virtualenv to (re)create; a temporary one by default"
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    arguments = parser.parse_args(argv)
    uv = os.environ.get("UV", "uv")

    with tempfile.TemporaryDirectory(prefix="chassis-lowest-") as tmp:
        workdir = Path(tmp)
        requirements, lowest = compile_lowest(uv, workdir)
        print("lowest-direct:", ", ".join(f"{name}=={lowest[name]}" for name in sorted(lowest)))
        problems = floors_without_wheels(uv, workdir, lowest)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        if not arguments.imports_only:
            # The suite needs the dev group too (pytest-asyncio, moto, ...), at its floors.
            requirements, _ = compile_lowest(uv, workdir, dev=True)
        python = install(uv, arguments.env or workdir / "venv", requirements)
        if subprocess.run([str(python), "-c", IMPORT_ALL], cwd=workdir, check=False).returncode:
            return 1
        if arguments.imports_only:
            return 0
        pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        return subprocess.run(
            [*pytest, *arguments.pytest_args], cwd=CHASSIS, check=False
        ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
