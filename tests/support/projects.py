"""The answer matrix (the one place that lists it), and generating projects from it.

The matrix is computed from `copier.yml`, so a new choice question is covered without editing
the tests: every question with `choices` (or of `type: bool`) that users are asked is a
parameter, and allpairspy picks a small set of answer sets in which every pair of values of any
two parameters occurs at least once. The all-defaults project is always in the matrix and is
the one that also runs the slow gates (image build and run, contract, load smoke): those tests
take the `default_project` fixture (see tests/conftest.py).

`uv run python -m tests.support.projects` prints the matrix; `--github-matrix` prints it as the
JSON that the template's CI fans out over (.github/workflows/template-ci.yml).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from allpairspy import AllPairs
from copier import run_copy

from .commands import REPOSITORY, run, uv_executable

COPIER_YML = REPOSITORY / "copier.yml"
DEFAULTS_VARIANT = "defaults"
DEFAULTS: dict[str, Any] = {"project_name": "Acme Orders"}
# Each non-default combination gets its own name, so names, slugs and packages vary too and a
# hard-coded "acme_orders" anywhere in the template fails some combination.
OTHER_PROJECT_NAMES = ("Tiny Ledger", "Beta Billing", "Zeta Stock", "Orbit Mail", "Kilo Maps")


@dataclass(frozen=True)
class ChoiceQuestion:
    name: str
    values: tuple[Any, ...]
    # The literal default; None when the default is computed (a Jinja expression).
    default: Any


def _choice_values(choices: object) -> tuple[Any, ...]:
    """The answer values of a `choices:` block, in any of the forms Copier accepts."""
    if isinstance(choices, str):
        raise ValueError(f"templated choices are not supported by the test matrix: {choices!r}")
    if isinstance(choices, Mapping):
        items = list(choices.values())
    elif isinstance(choices, list):
        items = choices
    else:
        raise ValueError(f"unsupported choices: {choices!r}")
    values: list[Any] = []
    for item in items:
        if isinstance(item, Mapping):  # {value: ..., validator: ...}
            values.append(item["value"])
        elif isinstance(item, list) and len(item) == 2:  # [label, value]
            values.append(item[1])
        else:
            values.append(item)
    return tuple(values)


def choice_questions(config: Mapping[str, Any] | None = None) -> list[ChoiceQuestion]:
    """The questions users are asked whose answers select something: choices and booleans."""
    if config is None:
        config = yaml.safe_load(COPIER_YML.read_text())
    questions = []
    for name, spec in config.items():
        if name.startswith("_") or not isinstance(spec, Mapping) or spec.get("when") is False:
            continue
        if spec.get("multiselect"):
            raise ValueError(f"{name}: extend tests/support/projects.py for multiselect questions")
        if "choices" in spec:
            values = _choice_values(spec["choices"])
        elif spec.get("type") == "bool":
            values = (True, False)
        else:
            continue
        default = spec.get("default")
        literal_default = None if isinstance(default, str) and "{{" in default else default
        questions.append(ChoiceQuestion(name, values, literal_default))
    return questions


def pairwise_answer_sets(questions: Sequence[ChoiceQuestion]) -> list[dict[str, Any]]:
    """A small set of answer sets covering every pair of values of any two questions.

    The all-defaults row is seeded as already tested, so rows only cover the pairs it misses.
    """
    if not questions:
        return []
    names = [question.name for question in questions]
    if len(questions) == 1:  # allpairspy needs two parameters; one is covered by its values
        return [{names[0]: value} for value in questions[0].values]
    defaults = [question.default for question in questions]
    seed = [defaults] if all(value is not None for value in defaults) else None
    rows = AllPairs([list(question.values) for question in questions], previously_tested=seed)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _variant_name(answers: Mapping[str, Any], questions: Sequence[ChoiceQuestion]) -> str:
    defaults = {question.name: question.default for question in questions}
    parts = []
    for name, value in answers.items():
        if value == defaults.get(name):
            continue
        if isinstance(value, bool):
            label = name.replace("_", "-")
            parts.append(label if value else f"no-{label}")
        else:
            parts.append(str(value))
    return "+".join(parts) or "explicit-defaults"


def _project_names() -> Iterator[str]:
    """Distinct project names: the list, then the list again with a number, and so on."""
    for round_ in itertools.count(1):
        for name in OTHER_PROJECT_NAMES:
            yield name if round_ == 1 else f"{name} {round_}"


def build_variants(questions: Sequence[ChoiceQuestion]) -> dict[str, dict[str, Any]]:
    """`defaults` first, then each pairwise row that is not the all-defaults project."""
    variants: dict[str, dict[str, Any]] = {DEFAULTS_VARIANT: dict(DEFAULTS)}
    defaults = {question.name: question.default for question in questions}
    names = _project_names()
    for answers in pairwise_answer_sets(questions):
        if answers == defaults:
            continue
        name = _variant_name(answers, questions)
        if name in variants:
            raise ValueError(f"two answer sets are both named {name!r}; rename a choice value")
        variants[name] = {"project_name": next(names), **answers}
    return variants


QUESTIONS = choice_questions()
# The matrix every test run covers: name -> answers (unanswered questions take their defaults).
VARIANTS: dict[str, dict[str, Any]] = build_variants(QUESTIONS)


# What must and must not be in a generated project ---------------------------------------------
@dataclass(frozen=True)
class ConditionalFile:
    """A file whose NAME is conditional in the template (`{% if x %}name{% endif %}`).

    `source` is its path under template/ as written; `rendered` is where it lands when present
    (`{package}` stands for the package folder); `present_when` says for which answers it must
    exist. tests/test_generation.py checks every combination against these, and fails when a
    conditional name in template/ has no entry here.
    """

    source: str
    rendered: str
    present_when: Callable[[Mapping[str, Any]], bool] = field(repr=False)


def _uses_postgresql(answers: Mapping[str, Any]) -> bool:
    return bool(answers.get("database", "postgresql") == "postgresql")


def _uses_sqlite(answers: Mapping[str, Any]) -> bool:
    return not _uses_postgresql(answers)


_K8S_BASE = "deploy/k8s/base/"
CONDITIONAL_FILES: tuple[ConditionalFile, ...] = (
    # PostgreSQL services scale out: an autoscaler, a migration Job, a worker Deployment and its
    # disruption budget.
    # SQLite services run one pod on a volume, with migrations and the worker inside it.
    ConditionalFile(
        _K8S_BASE + "{% if uses_postgresql %}horizontalpodautoscaler.yaml{% endif %}.jinja",
        _K8S_BASE + "horizontalpodautoscaler.yaml",
        _uses_postgresql,
    ),
    ConditionalFile(
        _K8S_BASE + "{% if uses_postgresql %}migration-job.yaml{% endif %}.jinja",
        _K8S_BASE + "migration-job.yaml",
        _uses_postgresql,
    ),
    ConditionalFile(
        _K8S_BASE + "{% if uses_postgresql %}worker-deployment.yaml{% endif %}.jinja",
        _K8S_BASE + "worker-deployment.yaml",
        _uses_postgresql,
    ),
    ConditionalFile(
        _K8S_BASE + "{% if uses_postgresql %}worker-poddisruptionbudget.yaml{% endif %}.jinja",
        _K8S_BASE + "worker-poddisruptionbudget.yaml",
        _uses_postgresql,
    ),
    ConditionalFile(
        _K8S_BASE + "{% if not uses_postgresql %}persistentvolumeclaim.yaml{% endif %}.jinja",
        _K8S_BASE + "persistentvolumeclaim.yaml",
        _uses_sqlite,
    ),
)

# Never in a generated project, whatever the answers: template machinery, update debris.
FORBIDDEN_GLOBS = ("**/*.jinja", "**/*.rej", "**/*.orig", "copier.y*ml", "hooks/**", "**/.DS_Store")


# Generating ------------------------------------------------------------------------------------
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


def generate(
    destination: Path,
    answers: dict[str, Any],
    *,
    template: Path = REPOSITORY,
    vcs_ref: str = "HEAD",
) -> Path:
    """Run `copier copy` like a user would (`--trust --defaults`), tasks included."""
    run_copy(
        str(template),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return destination


def synced_defaults(destination: Path) -> Path:
    """The all-defaults project at `destination`, its environment synced from the lock: what a
    benchmark measures when it is given no `--project`."""
    generate(destination, DEFAULTS)
    run([uv_executable(), "sync", "--locked", "--quiet"], cwd=destination)
    return destination


def recorded_answers(project: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def describe(answers: dict[str, Any]) -> str:
    return json.dumps(answers, sort_keys=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the answer matrix the tests generate.")
    parser.add_argument("--github-matrix", action="store_true", help="JSON for a CI matrix")
    args = parser.parse_args(argv)
    if args.github_matrix:
        print(json.dumps({"variant": list(VARIANTS)}))
        return 0
    for name, answers in VARIANTS.items():
        print(f"{name:<28} {describe(answers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
