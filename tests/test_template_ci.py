"""TPL-3: the GitHub workflows are valid, least-privilege and pinned: the template's own CI,
and the workflows every generated service carries (template/.github/workflows, verbatim files).

GitHub cannot run here; these checks are what can be proven offline: the workflow schema,
zizmor's audits, actionlint's (tests/support/actionlint.py), shellcheck over every `run:` step
(as actionlint would run it, which its WebAssembly build cannot), every action pinned by commit
SHA with its version beside it, read-only permissions (widened only where a job must write, as
listed below), no persisted credentials, and a matrix that is the tests' own matrix.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import yaml

from tests.support.actionlint import actionlint
from tests.support.commands import REPOSITORY, run
from tests.support.projects import VARIANTS, main
from tests.support.workflows import RunScript, run_scripts

TEMPLATE_WORKFLOWS = REPOSITORY / "template" / ".github" / "workflows"
WORKFLOWS = sorted((REPOSITORY / ".github" / "workflows").glob("*.y*ml")) + sorted(
    TEMPLATE_WORKFLOWS.glob("*.y*ml")
)
# The only jobs allowed to write, and what: workflow file -> job -> scopes.
ALLOWED_WRITES = {
    # The template's release: the GitHub release carries the chassis's and the tools' builds.
    ".github/workflows/release.yml": {"publish": {"contents"}},
    # The generated service's template updates: push the update branch, open its pull request,
    # show the gates' result as the branch head's commit status.
    "template/.github/workflows/template-update.yml": {
        "pull-request": {"contents", "pull-requests", "statuses"}
    },
    # The generated service's delivery workflows (OPS-2, OPS-3).
    "template/.github/workflows/ci.yml": {"image": {"security-events"}},
    "template/.github/workflows/security.yml": {"config-scan": {"security-events"}},
    "template/.github/workflows/release.yml": {"image": {"packages", "id-token", "attestations"}},
    # The generated service's standards audit: its SARIF report goes to code scanning.
    "template/.github/workflows/standards-audit.yml": {"code-scanning": {"security-events"}},
}


def relative(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


def relative_root(path: Path) -> str:
    return relative(path / ".github" / "workflows")


PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}$")
# The validators are dev dependencies, installed beside the interpreter running the tests.
VENV_BIN = Path(sys.executable).parent
# What actionlint leaves out of its own shellcheck run of `run:` steps, for the same reasons:
# their variables come from `env:` blocks (SC2154), a blanked expression is a constant word
# (SC2050, SC2157, SC2194), and sourced files are not there to follow (SC1091).
SHELLCHECK = [
    str(VENV_BIN / "shellcheck"),
    "--severity=style",
    "--exclude=SC1091,SC2050,SC2154,SC2157,SC2194",
]


def check_workflow_schema(workflow: Path) -> None:
    """GitHub's workflow schema (check-jsonschema's copy); fails the test with its findings."""
    command = [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    run([*command, str(workflow)], cwd=REPOSITORY)


def load(workflow: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(workflow.read_text())
    assert isinstance(loaded, dict)
    return loaded


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_tpl3_there_is_a_template_workflow() -> None:
    assert "template-ci.yml" in [path.name for path in WORKFLOWS]
    assert TEMPLATE_WORKFLOWS / "template-update.yml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=relative)
def test_tpl3_workflows_match_the_github_schema(workflow: Path) -> None:
    check_workflow_schema(workflow)


@pytest.mark.parametrize(
    ("folder", "persona"),
    [
        (".github/workflows", "regular"),
        # The generated service's own CI runs zizmor with the pedantic persona.
        ("template/.github/workflows", "pedantic"),
    ],
)
def test_tpl3_zizmor_finds_nothing(folder: str, persona: str) -> None:
    run(
        [str(VENV_BIN / "zizmor"), "--offline", "--no-progress", "--persona", persona, folder],
        cwd=REPOSITORY,
    )


@pytest.mark.parametrize("root", [REPOSITORY, REPOSITORY / "template"], ids=relative_root)
def test_tpl3_actionlint_finds_nothing(root: Path) -> None:
    result = actionlint(root)
    assert result.files == len(list((root / ".github" / "workflows").glob("*.y*ml"))), result
    assert result.passed, result.output


def test_tpl3_actionlint_catches_what_the_schema_lets_through(tmp_path: Path) -> None:
    # Valid against the workflow schema (checked below), and two mistakes only GitHub would
    # report, at run time: a job that needs one that is not there, and a context property
    # that does not exist (empty when expanded).
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = workflows / "broken.yml"
    broken.write_text(
        "on: push\n"
        "permissions: {contents: read}\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-24.04\n"
        "    needs: build\n"
        "    steps:\n"
        "      - run: echo ${{ github.sha_short }}\n"
    )
    check_workflow_schema(broken)

    result = actionlint(tmp_path)

    assert result.files == 1
    assert not result.passed
    assert 'needs job "build" which does not exist' in result.output, result.output
    assert 'property "sha_short" is not defined' in result.output, result.output


def shellcheck(scripts: list[tuple[str, RunScript]], folder: Path) -> CompletedProcess[str]:
    """shellcheck over each (label, script), each written to `folder` as a file of its own."""
    files = []
    for label, script in scripts:
        path = folder / f"{label}.sh"
        path.write_text(f"#!/usr/bin/env {script.shell}\n{script.text}")
        files.append(str(path))
    return subprocess.run(
        [*SHELLCHECK, *files], capture_output=True, text=True, timeout=120, check=False
    )


def test_tpl3_shellcheck_finds_nothing_in_the_run_steps(tmp_path: Path) -> None:
    loaded = {workflow: load(workflow) for workflow in WORKFLOWS}
    found = {workflow: run_scripts(content) for workflow, content in loaded.items()}
    unread = [
        relative(workflow)
        for workflow, scripts in found.items()
        if not scripts and any("run" in step for step in steps(loaded[workflow]))
    ]
    assert not unread, f"run steps in no shell this test reads: {unread}"
    labelled = [
        (f"{relative(workflow).replace('/', '__')}.{script.job}.{position}", script)
        for workflow, scripts in found.items()
        for position, script in enumerate(scripts, start=1)
    ]
    result = shellcheck(labelled, tmp_path)
    assert result.returncode == 0, result.stdout


def test_tpl3_shellcheck_catches_an_unquoted_expansion(tmp_path: Path) -> None:
    workflow = yaml.safe_load(
        "jobs:\n"
        "  build:\n"
        "    steps:\n"
        "      - name: Copy\n"
        "        run: cp ${{ inputs.source }} $TARGET_DIR/\n"
        "      - shell: python\n"
        "        run: print('not a shell script')\n"
    )
    scripts = run_scripts(workflow)
    assert [(script.job, script.step, script.shell) for script in scripts] == [
        ("build", "Copy", "bash")
    ]
    assert scripts[0].text == "cp " + "_" * len("${{ inputs.source }}") + " $TARGET_DIR/"

    result = shellcheck([("copy", scripts[0])], tmp_path)

    assert result.returncode == 1
    assert "SC2086" in result.stdout, result.stdout


def test_tpl3_the_ci_entry_point_passes_shellcheck() -> None:
    run([*SHELLCHECK, str(REPOSITORY / ".ci" / "run")], cwd=REPOSITORY)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=relative)
def test_tpl3_every_action_is_pinned_by_sha_with_its_version(workflow: Path) -> None:
    uses = [
        line.strip().removeprefix("- ").removeprefix("uses: ")
        for line in workflow.read_text().splitlines()
        if re.match(r"^\s*(- )?uses: ", line)
    ]
    assert uses, "no actions found: the check would prove nothing"
    unpinned = [line for line in uses if not PINNED.match(line)]
    assert not unpinned, unpinned


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=relative)
def test_tpl3_least_privilege_and_no_persisted_credentials(workflow: Path) -> None:
    loaded = load(workflow)
    assert loaded["permissions"] == {"contents": "read"}
    writes = {
        name: {scope for scope, level in job.get("permissions", {}).items() if level != "read"}
        for name, job in loaded["jobs"].items()
    }
    allowed = ALLOWED_WRITES.get(relative(workflow), {})
    assert {name: scopes for name, scopes in writes.items() if scopes} == allowed
    checkouts = [
        step for step in steps(loaded) if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts
    assert all(step.get("with", {}).get("persist-credentials") is False for step in checkouts)
    assert all("timeout-minutes" in job for job in loaded["jobs"].values())


def test_tpl3_ci_fans_out_over_the_tests_own_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    workflow = load(REPOSITORY / ".github" / "workflows" / "template-ci.yml")
    jobs = workflow["jobs"]
    plan = "\n".join(step.get("run", "") for step in jobs["plan"]["steps"])
    assert "python -m tests.support.projects --github-matrix" in plan
    assert main(["--github-matrix"]) == 0
    assert json.loads(capsys.readouterr().out) == {"variant": list(VARIANTS)}
    generated = jobs["generated"]
    assert generated["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert {"postgres", "redis"} <= set(generated["services"])
    assert any('--variant "$VARIANT"' in step.get("run", "") for step in generated["steps"])
    # The image is built by Docker and scanned by Trivy; the update path has its own job.
    image_steps = jobs["image"]["steps"]
    assert any("docker build" in step.get("run", "") for step in image_steps)
    assert any(
        step.get("uses", "").startswith("aquasecurity/trivy-action@") for step in image_steps
    )
    assert any("pytest -m update" in step.get("run", "") for step in jobs["update"]["steps"])
