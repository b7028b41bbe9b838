"""TPL-2: a conflicting update, named file by file and hunk by hunk, before anyone merges.

`copier update` exits 0 whatever conflicts, and names no file. The case a first user met: the
team had changed a line of `tests/conftest.py`; a release changed the same line (defining
`BEARER` there) and, further down, added a fixture that uses `BEARER`. Resolved to the team's
side, the file keeps the fixture but loses the definition: the service is broken while the
update looks clean. Here, on a copy of this repository with two releases and a service generated
from the first:
- `update-preview` and `update-branch` list the conflicted file and hunk, with the release's
  change that was dropped (from the lines both sides started from) and the team's that was kept;
- the lint gate fails on the undefined name, and says so, in the terminal, in the workflow's
  outputs (for the commit status beside the merge button) and in the pull request, a draft.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goldenpath.cli import main
from tests.support.projects import generate
from tests.support.releases import (
    GIT_IDENTITY,
    TemplateCopy,
    commit_all,
    git,
    leftovers,
    next_patch,
    working_tree_version,
)
from tests.support.workflows import read_github_output, without_stopping

pytestmark = [pytest.mark.update, pytest.mark.slow]

CONFTEST = "template/tests/conftest.py.jinja"
PLUGINS = 'pytest_plugins = ["goldenpath_chassis.testing.fixtures", "tests.support.coverage_gate"]'
TEAMS = PLUGINS.replace('"]', '", "tests.support.team_plugin"]')
RELEASED = (
    "pytest_plugins = [\n"
    '    "goldenpath_chassis.testing.fixtures",\n'
    '    "tests.support.coverage_gate",\n'
    "]\n"
    'BEARER = "Bearer"'
)
FIXTURE = (
    "\n\n@pytest.fixture\n"
    "def bearer() -> str:\n"
    '    """The scheme of the tokens this suite sends."""\n'
    "    return BEARER\n"
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service on the first release whose team changed a line the second release changes."""
    root = tmp_path_factory.mktemp("conflicts")
    template = TemplateCopy.of_working_tree(root / "template")
    first = working_tree_version()
    tag = template.release(first, "the working tree")
    project = root / "service"
    generate(project, {"project_name": "Conflict Probe", "database": "sqlite"},
             template=template.path, vcs_ref=tag)  # fmt: skip
    commit_all(project, f"generated from {tag}")
    conftest = project / "tests" / "conftest.py"
    assert PLUGINS in conftest.read_text()
    conftest.write_text(conftest.read_text().replace(PLUGINS, TEAMS))
    (project / "tests" / "support" / "team_plugin.py").write_text('"""Our fixtures."""\n')
    commit_all(project, "our own pytest plugin")

    template.edit(CONFTEST, lambda text: text.replace(PLUGINS, RELEASED) + FIXTURE)
    template.release(next_patch(first), "a bearer fixture")
    return project


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


def test_tpl2_update_preview_names_the_dropped_change_and_the_failing_gate(
    service: Path, environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["update-preview", str(service), "--gates=lint", "--format=json"])
    preview = json.loads(capsys.readouterr().out)
    assert code == 1, "a conflict and a failing gate need a person"
    assert preview["ready"] is False
    (conflict,) = preview["conflicts"]
    assert conflict["path"] == "tests/conftest.py"
    assert conflict["base"] == PLUGINS + "\n"
    assert conflict["ours"] == TEAMS + "\n"
    assert conflict["theirs"] == RELEASED + "\n"
    lint = next(gate for gate in preview["gates"] if gate["name"] == "lint")
    assert lint["passed"] is False


def test_tpl2_update_branch_lists_each_hunk_and_shows_the_gates_before_a_merge(
    service: Path, tmp_path: Path, environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    copy = work / "service"
    git(work, "clone", "--quiet", str(service), copy.name)
    body_path, outputs_path = tmp_path / "pr.md", tmp_path / "outputs"
    arguments = ["update-branch", str(copy), "--gates=lint", f"--pr-body={body_path}",
                 f"--github-output={outputs_path}"]  # fmt: skip
    assert main(arguments) == 0
    said = without_stopping(capsys.readouterr().out)  # a GitHub Actions step: --github-output

    # The commit: the team's line kept, the release's other hunk applied, no marker.
    conftest = (copy / "tests" / "conftest.py").read_text()
    line = conftest.splitlines().index(TEAMS) + 1
    assert "return BEARER" in conftest
    assert 'BEARER = "Bearer"' not in conftest
    assert not leftovers(copy), leftovers(copy)

    # The terminal: the file and hunk, the dropped change, the failing gate and why.
    assert "needs a person: 1 conflict in 1 file" in said.splitlines()[0]
    assert "a gate failed (lint)" in said.splitlines()[0]
    assert f"    tests/conftest.py:{line}\n      the release's change (dropped):\n" in said
    assert '        +BEARER = "Bearer"' in said
    assert "      your change (kept):\n" in said
    assert "gate lint: FAILED" in said
    assert "F821" in said  # undefined name `BEARER`
    # GitHub: an annotation on the line, and outputs for the draft and the commit status.
    assert f"::warning file=tests/conftest.py,line={line},title=Template change dropped::" in said
    outputs = read_github_output(outputs_path)
    assert outputs["draft"] == "true"
    assert outputs["conflicts"] == f"tests/conftest.py:{line}"
    assert (outputs["gates"], outputs["gates_summary"]) == ("failure", "failed: lint")

    # The pull request: why it needs a person, the dropped change itself, the gate's output.
    body = body_path.read_text()
    assert (
        "**Needs a person**: 1 conflict in 1 file (the release's change there was dropped; see "
        "below) and a gate failed (lint)." in body
    )
    assert f"- `tests/conftest.py`: line {line}" in body
    dropped = body[body.index(f"**`tests/conftest.py`**, line {line}") :]
    assert dropped.startswith(
        f"**`tests/conftest.py`**, line {line}: the release's change here was **dropped**:"
    )
    assert f"-{PLUGINS}\n" in dropped
    assert '+BEARER = "Bearer"\n' in dropped
    assert f"Your change to the same lines, kept:\n\n```diff\n-{PLUGINS}\n+{TEAMS}\n```" in dropped
    assert "| lint | `uv run --locked ruff check --output-format concise` | **failed**" in body
    assert "F821" in body
