"""TPL-2: the template-update workflow every generated service carries, beyond its schema.

tests/test_template_ci.py checks it like every workflow (schema, zizmor, pins, permissions).
Here: its shape (which job may write, what it runs), and its two shell steps run for real with
bash: reading `.copier-answers.yml`, and pushing the prepared commit and opening or refreshing
the pull request. GitHub's API cannot be reached, so `gh` is a stand-in that records its calls;
`git push` goes to a real repository standing in for GitHub's.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import REPOSITORY
from tests.support.projects import GeneratedProject
from tests.support.releases import GIT_IDENTITY
from tests.support.workflows import (
    load_workflow,
    read_github_output,
    step_named,
    triggers,
    workflow_commands,
)

WORKFLOW = REPOSITORY / "template" / ".github" / "workflows" / "template-update.yml"
TRAILER = "Template-Update-By: goldenpath"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_workflow(WORKFLOW)


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_tpl2_the_service_checks_weekly_and_on_demand(workflow: dict[str, Any]) -> None:
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (schedule,) = on["schedule"]
    _minute, _hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*")
    assert weekday.isdigit(), "once a week"
    assert workflow["concurrency"] == {"group": "template-update", "cancel-in-progress": False}


def test_tpl2_only_the_job_that_runs_no_template_code_may_write(workflow: dict[str, Any]) -> None:
    update, pull_request = workflow["jobs"]["update"], workflow["jobs"]["pull-request"]
    assert "permissions" not in update  # the workflow's contents: read
    assert pull_request["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
    }
    assert pull_request["needs"] == "update"
    assert pull_request["if"] == "needs.update.outputs.status == 'ready'"
    # The update job runs the template's tool: the newest release's, to apply it.
    commands = scripts(update)
    assert 'uvx --from "git+${URL}@${RELEASE}" goldenpath update-check' in commands
    assert 'uvx --from "git+${URL}@${NEWEST}" goldenpath update-branch --to "$NEWEST"' in commands
    # The writing job installs and runs nothing from the template or the service.
    assert not re.search(r"\b(uv|uvx|goldenpath|copier|pytest)\b", scripts(pull_request))
    assert not any("setup-uv" in str(step.get("uses", "")) for step in pull_request["steps"])
    # The built-in token only, handed to the one step that pushes, never inline in a script.
    text = WORKFLOW.read_text()
    assert "secrets." not in text
    assert text.count("github.token") == 1
    push = step_named(workflow, "pull-request", "Push the branch")
    assert push["env"]["GH_TOKEN"] == "${{ github.token }}"  # noqa: S105 - an expression
    for step in (*update["steps"], *pull_request["steps"]):
        assert "${{" not in str(step.get("run", "")), step


def test_tpl2_the_prepared_commit_travels_between_the_jobs(workflow: dict[str, Any]) -> None:
    update = step_named(workflow, "update", "Update on a branch")
    assert '--pr-body "$RUNNER_TEMP/template-update/pull-request.md"' in update["run"]
    assert '--bundle "$RUNNER_TEMP/template-update/update.bundle"' in update["run"]
    assert '--github-output "$GITHUB_OUTPUT"' in update["run"]
    upload = step_named(workflow, "update", "Hand the commit")
    download = next(
        step
        for step in workflow["jobs"]["pull-request"]["steps"]
        if "download-artifact" in str(step.get("uses", ""))
    )
    assert upload["with"]["name"] == download["with"]["name"] == "template-update"
    assert upload["with"]["path"].rstrip("/") == download["with"]["path"]
    assert download["with"]["path"] == "${{ runner.temp }}/template-update"
    outputs = workflow["jobs"]["update"]["outputs"]
    assert set(outputs) == {"status", "title", "draft", "lease", "gates", "gates_summary"}


def test_tpl2_the_generated_service_carries_the_workflow_verbatim(
    project: GeneratedProject,
) -> None:
    generated = project.path / ".github" / "workflows" / "template-update.yml"
    assert generated.read_text() == WORKFLOW.read_text()


# The shell steps, run with bash as GitHub runs them -------------------------------------------
def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`bash --noprofile --norc -eo pipefail`: GitHub's default shell for `run:`."""
    path = cwd.parent / "step.sh"
    path.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY, **env},
        capture_output=True,
        text=True,
        check=False,
    )


SOURCE_SCRIPT = REPOSITORY / "template" / ".github" / "scripts" / "template_source.py"


def service_with_answers(folder: Path, answers: str) -> Path:
    """A checkout as the step sees it: the answers file and the script that reads it."""
    scripts = folder / ".github" / "scripts"
    scripts.mkdir(parents=True)
    shutil.copy(SOURCE_SCRIPT, scripts / SOURCE_SCRIPT.name)
    (folder / ".copier-answers.yml").write_text(answers)
    return folder


