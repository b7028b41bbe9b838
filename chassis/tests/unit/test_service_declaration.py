"""ARCH-1: a `Service` declaration is checked when it is made, naming every problem at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.example.service import SERVICE

pytestmark = pytest.mark.unit


def test_arch1_a_bad_declaration_names_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid Service declaration") as refused:
        dataclasses.replace(
            SERVICE,
            title=" ",
            package="not a module",
            api_version="v1",
            migrations=tmp_path / "missing",
        )
    message = str(refused.value)
    for field in ("title:", "package:", "api_version:", "migrations:"):
        assert field in message


def test_arch1_the_examples_declaration_is_valid() -> None:
    assert dataclasses.replace(SERVICE, title="Another title").title == "Another title"
