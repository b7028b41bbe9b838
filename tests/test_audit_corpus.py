"""The audit's accuracy over a corpus of services in the shapes of real repositories.

tests/support/corpus/ holds six sample services written in the shapes of public repositories
(full-stack-fastapi-template, Netflix/dispatch, polar's server, a Django + REST framework
service, a Flask + Flask-RESTful service, an s3rius FastAPI-template project), each with the
verdicts it must get, decided by reading it: routes and who may call them, standards and
requirements in both directions, files that cannot be read.

The threshold is every verdict. The corpus is ours and small enough to read: a wrong verdict is
a defect of the audit (or of an expectation, to be fixed with a reason), never noise to
tolerate. A lower bar would let a regression through as long as it stayed under the margin,
which is how the audit came to be wrong on 45 of 99 hand-checked verdicts of real code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from goldenpath.audit import Report, audit
from tests.support.corpus import Sample, Verdict, judge, samples

SAMPLES = samples()
REQUIRED_ACCURACY = 1.0


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Report, list[Verdict]]]:
    return {sample.name: judge(sample, tmp_path_factory.mktemp(sample.name)) for sample in SAMPLES}


def test_audit_accuracy_over_the_corpus(
    judged: dict[str, tuple[Report, list[Verdict]]], capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts = [verdict for _, found in judged.values() for verdict in found]
    right = sum(verdict.right for verdict in verdicts)
    with capsys.disabled():
        for name, (_, found) in judged.items():
            print(f"\n  {name}: {sum(v.right for v in found)}/{len(found)} verdicts right")
        print(f"audit accuracy over the corpus: {right}/{len(verdicts)} verdicts right")
    wrong = "\n".join(str(verdict) for verdict in verdicts if not verdict.right)
    assert right >= REQUIRED_ACCURACY * len(verdicts), f"wrong verdicts:\n{wrong}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_audit_corpus_sample_expects_verdicts_in_both_directions(sample: Sample) -> None:
    """An audit that always says yes, or always no, must fail every sample."""
    outcomes = set(sample.requirements.values())
    assert {"met", "missing"} <= outcomes, sample.name
    accesses = set(sample.routes.values())
    assert "open" in accesses, sample.name
    assert accesses & {"authenticated", "public"} or sample.name == "s3rius", sample.name
    assert len(sample.routes) + len(sample.standards) + len(sample.requirements) >= 20


def test_audit_a_monorepo_folder_and_its_repository_agree(tmp_path: Path) -> None:
    """Auditing `backend/` alone, or the repository holding it, gives the same verdicts: the
    folder is read with its repository's CI, and the root with every pyproject.toml in it."""
    fullstack = next(sample for sample in SAMPLES if sample.name == "fullstack")
    root = fullstack.write(tmp_path / "repository")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    whole, folder = audit(root), audit(root / "backend")
    statuses = {r.standard.id: r.status for r in whole.results}
    assert {r.standard.id: r.status for r in folder.results} == statuses
    assert any("read from the repository that holds" in note for note in folder.notes)
    assert folder.result("OPS-3").status == whole.result("OPS-3").status
    assert [r.path for r in folder.routes] == [r.path for r in whole.routes]
