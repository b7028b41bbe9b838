"""TPL-2: `goldenpath update-branch` that cannot finish leaves the service as it found it.

A small real template with two releases and a service Copier made from it, as in
tests/test_update_deleted_files.py. What the command cannot do (write where it was told, make a
commit) is found before it touches the service, or undone: the service stays on its branch, at
its commit, with a clean tree, and the error is one line.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from goldenpath.cli import main
from tests.support.releases import GIT_IDENTITY, copy_committed
from tests.support.workflows import without_stopping

COPIER_YML = "name:\n  type: str\n  default: service\n_subdirectory: template\n"
ANSWERS = "{{ _copier_conf.answers_file }}.jinja"


def git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repository, capture_output=True, text=True, check=True, env=GIT_IDENTITY
    ).stdout


def release(template: Path, tag: str, readme: str) -> None:
    (template / "template" / "README.md.jinja").write_text(readme)
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", tag)
    git(template, "tag", tag)


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A service generated from v0.1.0 of a template whose v0.2.0 changes its README."""
    template = tmp_path / "template"
    (template / "template").mkdir(parents=True)
    git(template, "init", "--quiet", "--initial-branch=main")
    (template / "copier.yml").write_text(COPIER_YML)
    (template / "template" / ANSWERS).write_text("{{ _copier_answers|to_nice_yaml }}")
    release(template, "v0.1.0", "# {{ name }}\n")
    release(template, "v0.2.0", "# {{ name }}\n\nNow with a changelog.\n")
    return copy_committed(template, tmp_path / "orders", ref="v0.1.0", data=["name=orders"])


def state(service: Path) -> tuple[str, str, str, str]:
    """The branch checked out, its commit, the working tree's changes and the branches."""
    return (
        git(service, "branch", "--show-current").strip(),
        git(service, "rev-parse", "HEAD").strip(),
        git(service, "status", "--porcelain", "--untracked-files=all"),
        git(service, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
    )


@pytest.mark.parametrize("option", ["--pr-body", "--bundle", "--github-output", "--github-summary"])
def test_tpl2_an_output_file_in_no_folder_is_refused_before_anything_changes(
    service: Path, tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(service)
    missing = tmp_path / "no-such-folder" / "out"
    # It failed after the commit (with --gates all, after the whole suite ran).
    arguments = ["update-branch", str(service), "--gates=none", f"--pr-body={tmp_path / 'pr.md'}"]
    assert main([*arguments, f"{option}={missing}"]) == 2
    captured = capsys.readouterr()
    error = "goldenpath update-branch: error: "
    error += f"{option} {missing}: there is no folder {missing.parent}\n"
    # With --github-output, a GitHub Actions step: its text framed by stop-commands, all of it
    # on stdout (tests/test_update_actions_output.py says why).
    in_actions = option == "--github-output"
    assert without_stopping(captured.out) == (error if in_actions else "")
    assert captured.err == ("" if in_actions else error)
    assert state(service) == before


def test_tpl2_without_a_git_identity_the_service_is_not_touched(
    service: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in (*GIT_IDENTITY, "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(service, "config", "user.useConfigOnly", "true")  # no guess from the host's name
    before = state(service)
    body = tmp_path / "pr.md"
    assert main(["update-branch", str(service), "--gates=none", f"--pr-body={body}"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(
        f"goldenpath update-branch: error: {service}: git cannot make a commit here"
    )
    assert "set user.name and user.email" in error
    assert state(service) == before
    assert not body.exists()


def test_tpl2_a_commit_that_fails_is_undone(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An identity, but a commit that cannot be signed: the update was already applied.
    git(service, "config", "commit.gpgSign", "true")
    git(service, "config", "gpg.program", "false")
    before = state(service)
    body = tmp_path / "pr.md"
    assert main(["update-branch", str(service), "--gates=none", f"--pr-body={body}"]) == 2
    branch, commit, changes, _ = state(service)
    assert (branch, commit, changes) == before[:3]  # on main, at its commit, a clean tree
    assert not body.exists()
    error = capsys.readouterr().err
    assert "`git commit --quiet --no-verify --file=-` failed" in error
    assert "Template-Update-By" not in error  # the commit message is not in the error


def test_tpl2_the_default_pull_request_text_stays_out_of_the_working_tree(
    service: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run from inside the service, as a team does: an untracked template-update.md there made
    # the next run refuse ("commit or stash your changes first").
    monkeypatch.chdir(service)
    assert main(["update-branch", "--gates=none"]) == 0
    body = service / ".git" / "template-update.md"
    assert f"the pull request text is in {body}." in capsys.readouterr().out
    assert "Now with a changelog." in git(service, "show", "HEAD:README.md")
    assert body.read_text().strip()
    assert git(service, "status", "--porcelain", "--untracked-files=all") == ""
    git(service, "switch", "--quiet", "main")
    assert main(["update-branch", "--gates=none"]) == 0
