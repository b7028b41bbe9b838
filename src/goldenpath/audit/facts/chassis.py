"""The chassis a service depends on, read as part of the service (TPL-5).

A service built on goldenpath-chassis owns its wiring and domains; the standards themselves
live in the chassis. The audit reads the chassis's code as if it were in the repository, under
`goldenpath-chassis/`, with its runtime dependencies as `goldenpath-chassis/requirements.txt`,
so a check finds the rate limiter or the breakers wherever they are. Which chassis: the one the
service has installed (`.venv`), else the wheel it builds from (`.chassis/`), else the one that
ships with this audit (the same release); the report says which.
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from .files import MAX_FILE_BYTES

DISTRIBUTION = "goldenpath-chassis"
PACKAGE = "goldenpath_chassis"
OVERLAY = "goldenpath-chassis"
# What a chassis wheel may inflate to, whole: its sources are well under a megabyte.
MAX_WHEEL_BYTES = 10 * MAX_FILE_BYTES
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_DEPENDS = re.compile(r"goldenpath[-_]chassis\s*(\[(?P<extras>[^\]]*)\])?", re.IGNORECASE)


@dataclass(frozen=True)
class ChassisSource:
    files: Mapping[str, str]  # overlay path -> text
    origin: str
    version: str | None


def requested_extras(pyproject: Mapping[str, object]) -> frozenset[str]:
    """The extras the service asks of the chassis (`goldenpath-chassis[postgresql]`)."""
    project = pyproject.get("project")
    dependencies = project.get("dependencies", []) if isinstance(project, dict) else []
    for spec in dependencies if isinstance(dependencies, list) else []:
        found = _DEPENDS.match(str(spec))
        if found:
            extras = found["extras"] or ""
            return frozenset(e.strip() for e in extras.split(",") if e.strip())
    return frozenset()


def depends_on_chassis(pyproject: Mapping[str, object]) -> bool:
    project = pyproject.get("project")
    dependencies = project.get("dependencies", []) if isinstance(project, dict) else []
    return any(_DEPENDS.match(str(spec)) for spec in dependencies or [])


def _runtime_requirements(requirements: Iterable[str], extras: frozenset[str]) -> str:
    """Requirement lines the service really gets: unconditional ones and its extras'."""
    lines = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        extra = _EXTRA_MARKER.search(marker)
        if extra is None or extra.group(1) in extras:
            lines.append(spec.strip())
    return "\n".join(lines) + "\n"


def _from_metadata(metadata: str, extras: frozenset[str]) -> tuple[str | None, str]:
    headers = HeaderParser().parsestr(metadata)
    return headers.get("Version"), _runtime_requirements(
        headers.get_all("Requires-Dist") or [], extras
    )


def _sources_under(folder: Path) -> dict[str, str]:
    return {
        f"{OVERLAY}/src/{PACKAGE}/{path.relative_to(folder).as_posix()}": path.read_text(
            encoding="utf-8", errors="replace"
        )
        for path in sorted(folder.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _installed(root: Path, extras: frozenset[str]) -> ChassisSource | None:
    for site in sorted(root.glob(".venv/lib/python3*/site-packages")):
        package = site / PACKAGE
        infos = sorted(site.glob("goldenpath_chassis-*.dist-info"))
        if package.is_dir() and infos:
            version, requirements = _from_metadata((infos[-1] / "METADATA").read_text(), extras)
            files = _sources_under(package)
            files[f"{OVERLAY}/requirements.txt"] = requirements
            return ChassisSource(files, "installed in .venv", version)
    return None


def _wheel(root: Path, extras: frozenset[str]) -> ChassisSource | None:
    """The chassis in the wheel the service builds from; None when it has none, or one this
    audit will not unpack: a link out of the repository, or more to inflate than any chassis
    holds (a few kilobytes of zip can inflate to gigabytes)."""
    wheels = sorted(root.glob(".chassis/goldenpath_chassis-*.whl"))
    if not wheels or not wheels[-1].resolve().is_relative_to(root.resolve()):
        return None
    files: dict[str, str] = {}
    version = None
    with zipfile.ZipFile(wheels[-1]) as wheel:
        if sum(info.file_size for info in wheel.infolist()) > MAX_WHEEL_BYTES:
            return None
        for name in wheel.namelist():
            if name.startswith(f"{PACKAGE}/") and name.endswith(".py"):
                files[f"{OVERLAY}/src/{name}"] = wheel.read(name).decode("utf-8", "replace")
            elif PurePosixPath(name).name == "METADATA" and ".dist-info/" in name:
                version, requirements = _from_metadata(wheel.read(name).decode(), extras)
                files[f"{OVERLAY}/requirements.txt"] = requirements
    return ChassisSource(files, f"the wheel {wheels[-1].relative_to(root)}", version)


def bundled_chassis() -> Path | None:
    """The chassis of this audit's own release: in a checkout, beside the audit's package."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[4] / "chassis", here.parents[2] / "_chassis"):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return None


def _bundled(extras: frozenset[str]) -> ChassisSource | None:
    chassis = bundled_chassis()
    if chassis is None:
        return None
    project = tomllib.loads((chassis / "pyproject.toml").read_text()).get("project", {})
    requirements = [str(spec) for spec in project.get("dependencies", [])]
    for extra, specs in project.get("optional-dependencies", {}).items():
        requirements.extend(f'{spec}; extra == "{extra}"' for spec in specs)
    files = _sources_under(chassis / "src" / PACKAGE)
    files[f"{OVERLAY}/requirements.txt"] = _runtime_requirements(requirements, extras)
    return ChassisSource(files, "the audit's own release", project.get("version"))


def find_chassis(root: Path, pyproject: Mapping[str, object]) -> ChassisSource | None:
    """The chassis the service at `root` depends on, or None when it depends on none."""
    if not depends_on_chassis(pyproject):
        return None
    extras = requested_extras(pyproject)
    return _installed(root, extras) or _wheel(root, extras) or _bundled(extras)