ANSWERS_CASES = {
    "github shortcut": (
        "gh:acme/goldenpath",
        "v0.3.0",
        "https://github.com/acme/goldenpath.git",
        "v0.3.0",
    ),
    "between releases": (
        "https://github.com/acme/goldenpath.git",
        "v0.3.0-2-gabc1234",
        "https://github.com/acme/goldenpath.git",
        "v0.3.0",
    ),
    # A template without release tags: Copier records the commit it took.
    "untagged": (
        "https://github.com/acme/goldenpath.git",
        "3255607",
        "https://github.com/acme/goldenpath.git",
        "3255607",
    ),
    "quoted": (
        "git+https://git.example.com/golden",
        "'v1.0.0'",
        "https://git.example.com/golden",
        "v1.0.0",
    ),
}


@pytest.mark.parametrize("case", ANSWERS_CASES.values(), ids=list(ANSWERS_CASES))
def test_tpl2_the_workflow_reads_the_template_and_release_from_the_answers(
    workflow: dict[str, Any], tmp_path: Path, case: tuple[str, str, str, str]
) -> None:
    source, commit, url, release = case
    service = service_with_answers(
        tmp_path / "service",
        f"# Changes here will be overwritten by Copier\n_commit: {commit}\n_src_path: {source}\n",
    )
    output = tmp_path / "output"
    step = step_named(workflow, "update", "Read the template's location")
    completed = run_step(step["run"], service, {"GITHUB_OUTPUT": str(output)})
    assert completed.returncode == 0, completed.stderr
    assert read_github_output(output) == {"url": url, "release": release}


def test_tpl2_the_workflow_reads_the_answers_copier_writes(
    workflow: dict[str, Any], project: GeneratedProject, tmp_path: Path
) -> None:
    """The real answers file of a generated service (its template is a local path here)."""
    answers = (project.path / ".copier-answers.yml").read_text()
    service = service_with_answers(tmp_path / "service", answers)
    step = step_named(workflow, "update", "Read the template's location")
    output = tmp_path / "output"
    local = run_step(step["run"], service, {"GITHUB_OUTPUT": str(output)})
    assert local.returncode == 1
    # It says what to set, as a GitHub annotation.
    assert local.stderr.startswith("::error::the template was copied from a local path")
    assert "set `_src_path` in .copier-answers.yml" in local.stderr
    assert not output.exists() or not output.read_text()

    source = re.sub(r"(?m)^_src_path: .*$", "_src_path: gh:acme/goldenpath", answers)
    (service / ".copier-answers.yml").write_text(source)
    assert run_step(step["run"], service, {"GITHUB_OUTPUT": str(output)}).returncode == 0
    recorded = str(project.answers["_commit"])
    expected = re.sub(r"-\d+-g[0-9a-f]+$", "", recorded)
    assert read_github_output(output) == {
        "url": "https://github.com/acme/goldenpath.git",
        "release": expected,
    }


