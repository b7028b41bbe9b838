"""The YAML reader for files the tools do not control (goldenpath.bounded_yaml).

- Real files read exactly as `yaml.safe_load_all` reads them, anchors, aliases and merge keys
  included (the generated service's compose file has them), with a hundredfold margin under
  the node bound; a workflow written with anchors audits as the same workflow written out.
- Past a bound (the expanded size over all of a file's documents, an alias inside itself,
  nesting past MAX_YAML_DEPTH, the size) it is a YamlRefusedError, the update tools' error
  for a template's copier.yml too. The audit's refusal is in test_audit_reading.py.
- Every test here runs with each loader: libyaml's (the default when PyYAML has it) and the
  pure-Python one (the fallback), through the default every read uses; both read the same files
  the same way and refuse the same ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from goldenpath import bounded_yaml
from goldenpath.audit import Report, audit
from goldenpath.audit.facts import Facts
from goldenpath.bounded_yaml import (
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    Loader,
    NotYamlError,
    YamlRefusedError,
    default_loader,
    libyaml_reads_within_bounds,
    load_documents,
)
from goldenpath.migrations import migrations_run
from tests.support.commands import REPOSITORY
from tests.support.projects import GeneratedProject
from tests.support.samples import FLASK_SERVICE, write

LIBYAML = libyaml_reads_within_bounds(yaml.__with_libyaml__)


@pytest.fixture(
    autouse=True,
    params=[
        pytest.param("libyaml", marks=pytest.mark.skipif(not LIBYAML, reason="no libyaml")),
        "pure",
    ],
)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Loader:
    """The loader every read without one uses (the audit's too), for the test's length."""
    chosen: Loader = yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader
    monkeypatch.setattr(bounded_yaml, "DEFAULT_LOADER", chosen)
    return chosen


def test_libyaml_reads_when_pyyaml_has_it_and_the_pure_loader_otherwise() -> None:
    assert default_loader(False) is yaml.SafeLoader
    if yaml.__with_libyaml__:
        assert default_loader(True) is yaml.CSafeLoader


def test_real_yaml_reads_as_safe_load_all_does(default_project: GeneratedProject) -> None:
    files = sorted(default_project.path.glob("**/*.y*ml")) + sorted(
        (REPOSITORY / ".github" / "workflows").glob("*.y*ml")
    )
    files = [path for path in files if ".venv" not in path.parts]
    assert len(files) > 15
    compose = (default_project.path / "compose.yaml").read_text()
    assert "&service" in compose  # an anchor,
    assert "<<: *service" in compose  # merged
    for path in files:
        text = path.read_text()
        assert load_documents(text, max_nodes=MAX_YAML_NODES // 100) == list(
            yaml.safe_load_all(text)
        ), path


# A workflow whose setup step is an anchor, used whole and merged with a name, and the same
# workflow written out.
ANCHORED = """
name: ci
on: [push]
x-python: &python
  uses: actions/setup-python@v5
  with: {python-version: "3.12"}
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - *python
      - run: flake8 .
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - <<: *python
        name: set up Python
      - run: pytest
"""
WRITTEN_OUT = """
name: ci
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: flake8 .
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: set up Python
        uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: pytest
"""


def test_an_anchored_workflow_audits_as_the_same_workflow_written_out(tmp_path: Path) -> None:
    services = [
        write(tmp_path / name, {**FLASK_SERVICE, ".github/workflows/ci.yml": workflow})
        for name, workflow in (("anchored", ANCHORED), ("written-out", WRITTEN_OUT))
    ]
    anchored, written_out = (Facts(service) for service in services)
    assert anchored.ci.workflows[0].jobs == written_out.ci.workflows[0].jobs
    assert [step.text for step in anchored.ci.steps()] == [
        step.text for step in written_out.ci.steps()
    ]
    reports = [audit(service) for service in services]
    assert reports[0].not_read == reports[1].not_read == ()
    assert _verdicts(reports[0]) == _verdicts(reports[1])


def _verdicts(report: Report) -> list[tuple[str, str, list[str]]]:
    return [
        (r.standard.id, r.status.value, [q.outcome.value for q in r.requirements])
        for r in report.results
    ]


def _laughs(levels: int) -> str:
    lists = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, levels)
    ]
    return "\n".join(lists) + "\n"


def test_the_bound_counts_every_alias_over_all_documents() -> None:
    # Three levels: lists of 11, 111 and 1,111 nodes as expanded, their keys and the mapping.
    assert load_documents(_laughs(3), max_nodes=1_237) == list(yaml.safe_load_all(_laughs(3)))
    with pytest.raises(YamlRefusedError, match="expand past 1,236 nodes"):
        load_documents(_laughs(3), max_nodes=1_236)
    # Six levels, 1,234,573 nodes: one document is read, two are past the bound together.
    six = _laughs(6)
    assert len(load_documents(six)) == 1
    with pytest.raises(YamlRefusedError, match="expand past 2,000,000 nodes"):
        load_documents(six + "---\n" + six)


def test_yaml_past_the_other_bounds_is_refused() -> None:
    with pytest.raises(YamlRefusedError, match="alias contains itself"):
        load_documents("steps: &steps [*steps]\n")
    with pytest.raises(YamlRefusedError, match="nested too deeply"):
        load_documents("[" * 5_000 + "]" * 5_000)
    with pytest.raises(YamlRefusedError, match="over 2 MB"):
        load_documents("# padding\n" * 200_001)


def test_nesting_is_bounded_the_same_for_both_loaders() -> None:
    # Past MAX_YAML_DEPTH the pure loader still has recursion to spare, libyaml its own limit.
    assert load_documents("[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH) != []
    assert load_documents("- " * MAX_YAML_DEPTH + "x\n") != []
    for deeper in (MAX_YAML_DEPTH + 1, 2 * MAX_YAML_DEPTH, 1_001):
        with pytest.raises(YamlRefusedError, match="nested too deeply"):
            load_documents("[" * deeper + "]" * deeper)
        with pytest.raises(YamlRefusedError, match="nested too deeply"):
            load_documents("- " * deeper + "x\n")
    # Aliases nest too: each list holds the one before it, a shallow file walked deep.
    chain = ["a0: &a0 []"] + [f"a{n}: &a{n} [*a{n - 1}]" for n in range(1, MAX_YAML_DEPTH + 1)]
    with pytest.raises(YamlRefusedError, match="nested too deeply"):
        load_documents("\n".join(chain))


def test_a_character_yaml_forbids_is_not_yaml_for_both_loaders() -> None:
    # The pure loader checks characters as it starts, libyaml as it parses.
    with pytest.raises(NotYamlError, match="unacceptable character #x0007"):
        load_documents("name: a\x07b\n")


def test_the_update_tools_refuse_a_template_copier_yml_past_the_bound() -> None:
    copier_yml = _laughs(10) + "_migrations: *a9\n"
    with pytest.raises(YamlRefusedError, match="billion laughs"):
        migrations_run(copier_yml, Version("0.1.0"), Version("0.2.0"))
