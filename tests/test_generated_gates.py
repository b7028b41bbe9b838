"""TPL-3: every generated project passes its own gates: format, lint, types and tests."""

from __future__ import annotations

import pytest

from tests.support.commands import uv_run
from tests.support.projects import GeneratedProject


def test_tpl3_ruff_format_leaves_no_diff(synced_project: GeneratedProject) -> None:
    uv_run(synced_project.path, "ruff", "format", "--check", "--diff")


def test_tpl3_ruff_lint_is_clean(synced_project: GeneratedProject) -> None:
    uv_run(synced_project.path, "ruff", "check", "--output-format", "concise")


def test_tpl3_mypy_strict_is_clean(synced_project: GeneratedProject) -> None:
    uv_run(synced_project.path, "mypy")


@pytest.mark.slow
def test_tpl3_the_projects_own_test_suite_passes(synced_project: GeneratedProject) -> None:
    result = uv_run(synced_project.path, "pytest", "-q", "-p", "no:cacheprovider")
    print(result.stdout[-3000:])
