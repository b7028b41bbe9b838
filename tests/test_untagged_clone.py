"""TPL-2 on the README's own path: a clone of this repository without tags, used as written.

A new user clones the repository (no tags come with it here), runs the README's first command in
the clone, and follows the generated service's README, first committing the service as
generated. Copier takes the clone's newest commit and records its hash; the service records the
clone's path. Then, as the generated README
writes them (`uvx --from "$(python3 .github/scripts/template_source.py --spec)" goldenpath ...`):
- `update-check` says the template is untagged and compares commits; the local audit runs, with
  TPL-2 met;
- after two new commits in the clone, `update-check` counts them, `update-preview` applies them
  in a private clone with the quick gates, and `update-branch` (the weekly workflow's command)
  commits the update, with a pull request that lists the commits and CHANGELOG's new lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from goldenpath.cli import main
from tests.support.readme import bash, generate_as_the_readme_says, readme_line, untagged_clone
from tests.support.releases import GIT_IDENTITY, commit_all, git, leftovers

pytestmark = [pytest.mark.update, pytest.mark.slow]

NOTE = "The README says who owns the service."


def answers(service: Path) -> dict[str, object]:
    loaded = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def described(repository: Path) -> str:
    return git(repository, "describe", "--tags", "--always", "HEAD").strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untagged_clone(tmp_path_factory.mktemp("untagged"))


@pytest.fixture(scope="module")
def service(clone: Path) -> Path:
    generated = generate_as_the_readme_says(clone)
    # Committed as its README's first step says: the update tools start from the last commit.
    committed = bash(readme(generated, "git commit"), generated, **GIT_IDENTITY)
    assert committed.returncode == 0, committed.stderr
    assert not git(generated, "status", "--porcelain")
    return generated


@pytest.fixture
def clone_to_change(clone: Path) -> Iterator[Path]:
    """The module's clone, for a test that commits to it, put back afterwards: the other
    tests see the clone the service was generated from, whatever order they run in."""
    head = git(clone, "rev-parse", "HEAD").strip()
    yield clone
    git(clone, "reset", "--quiet", "--hard", head)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_IDENTITY.items():  # update-branch commits, as the workflow does
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


def readme(service: Path, needle: str) -> str:
    return readme_line((service / "README.md").read_text(), needle)


def test_tpl2_the_readme_path_works_on_a_clone_without_tags(clone: Path, service: Path) -> None:
    recorded = answers(service)
    # The clone's absolute path (Copier wrote `.`), and the commit Copier took.
    assert recorded["_src_path"] == str(clone)
    assert recorded["_commit"] == described(clone)
    assert re.fullmatch(r"[0-9a-f]{7,40}", str(recorded["_commit"]))

    checked = bash(readme(service, "goldenpath update-check ."), service)
    assert checked.returncode == 0, checked.stderr
    assert "is untagged (it has no release tag vX.Y.Z), so its commits are compared" in (
        checked.stdout
    )
    assert "the newest commit" in checked.stdout
    assert "Nothing to do." in checked.stdout

    audit_line = readme(service, "goldenpath audit .")
    audited = bash(audit_line, service)
    assert audited.returncode == 0, audited.stderr
    assert re.search(r"Golden path \(informational\)\s+100%", audited.stdout), audited.stdout
    report = json.loads(bash(f"{audit_line} --format json", service).stdout)
    (tpl2,) = (s for s in report["standards"] if s["id"] == "TPL-2")
    assert tpl2["status"] == "pass", tpl2

    # CI cannot reach the clone: the check run before a push says what to set.
    refused = bash("python3 .github/scripts/template_source.py check", service)
    assert refused.returncode == 1
    assert f"copied from a local path ({clone})" in refused.stderr
    assert "GOLDENPATH_TEMPLATE" in refused.stderr


def test_tpl2_an_untagged_template_updates_commit_by_commit(
    clone_to_change: Path,
    service: Path,
    tmp_path: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = described(clone_to_change)
    readme_template = clone_to_change / "template" / "README.md.jinja"
    text = readme_template.read_text()
    readme_template.write_text(
        text.replace("{{ description }}\n", "{{ description }} Owned by the platform.\n", 1)
    )
    commit_all(clone_to_change, "README: who owns the service")
    changelog = clone_to_change / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", f"## [Unreleased]\n\n- {NOTE}\n", 1)
    )
    commit_all(clone_to_change, "CHANGELOG: the README's owner")
    newest = described(clone_to_change)

    checked = bash(readme(service, "goldenpath update-check ."), service)
    assert checked.returncode == 0, checked.stderr
    assert f"2 commit(s) behind its newest, {newest}" in checked.stdout

    preview = bash(readme(service, "goldenpath update-preview ."), service)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "M\tREADME.md" in preview.stdout
    assert "conflicts: none" in preview.stdout
    # The new commit rendered; the service deleted nothing, so nothing is named.
    assert "deleted files" not in preview.stdout
    for gate in ("sync", "lint", "format", "unit"):
        assert f"gate {gate}: passed" in preview.stdout

    # What the weekly workflow runs, on a clone of the service.
    work = tmp_path / "work"
    work.mkdir()
    copy = work / service.name
    git(work, "clone", "--quiet", str(service), copy.name)
    body = tmp_path / "pr.md"
    code = main(["update-branch", str(copy), "--gates=none", f"--pr-body={body}"])
    assert code == 0, capsys.readouterr()
    assert answers(copy)["_commit"] == newest
    assert answers(copy)["_src_path"] == str(clone_to_change)
    assert "Owned by the platform." in (copy / "README.md").read_text()
    assert not leftovers(copy), leftovers(copy)
    description = body.read_text()
    assert f"This service is on template commit **{before}**" in description
    assert "The template has no release tag (vX.Y.Z)" in description
    assert NOTE in description
    assert "README: who owns the service" in description
    assert "CHANGELOG: the README's owner" in description
    git(copy, "switch", "--quiet", "main")
    git(copy, "merge", "--quiet", "--ff-only", "template-update")
    capsys.readouterr()
    assert main(["update-check", str(copy)]) == 0
    assert "Nothing to do." in capsys.readouterr().out
