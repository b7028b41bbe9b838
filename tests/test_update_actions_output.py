"""TPL-2: in a GitHub Actions step, the update tools carry out only the workflow commands they
mean to. The runner reads every printed line as a possible command (`::name props::data` once
indented text is stripped, `##[name]` anywhere), and a file name may hold a newline, `::`, `,`
or `%`: unescaped, a conflict's annotation on such a file added annotations of its own or lost
its file, and the report, which prints file names, did the same.

A real template and service whose conflicted files have hostile names (Linux allows a newline
in one; Copier turns a carriage return into one), real `copier update` runs; the output is read
as the runner reads it
(tests.support.workflows.workflow_commands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath._github import workflow_command
from goldenpath.cli import main
from tests.support.releases import GIT_IDENTITY
from tests.support.workflows import read_github_output, readings, workflow_commands
from tests.test_update_branch_restore import template_whose_task
from tests.test_update_tools import answers, commit, git, make_template, repository
from tests.test_update_trust import service_of

HOSTILE_NAMES = (
    "a\n::error title=injected::from a file name",
    "c,line=1,title=x:y%0A.txt",
    "##[warning]the older form.txt",
    "  ::add-mask::indented",
)
WARNING = "Your lines are kept; the release's change here was dropped (the pull request shows it)"


def template_with_files(path: Path, names: tuple[str, ...]) -> Path:
    """Releases v0.1.0 and v0.2.0; the second changes the middle line of each file."""
    template = repository(path)
    (template / "copier.yml").write_text("_subdirectory: project\n")
    project = template / "project"
    project.mkdir()
    answers_file = project / "{{_copier_conf.answers_file}}.jinja"
    answers_file.write_text("{{ _copier_answers|to_nice_yaml }}")
    for release, middle in (("v0.1.0", "two"), ("v0.2.0", "TWO, the release's")):
        for name in names:
            (project / name).write_text(f"one\n{middle}\nthree\n")
        commit(template, release)
        git(template, "tag", release)
    return template


def service_changing_files(path: Path, template: Path, names: tuple[str, ...]) -> Path:
    """Generated from v0.1.0; the team changed the line the release changes in each file."""
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
         "--vcs-ref=v0.1.0", str(template), str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    git(path, "init", "--quiet", "--initial-branch=main")
    commit(path, "generated")
    for name in names:
        (path / name).write_text("one\ntwo, the team's\nthree\n")
    commit(path, "our lines")
    return path


def test_workflow_commands_read_back_as_written() -> None:
    for text in (*HOSTILE_NAMES, "b\r::notice::after a carriage return", "%25 stays", "a::b"):
        (read,) = workflow_commands(workflow_command("warning", text, {"file": text, "line": "2"}))
        assert (read.name, read.properties, read.data) == (
            "warning",
            {"file": text, "line": "2"},
            text,
        )


def test_tpl2_hostile_file_names_make_no_workflow_command_in_update_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)
    template = template_with_files(tmp_path / "template", HOSTILE_NAMES)
    service = service_changing_files(tmp_path / "service", template, HOSTILE_NAMES)
    assert sorted(path.name for path in service.iterdir() if path.name in HOSTILE_NAMES) == sorted(
        HOSTILE_NAMES
    )
    output = tmp_path / "github-output"
    arguments = ["update-branch", str(service), "--gates=none", f"--pr-body={tmp_path / 'pr.md'}"]
    assert main([*arguments, f"--github-output={output}"]) == 0
    printed = capsys.readouterr()

    # The report names every file (here, as text), and only the tool's warnings are commands:
    # one a file, on that file (its name whole) and line.
    for name in HOSTILE_NAMES:
        assert f"    {name}:2\n" in printed.out
    warnings = workflow_commands(printed.out)
    assert sorted((w.properties["file"], w.properties["line"]) for w in warnings) == sorted(
        (name, "2") for name in HOSTILE_NAMES
    )
    for warning in warnings:
        assert warning.name == "warning"
        assert warning.properties["title"] == "Template change dropped"
        assert warning.data == WARNING
    assert workflow_commands(printed.err) == []
    # One conflict a line of the `conflicts` output: a name with a line break, quoted.
    listed = read_github_output(output)["conflicts"].splitlines()
    quoted = (json.dumps(name) if "\n" in name else name for name in HOSTILE_NAMES)
    assert sorted(listed) == sorted(f"{name}:2" for name in quoted)


def test_tpl2_a_hostile_service_name_makes_no_workflow_command_in_update_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = answers(tmp_path / "service", make_template(tmp_path / "template"), "v0.1.0")
    recorded = project / ".copier-answers.yml"
    recorded.write_text(
        recorded.read_text().replace("project_slug: probe", 'project_slug: "x\\n::error::named"')
    )
    output = tmp_path / "github-output"
    assert main(["update-check", str(project), f"--github-output={output}"]) == 0
    printed = capsys.readouterr()
    assert "\n::error::named: on v0.1.0; v0.10.0 is available" in printed.out
    assert workflow_commands(printed.out + printed.err) == []

    # An error (here, of a folder named so) is printed with commands stopped too.
    folder = tmp_path / "y\n::error::from an error"
    assert main(["update-check", str(folder), f"--github-output={output}"]) == 2
    printed = capsys.readouterr()
    # One stream: the error too is on stdout.
    assert f"goldenpath update-check: error: {folder}: no such directory\n" in printed.out
    assert printed.err == ""
    assert workflow_commands(printed.out) == []


def test_tpl2_an_error_in_an_actions_step_is_never_read_after_commands_resume(
    tmp_path: Path,
) -> None:
    # The error holds what Copier printed, a task's `::error` line here. Printed on stderr, it
    # could be read after the resume token the command prints last on stdout: a command.
    service = tmp_path / "orders"
    task = "echo '::error title=injected::from the task'; exit 1"
    template = template_whose_task(tmp_path / "template", task)
    service_of(service, template)
    output = tmp_path / "github-output"
    arguments = ["update-branch", str(service), "--gates=none", f"--github-output={output}"]
    completed = subprocess.run(
        [sys.executable, "-m", "goldenpath", *arguments, f"--pr-body={tmp_path / 'pr.md'}"],
        capture_output=True,
        text=True,
        env=os.environ | GIT_IDENTITY,
        check=False,
    )
    assert completed.returncode == 2
    assert "::error title=injected::from the task" in completed.stdout + completed.stderr
    for reading in readings(completed.stdout, completed.stderr):
        assert workflow_commands(reading) == [], reading
