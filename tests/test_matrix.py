"""TPL-3: the answer matrix is read from copier.yml and covers every pair of choices."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from tests.support.commands import REPOSITORY
from tests.support.projects import (
    DEFAULTS_VARIANT,
    VARIANTS,
    ChoiceQuestion,
    build_variants,
    choice_questions,
)


def resolved(answers: Mapping[str, Any], questions: Sequence[ChoiceQuestion]) -> dict[str, Any]:
    """The choice answers a variant ends up with, defaults filled in."""
    return {question.name: answers.get(question.name, question.default) for question in questions}


def uncovered_pairs(
    variants: Mapping[str, Mapping[str, Any]], questions: Sequence[ChoiceQuestion]
) -> list[tuple[tuple[str, Any], tuple[str, Any]]]:
    rows = [resolved(answers, questions) for answers in variants.values()]
    missing = []
    for first, second in itertools.combinations(questions, 2):
        for a, b in itertools.product(first.values, second.values):
            if not any(row[first.name] == a and row[second.name] == b for row in rows):
                missing.append(((first.name, a), (second.name, b)))
    return missing


def test_tpl3_every_choice_question_of_copier_yml_is_a_matrix_parameter() -> None:
    config = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    asked_choices = {
        name
        for name, spec in config.items()
        if isinstance(spec, dict)
        and spec.get("when") is not False
        and ("choices" in spec or spec.get("type") == "bool")
    }
    assert {question.name for question in choice_questions()} == asked_choices
    assert "database" in asked_choices


def test_tpl3_the_matrix_has_every_value_and_the_defaults_first() -> None:
    questions = choice_questions()
    assert next(iter(VARIANTS)) == DEFAULTS_VARIANT
    rows = [resolved(answers, questions) for answers in VARIANTS.values()]
    for question in questions:
        assert {row[question.name] for row in rows} == set(question.values), question.name
    assert not uncovered_pairs(VARIANTS, questions)
    names = [answers["project_name"] for answers in VARIANTS.values()]
    assert len(set(names)) == len(names), "each combination needs its own project name"


def test_tpl3_new_boolean_questions_join_the_matrix_pairwise() -> None:
    """Adding booleans grows the matrix by pairs, not by the full product."""
    config = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    for name in ("rate_limiting", "tracing", "job_queue", "auth", "metrics", "cache", "csrf"):
        config[name] = {"type": "bool", "default": True, "help": name}
    config["computed_flag"] = {"type": "bool", "when": False, "default": True}
    questions = choice_questions(config)
    assert {"rate_limiting", "tracing", "job_queue", "auth", "csrf"} <= {q.name for q in questions}
    assert "computed_flag" not in {q.name for q in questions}
    variants = build_variants(questions)
    assert not uncovered_pairs(variants, questions)
    full_product = 1
    for question in questions:
        full_product *= len(question.values)
    assert len(variants) <= 8 < full_product
    assert variants[DEFAULTS_VARIANT] == {"project_name": "Acme Orders"}
    names = [answers["project_name"] for answers in variants.values()]
    assert len(set(names)) == len(names)
    assert all(name == DEFAULTS_VARIANT or "no-" in name or "sqlite" in name for name in variants)