def test_tpl2_a_percent_in_the_template_path_stays_in_the_error_annotation(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    # Unescaped, the runner read `%0A` in the path as a line break of the annotation.
    source = "/clones/%0A::warning::x"
    service = service_with_answers(tmp_path / "service", f"_commit: v0.3.0\n_src_path: {source}\n")
    step = step_named(workflow, "update", "Read the template's location")
    completed = run_step(step["run"], service, {"GITHUB_OUTPUT": str(tmp_path / "output")})
    assert completed.returncode == 1
    (annotation,) = workflow_commands(completed.stdout + completed.stderr)
    assert annotation.name == "error"
    assert annotation.data.startswith(f"the template was copied from a local path ({source}),")


FAKE_GH = """#!/usr/bin/env bash
# Stands in for GitHub's CLI: records each call, answers from the environment.
printf '%s\\n' "$*" >> "$GH_LOG"
case "$1 $2" in
  "pr list") printf '%s\\n' "${FAKE_PR_NUMBER:-}" ;;
  "pr view") printf '%s\\n' "${FAKE_IS_DRAFT:-false}" ;;
esac
"""


def git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repository, env={**os.environ, **GIT_IDENTITY},
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


class PushStep:
    """The pull-request job's last step, against a bare repository standing in for GitHub."""

    def __init__(self, workflow: dict[str, Any], root: Path) -> None:
        self.script = step_named(workflow, "pull-request", "Push the branch")["run"]
        self.root = root
        self.origin = root / "origin.git"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        seed = root / "seed"
        git(root, "clone", "--quiet", str(self.origin), str(seed))
        (seed / "README.md").write_text("# Service\n")
        git(seed, "add", "README.md")
        git(seed, "commit", "--quiet", "-m", "the service")
        git(seed, "push", "--quiet", "origin", "main")
        self.base = git(seed, "rev-parse", "HEAD")
        self.checkout = root / "checkout"  # what actions/checkout leaves (no credentials)
        git(root, "clone", "--quiet", str(self.origin), str(self.checkout))
        self.temp = root / "runner-temp"
        (self.temp / "template-update").mkdir(parents=True)
        bin_folder = root / "bin"
        bin_folder.mkdir()
        (bin_folder / "gh").write_text(FAKE_GH)
        (bin_folder / "gh").chmod(stat.S_IRWXU)
        self.path = f"{bin_folder}{os.pathsep}{os.environ['PATH']}"
        self.log = root / "gh.log"

    def prepare(self, content: str) -> str:
        """What the update job hands over: a commit on top of the base, as a bundle."""
        work = self.root / "update-job"
        if not work.exists():
            git(self.root, "clone", "--quiet", str(self.origin), str(work))
        git(work, "switch", "--quiet", "-C", "template-update", self.base)
        (work / "README.md").write_text(content)
        git(work, "commit", "--quiet", "-am", f"Update the template\n\n{TRAILER}")
        bundle = self.temp / "template-update" / "update.bundle"
        git(work, "bundle", "create", str(bundle), "refs/heads/template-update", f"^{self.base}")
        (self.temp / "template-update" / "pull-request.md").write_text("the description\n")
        return git(work, "rev-parse", "HEAD")

    def run(
        self,
        *,
        lease: str,
        draft: bool,
        pr: str = "",
        is_draft: bool = False,
        gates: tuple[str, str] = ("success", "passed: sync, lint"),
    ) -> int:
        self.log.write_text("")
        env = {
            "GATES": gates[0],
            "GATES_SUMMARY": gates[1],
            "GITHUB_REPOSITORY": "acme/orders",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "42",
            "PATH": self.path,
            "RUNNER_TEMP": str(self.temp),
            "BRANCH": "template-update",
            "BASE": "main",
            "TITLE": "Update the template from v0.2.0 to v0.3.0",
            "DRAFT": str(draft).lower(),
            "LEASE": lease,
            "GH_TOKEN": "not-a-real-token",
            "GH_LOG": str(self.log),
            "FAKE_PR_NUMBER": pr,
            "FAKE_IS_DRAFT": str(is_draft).lower(),
        }
        return run_step(self.script, self.checkout, env).returncode

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def remote_branch(self) -> str:
        return git(self.origin, "rev-parse", "--verify", "--quiet", "refs/heads/template-update")


def test_tpl2_the_push_step_opens_one_pull_request_then_refreshes_it(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    step = PushStep(workflow, tmp_path)
    body = f"{step.temp}/template-update/pull-request.md"

    # First run: no branch yet (empty lease), no pull request: one is opened, as a draft, and
    # the gates' result (a failure) is the head commit's status, beside the merge button.
    first = step.prepare("# Service, updated\n")
    assert step.run(lease="", draft=True, gates=("failure", "failed: lint")) == 0
    assert step.remote_branch() == first
    assert step.calls() == [
        "pr list --head template-update --base main --state open --json number --jq "
        ".[0].number // empty",
        "pr create --base main --head template-update --title Update the template from v0.2.0 "
        f"to v0.3.0 --body-file {body} --draft",
        f"api --method POST repos/acme/orders/statuses/{first} -f state=failure "
        "-f context=template-update/gates -f description=failed: lint "
        "-f target_url=https://github.com/acme/orders/actions/runs/42",
    ]

    # A week later: the branch is replaced and the same pull request refreshed, now ready.
    second = step.prepare("# Service, updated again\n")
    assert step.run(lease=first, draft=False, pr="7", is_draft=True) == 0
    assert step.remote_branch() == second
    assert step.calls()[1:] == [
        f"pr edit 7 --title Update the template from v0.2.0 to v0.3.0 --body-file {body}",
        "pr view 7 --json isDraft --jq .isDraft",
        "pr ready 7",
        f"api --method POST repos/acme/orders/statuses/{second} -f state=success "
        "-f context=template-update/gates -f description=passed: sync, lint "
        "-f target_url=https://github.com/acme/orders/actions/runs/42",
    ]

    # Someone pushed to the branch after the update job looked: the push refuses to overwrite.
    third = step.prepare("# Service, a third time\n")
    assert step.run(lease=first, draft=False, pr="7") != 0
    assert step.remote_branch() == second != third
    assert step.calls() == [], "no pull request is touched when the push is refused"
