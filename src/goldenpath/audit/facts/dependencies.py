"""The service's declared dependencies, from whichever files it uses to declare them.

Every pyproject.toml (PEP 621, dependency groups, Poetry), requirements file, Pipfile and
setup.py `install_requires` list in the tree declares, not only the root's: a monorepo keeps
its service's in `backend/pyproject.toml`, and auditing the repository or the folder must
agree. Test fixtures are not the service's. uv.lock and poetry.lock pin the whole tree.
Checks ask for a distribution by its normalised name (`prometheus-client`) and get back where
it is declared, so a report can say "pyproject.toml: prometheus-client>=0.21".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from goldenpath.audit.model import Evidence

from .files import Repository
from .grammar import parse_quietly

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_DEV_HINTS = ("dev", "test", "lint", "doc", "ci", "typing")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Declared:
    name: str  # normalised
    spec: str  # as written
    path: str
    line: int | None
    dev: bool  # a development/test dependency, not shipped with the service

    def evidence(self) -> Evidence:
        return Evidence(self.path, self.line, self.spec)


def _name_of(spec: str) -> str | None:
    found = _NAME.match(spec)
    return normalise(found.group(1)) if found else None


class Dependencies:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    @cached_property
    def declared(self) -> tuple[Declared, ...]:
        found: list[Declared] = []
        for path in self._repository.files:
            name = PurePosixPath(path).name
            if Repository.is_test_path(path) and not path.startswith("goldenpath-chassis/"):
                continue
            if name == "pyproject.toml":
                found.extend(self._from_pyproject(path))
            elif (name.endswith((".txt", ".in")) and name.startswith("requirements")) or (
                "requirements/" in path and name.endswith((".txt", ".in"))
            ):
                found.extend(self._from_requirements(path))
            elif name == "Pipfile":
                found.extend(self._from_pipfile(path))
            elif name == "setup.py":
                found.extend(self._from_setup(path))
        return tuple(found)

    @cached_property
    def locked(self) -> frozenset[str]:
        """Every distribution a lock file pins (the whole tree, transitive ones included)."""
        names: set[str] = set()
        for lock in ("uv.lock", "poetry.lock", "pdm.lock"):
            data = self._repository.toml(lock)
            packages = data.get("package", [])
            if isinstance(packages, list):
                names.update(normalise(str(p.get("name", ""))) for p in packages if p)
        return frozenset(names)

    def find(self, *names: str, runtime_only: bool = False) -> list[Declared]:
        """Declarations of any of `names` (normalised), runtime ones first."""
        wanted = {normalise(name) for name in names}
        hits = [d for d in self.declared if d.name in wanted and not (runtime_only and d.dev)]
        return sorted(hits, key=lambda d: d.dev)

    def has(self, *names: str, runtime_only: bool = False) -> bool:
        return bool(self.find(*names, runtime_only=runtime_only))

    def names(self, *, runtime_only: bool = False) -> frozenset[str]:
        return frozenset(d.name for d in self.declared if not (runtime_only and d.dev))

    # --- readers -----------------------------------------------------------------------------
    def _located(self, path: str, specs: Iterable[str], *, dev: bool) -> Iterator[Declared]:
        text = self._repository.text(path) or ""
        for spec in specs:
            name = _name_of(spec)
            if name:
                line = Repository.line_of(text, f'"{spec}') or Repository.line_of(text, spec)
                yield Declared(name, spec, path, line, dev)

    def _from_pyproject(self, path: str) -> Iterator[Declared]:
        data = self._repository.toml(path)
        project = data.get("project", {})
        yield from self._located(path, _strings(project.get("dependencies")), dev=False)
        for extra, specs in _mapping(project.get("optional-dependencies")).items():
            is_dev = any(hint in extra.lower() for hint in _DEV_HINTS)
            yield from self._located(path, _strings(specs), dev=is_dev)
        for group, specs in _mapping(data.get("dependency-groups")).items():
            yield from self._located(path, _strings(specs), dev=True)
            del group
        tool = _mapping(data.get("tool"))
        poetry = _mapping(tool.get("poetry"))
        yield from self._from_poetry_table(path, _mapping(poetry.get("dependencies")), dev=False)
        yield from self._from_poetry_table(path, _mapping(poetry.get("dev-dependencies")), dev=True)
        for group in _mapping(poetry.get("group")).values():
            yield from self._from_poetry_table(
                path, _mapping(_mapping(group).get("dependencies")), dev=True
            )
        for specs in _mapping(_mapping(tool.get("pdm")).get("dev-dependencies")).values():
            yield from self._located(path, _strings(specs), dev=True)

    def _from_poetry_table(
        self, path: str, table: Mapping[str, Any], *, dev: bool
    ) -> Iterator[Declared]:
        text = self._repository.text(path) or ""
        for name in table:
            if name.lower() == "python":
                continue
            line = Repository.line_of(text, f"\n{name} =")
            yield Declared(
                normalise(name),
                f"{name} = {table[name]!r}",
                path,
                None if line is None else line + 1,
                dev,
            )

    def _from_requirements(self, path: str) -> Iterator[Declared]:
        text = self._repository.text(path) or ""
        dev = any(hint in PurePosixPath(path).name.lower() for hint in _DEV_HINTS)
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith(("-", "git+", "http")):
                continue
            name = _name_of(line)
            if name:
                yield Declared(name, line, path, number, dev)

    def _from_setup(self, path: str) -> Iterator[Declared]:
        """`install_requires=[...]` and `extras_require={...}` when written as literals."""
        text = self._repository.text(path) or ""
        try:
            tree = parse_quietly(text, path)
        except (SyntaxError, ValueError, RecursionError):
            return
        for call in ast.walk(tree):
            if not (
                isinstance(call, ast.Call)
                and getattr(call.func, "id", getattr(call.func, "attr", "")) == "setup"
            ):
                continue
            for item in call.keywords:
                if item.arg == "install_requires":
                    if isinstance(item.value, ast.List | ast.Tuple):
                        specs = [
                            e.value
                            for e in item.value.elts
                            if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        ]
                        yield from self._located(path, specs, dev=False)
                    else:
                        self._repository.unread(
                            path,
                            "install_requires is computed when the package is built, not read "
                            "(requirements files are read on their own)",
                        )
                elif item.arg == "extras_require" and isinstance(item.value, ast.Dict):
                    for key, value in zip(item.value.keys, item.value.values, strict=True):
                        extra = key.value if isinstance(key, ast.Constant) else ""
                        if isinstance(value, ast.List | ast.Tuple):
                            specs = [
                                e.value
                                for e in value.elts
                                if isinstance(e, ast.Constant) and isinstance(e.value, str)
                            ]
                            is_dev = any(hint in str(extra).lower() for hint in _DEV_HINTS)
                            yield from self._located(path, specs, dev=is_dev)

    def _from_pipfile(self, path: str) -> Iterator[Declared]:
        data = self._repository.toml(path)
        yield from self._from_poetry_table(path, _mapping(data.get("packages")), dev=False)
        yield from self._from_poetry_table(path, _mapping(data.get("dev-packages")), dev=True)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
