"""TPL-1: a few clear questions; derived names follow from the project name; bad answers are
refused with a specific message before anything is written."""

from __future__ import annotations

from typing import Any

import pytest


def test_tpl1_names_are_derived_from_the_project_name(copie: Any) -> None:
    result = copie.copy(extra_answers={"project_name": "Acme  Orders & Co!"})
    assert result.exit_code == 0, result.exception
    assert result.answers["project_slug"] == "acme-orders-co"
    assert result.answers["package_name"] == "acme_orders_co"
    assert result.answers["database"] == "postgresql"
    assert (result.project_dir / "src" / "acme_orders_co" / "app.py").is_file()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "   "}, "must not be empty"),
        ({"project_name": "Acme", "project_slug": "Acme_Orders"}, "must be kebab-case"),
        ({"project_name": "Acme", "project_slug": "orders-"}, "must be kebab-case"),
        ({"project_name": "Acme", "package_name": "1acme"}, "lowercase Python identifier"),
        ({"project_name": "Acme", "package_name": "acme-orders"}, "lowercase Python identifier"),
        ({"project_name": "Acme", "package_name": "logging"}, "standard-library module"),
        ({"project_name": "Acme", "author_email": "not-an-address"}, "not an e-mail address"),
        ({"project_name": "Acme", "repository_owner": "-bad-"}, "not a valid GitHub"),
        ({"project_name": "Acme", "database": "mysql"}, "mysql"),
    ],
)
def test_tpl1_bad_answers_are_refused_and_nothing_is_written(
    copie: Any, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0
    assert message in str(result.exception)
    destination = copie.test_dir / f"copie{copie.counter - 1:03d}"
    assert not any(destination.iterdir())
