"""Generate projects from this template, once per answer set per test session."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copier import run_copy

from .commands import REPOSITORY, run, uv_executable

# The answer sets every test run covers. The defaults switch every standard on.
DEFAULTS: dict[str, Any] = {"project_name": "Acme Orders"}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": DEFAULTS,
    "sqlite": DEFAULTS | {"project_name": "Tiny Ledger", "database": "sqlite"},
}


@dataclass
class GeneratedProject:
    path: Path
    answers: dict[str, Any]
    synced: bool = field(default=False)

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])

    def sync(self) -> None:
        if not self.synced:
            run([uv_executable(), "sync", "--locked", "--quiet"], cwd=self.path)
            self.synced = True


def generate(destination: Path, answers: dict[str, Any], *, vcs_ref: str = "HEAD") -> Path:
    """Run `copier copy` like a user would (`--trust --defaults`), tasks included."""
    run_copy(
        str(REPOSITORY),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return destination


def recorded_answers(project: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415 - only needed here

    loaded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def describe(answers: dict[str, Any]) -> str:
    return json.dumps(answers, sort_keys=True)
