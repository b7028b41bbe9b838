"""Every distribution the chassis's source imports is one it declares.

Services resolve the chassis from its declared floors; a distribution it imports but reaches
only through another (Starlette through FastAPI, h11 through uvicorn) has no floor of its own,
so the chassis at its lowest versions (scripts/chassis_lowest_versions.py) never tests it.

deptry does not fit: it names a namespace package's distributions by the top-level name, so
any `opentelemetry-*` declared hides another imported but not declared, and it skips imports
under TYPE_CHECKING. Here Python's own parser finds the imports (top-level, lazy, typing-only)
and the installed distributions' file lists (their RECORD) say which one provides each module.
A module no distribution installed is reported too, so a lookup that finds nothing fails.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.machinery import all_suffixes
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import goldenpath_chassis

pytestmark = pytest.mark.unit

CHASSIS = Path(__file__).resolve().parents[2]
SOURCE = Path(goldenpath_chassis.__file__).parent
# The helpers for a service's test suite; only they may use the `testing` extra.
TESTING_HELPERS = SOURCE / "testing"


def imports(path: Path) -> Iterator[tuple[str, ...]]:
    """Each absolute import of a file, as the modules it may name, most specific first:
    `from a import b` names the module a.b (in a namespace package, maybe another
    distribution's than a's) or a name in a."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name,) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield from ((f"{node.module}.{alias.name}", node.module) for alias in node.names)


@cache
def installed_files() -> dict[str, str]:
    """Each installed file, as its path in site-packages, to the distribution that installed it."""
    owners: dict[str, str] = {}
    for distribution in distributions():
        name = distribution.name
        owners.update((file.as_posix(), name) for file in distribution.files or ())
    return owners


def providing_distribution(module: str) -> str | None:
    """The distribution that installed the module's file (its package's `__init__`), if any."""
    base = module.replace(".", "/")
    for stem in (f"{base}/__init__", base):
        for suffix in all_suffixes():
            owner = installed_files().get(stem + suffix)
            if owner is not None:
                return canonicalize_name(owner)
    return None


def imported_distributions(path: Path) -> set[str]:
    """The distributions a file imports from; a module none installed is named as it is."""
    found = set()
    for candidates in imports(path):
        top_level = candidates[-1].partition(".")[0]
        if top_level in sys.stdlib_module_names or top_level == goldenpath_chassis.__name__:
            continue
        owners = (providing_distribution(module) for module in candidates)
        found.add(next((owner for owner in owners if owner is not None), candidates[-1]))
    return found


def declared_for(path: Path) -> set[str]:
    """What `[project]` declares for a module: its dependencies and extras. The postgresql and
    aws extras are drivers the core imports lazily, so they count everywhere; the testing
    extra only for the helpers it exists for."""
    project = tomllib.loads((CHASSIS / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra, group in project["optional-dependencies"].items():
        if extra != "testing" or path.is_relative_to(TESTING_HELPERS):
            requirements += group
    return {canonicalize_name(Requirement(line).name) for line in requirements}


def test_the_source_declares_every_distribution_it_imports() -> None:
    undeclared: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for distribution in sorted(imported_distributions(path) - declared_for(path)):
            undeclared.setdefault(distribution, []).append(str(path.relative_to(SOURCE)))
    assert undeclared == {}, "imported but not declared in chassis/pyproject.toml:\n" + "\n".join(
        f"{distribution}: {', '.join(paths)}" for distribution, paths in sorted(undeclared.items())
    )
