"""TPL-2: which template's code the update tools run. `copier update --trust` runs the tasks and
migrations of the template a service's `.copier-answers.yml` names, so the fleet view, which
reads services its platform team does not control, runs only the templates it was told to trust.

Real git repositories and real `copier update` runs; a template's task leaves a file behind when
it runs, so a test sees whether it did.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from goldenpath.cli import main
from goldenpath.releases import same_source
from tests.test_update_tools import commit, git, repository

FLEET = ["--no-audit", "--no-cache", "--format=json"]


def template_with_a_task(path: Path, marker: Path) -> Path:
    """A template with releases v0.1.0 and v0.2.0 whose task (and migration) writes `marker`."""
    template = repository(path)
    (template / "copier.yml").write_text(
        "_subdirectory: project\n"
        f"_tasks:\n  - [touch, {marker}]\n"
        f"_migrations:\n  - [touch, {marker}]\n"
    )
    (template / "project").mkdir()
    for release in ("v0.1.0", "v0.2.0"):
        (template / "project" / "README.md").write_text(f"{release}\n")
        commit(template, release)
        git(template, "tag", release)
    return template


def service_of(path: Path, source: Path) -> Path:
    """A service on v0.1.0 of `source`, committed, as a platform team's local clone holds it."""
    service = repository(path)
    (service / "README.md").write_text("v0.1.0\n")
    (service / ".copier-answers.yml").write_text(f"_commit: v0.1.0\n_src_path: {source}\n")
    commit(service, "generated")
    return service


def fleet_rows(
    capsys: pytest.CaptureFixture[str], *arguments: str
) -> tuple[int, list[dict[str, Any]]]:
    code = main(["fleet", *arguments, *FLEET])
    return code, json.loads(capsys.readouterr().out)["services"]


def test_tpl2_the_fleet_never_runs_a_template_it_was_not_told_to_trust(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = tmp_path / "ran"
    foreign = template_with_a_task(tmp_path / "foreign", ran)
    ours = template_with_a_task(tmp_path / "ours", tmp_path / "ours-ran")
    service = service_of(tmp_path / "service", foreign)

    code, rows = fleet_rows(capsys, str(service), f"--template={ours}")
    assert not ran.exists(), "the service's own choice of template ran its task"
    assert code == 1
    assert rows[0]["update"] == "failed"
    assert f"names the template '{foreign}'" in rows[0]["error"]
    assert "not one this run trusts" in rows[0]["error"]

    # Named by the platform team, the same template is tried, and its task runs.
    code, rows = fleet_rows(capsys, str(service), f"--template={foreign}")
    assert (code, rows[0]["update"]) == (0, "clean")
    assert ran.exists()


def test_tpl2_the_fleet_tries_the_template_the_commit_names_not_the_working_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The update is tried in a clone of the last commit: its answers are what Copier reads.
    ran = tmp_path / "ran"
    foreign = template_with_a_task(tmp_path / "foreign", ran)
    ours = template_with_a_task(tmp_path / "ours", tmp_path / "ours-ran")
    service = service_of(tmp_path / "service", foreign)
    (service / ".copier-answers.yml").write_text(f"_commit: v0.1.0\n_src_path: {ours}\n")

    code, rows = fleet_rows(capsys, str(service), f"--template={ours}")
    assert not ran.exists(), "the committed answers' template ran its task"
    assert code == 1
    assert f"names the template '{foreign}'" in rows[0]["error"]
    assert "commit the answers file first" in rows[0]["error"]


def test_tpl2_the_fleet_needs_the_templates_it_trusts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["fleet", str(tmp_path)])
    assert exited.value.code == 2
    assert "--template" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("recorded", "trusted", "same"),
    [
        ("gh:acme/goldenpath", "https://github.com/acme/goldenpath.git", True),
        ("https://github.com/acme/goldenpath", "https://github.com/acme/goldenpath/", True),
        ("git+https://git.example.com/t.git", "https://git.example.com/t", True),
        ("/srv/goldenpath", "/srv/goldenpath.git", True),
        ("gh:acme/goldenpath-fork", "gh:acme/goldenpath", False),
        ("https://evil.example/acme/goldenpath", "gh:acme/goldenpath", False),
        ("/srv/goldenpath/../evil", "/srv/goldenpath", False),
    ],
)
def test_tpl2_a_trusted_template_is_recognised_however_it_is_spelled(
    recorded: str, trusted: str, same: bool
) -> None:
    assert same_source(recorded, trusted) is same


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))  # a bomb fails here, not the host


def update_check(service: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goldenpath", "update-check", str(service)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_limited_memory,
    )


def test_tpl2_an_answers_file_that_expands_without_end_is_refused_at_once(tmp_path: Path) -> None:
    # 600 bytes: ten lists of ten aliases of the one before, 10**9 items once walked.
    template = template_with_a_task(tmp_path / "template", tmp_path / "ran")
    service = service_of(tmp_path / "service", template)
    lists = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)
    ]
    answers = service / ".copier-answers.yml"
    answers.write_text(answers.read_text() + "\n".join(lists) + "\nproject_slug: *a8\n")
    assert answers.stat().st_size < 1000
    checked = update_check(service)
    assert checked.returncode == 2, checked.stderr[-2000:]
    assert checked.stderr.startswith(f"goldenpath update-check: error: {answers}: not valid YAML")
    assert "an alias (*name), which Copier never writes" in checked.stderr

    answers.write_text(f"_commit: v0.1.0\n_src_path: {template}\n" + "# padding\n" * 100_001)
    checked = update_check(service)
    assert checked.returncode == 2, checked.stderr[-2000:]
    assert checked.stderr == (
        f"goldenpath update-check: error: {answers}: over 1 MB, not an answers file Copier wrote\n"
    )


COMMANDS = {
    "update-check": ["update-check"],
    "update-preview": ["update-preview", "--gates=none"],
    "update-branch": ["update-branch", "--gates=none"],
    "fleet": ["fleet", *FLEET],
}


def refusal(command: str, service: Path, template: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `command` says of `service`: its error line, or for the fleet its row's error."""
    arguments = [*COMMANDS[command], str(service)]
    if command == "fleet":
        code, rows = fleet_rows(capsys, str(service), f"--template={template}")
        assert (code, rows[0]["update"]) == (1, "failed")
        return str(rows[0]["error"])
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    return captured.err.removeprefix(f"goldenpath {command}: error: ").rstrip("\n")


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("where", ["inside", "outside"])
def test_tpl2_an_answers_file_that_is_a_symbolic_link_is_refused(
    tmp_path: Path, command: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Copier writes the answers file itself, never as a link. Followed, a link made the tools
    # read another file as the service's: one in the repository, or one of the runner's (which
    # a YAML error then quoted).
    ran = tmp_path / "ran"
    template = template_with_a_task(tmp_path / "template", ran)
    service = service_of(tmp_path / "service", template)
    answers = service / ".copier-answers.yml"
    if where == "inside":
        target = service / "config" / "answers.yml"
        target.parent.mkdir()
        target.write_text(answers.read_text())
    else:
        target = tmp_path / "runner-secret"
        target.write_text("token: [s3cr3t-value\n")
    answers.unlink()
    answers.symlink_to(target)
    commit(service, "the answers, linked")

    said = refusal(command, service, template, capsys)
    assert said == (
        f"{answers}: a symbolic link (to {target}), not a file; Copier writes its answers file "
        "itself, never as a link, so the update tools follow none: put the answers file itself "
        "in its place"
    )
    assert "s3cr3t" not in said
    assert not ran.exists()
    assert git(service, "status", "--porcelain") == ""
