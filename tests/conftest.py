"""Session fixtures: each answer set is generated and synced once, then shared by the tests.

Which project a test runs against says which gates it is:
- `project` / `synced_project`: a per-combination gate, run for every answer set in the matrix
  (tests/support/projects.py: VARIANTS);
- `default_project`: a slow gate (the image), run for the all-defaults project only; mark it
  `@pytest.mark.slow` and with its gate's marker (`image`: see SLOW_GATE_MARKERS in
  tests/support/selection.py); a service's contract and load tests run in its own suite;
- neither: a test of the template itself (questions, hooks, workflows, docs).

`--variant NAME` (repeatable; tests/support/selection.py) keeps only the tests of those
combinations, `--variant template` only the tests of the template itself. The template's CI runs
one job per combination this way; without the option everything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import pin_python_for_generated_projects
from tests.support.projects import (
    DEFAULTS_VARIANT,
    VARIANTS,
    GeneratedProject,
    generate,
    recorded_answers,
)
from tests.support.servers import PostgresServer, RedisServer

ProjectFactory = Callable[[str], GeneratedProject]


@pytest.fixture(autouse=True)
def private_fleet_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`goldenpath fleet` keeps outcomes in the user's cache folder: each test gets an empty one,
    so no test reuses another's (or an earlier run's) outcome, and the user's stays untouched."""
    monkeypatch.setenv("GOLDENPATH_CACHE_DIR", str(tmp_path_factory.mktemp("fleet-cache")))


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ProjectFactory:
    cache: dict[str, GeneratedProject] = {}

    def get(variant: str) -> GeneratedProject:
        if variant not in cache:
            destination = tmp_path_factory.mktemp(f"generated-{variant}") / "project"
            generate(destination, VARIANTS[variant])
            cache[variant] = GeneratedProject(destination, recorded_answers(destination))
        return cache[variant]

    return get


@pytest.fixture(scope="session", params=list(VARIANTS))
def variant_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def project(generated: ProjectFactory, variant_name: str) -> GeneratedProject:
    return generated(variant_name)


@pytest.fixture(scope="session")
def synced_project(project: GeneratedProject) -> GeneratedProject:
    project.sync()
    return project


@pytest.fixture(scope="session")
def default_project(generated: ProjectFactory) -> GeneratedProject:
    project = generated(DEFAULTS_VARIANT)
    project.sync()
    return project


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL 15+ server from the local binaries, shared by the session."""
    server = PostgresServer.create()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis() -> Iterator[Any]:
    """A Redis server from the local binaries, shared by the session."""
    server = RedisServer.create()
    server.start()
    yield server
    server.destroy()


def pytest_configure(config: pytest.Config) -> None:
    pin_python_for_generated_projects()


def pytest_report_header() -> list[str]:
    return [f"template: {Path(__file__).resolve().parents[1]}", f"variants: {list(VARIANTS)}"]
