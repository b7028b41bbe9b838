"""The standards audit in every generated project's CI: `.github/workflows/standards-audit.yml`.

The workflow is verbatim in template/, so it is checked there: the GitHub workflow schema,
zizmor, actions pinned by SHA, least privilege. The script that turns `.copier-answers.yml` into
the `uvx --from` spec is unit-tested, and the whole path is run for real once: the template
committed to a scratch git repository, the spec computed from an answers file pointing at it,
and `uvx --from git+file://...@<commit> goldenpath audit` run on a service.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from goldenpath.audit import audit
from tests.support.commands import REPOSITORY, run
from tests.support.samples import flask_service
from tests.test_template_ci import PINNED

WORKFLOW = REPOSITORY / "template" / ".github" / "workflows" / "standards-audit.yml"
SCRIPT = REPOSITORY / "template" / ".github" / "scripts" / "template_source.py"
VENV_BIN = Path(sys.executable).parent
SHA = "0123456789abcdef0123456789abcdef01234567"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("template_source", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_audit_workflow_matches_the_github_schema() -> None:
    run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        cwd=REPOSITORY,
    )


def test_audit_workflow_zizmor_finds_nothing(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(WORKFLOW, tmp_path / ".github" / "workflows" / WORKFLOW.name)
    run(
        [
            str(VENV_BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--persona",
            "pedantic",
            ".github/",
        ],
        cwd=tmp_path,
    )


def test_audit_workflow_pins_actions_and_keeps_least_privilege() -> None:
    uses = [
        line.strip().removeprefix("- ").removeprefix("uses: ")
        for line in WORKFLOW.read_text().splitlines()
        if line.strip().removeprefix("- ").startswith("uses: ")
    ]
    assert len(uses) == 5
    assert [line for line in uses if not PINNED.match(line)] == []
    loaded = workflow()
    assert loaded["permissions"] == {"contents": "read"}
    jobs = loaded["jobs"]
    widened = {name: job.get("permissions") for name, job in jobs.items() if job.get("permissions")}
    assert widened == {"code-scanning": {"contents": "read", "security-events": "write"}}
    for name, job in jobs.items():
        assert job["timeout-minutes"] <= 15, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_audit_workflow_gates_and_uploads_the_audit_of_the_recorded_release() -> None:
    jobs = workflow()["jobs"]
    gate = "\n".join(step.get("run", "") for step in jobs["scorecard"]["steps"])
    assert "python3 .github/scripts/template_source.py" in gate
    assert 'uvx --from "$GOLDENPATH_FROM" goldenpath audit . --fail-under "$FAIL_UNDER"' in gate
    assert 'exit "$status"' in gate
    scanning = jobs["code-scanning"]["steps"]
    sarif = next(step for step in scanning if "--format sarif" in step.get("run", ""))
    upload = next(step for step in scanning if "upload-sarif@" in step.get("uses", ""))
    assert upload["with"]["sarif_file"] in sarif["run"]
    assert float(workflow()["env"]["FAIL_UNDER"]) >= 95


@pytest.mark.parametrize(
    ("src_path", "commit", "expected"),
    [
        ("gh:acme/goldenpath", "v0.3.0", "git+https://github.com/acme/goldenpath.git@v0.3.0"),
        ("gl:acme/goldenpath.git", "v1.2.3", "git+https://gitlab.com/acme/goldenpath.git@v1.2.3"),
        ("https://github.com/acme/goldenpath.git", "v0.2.0-3-gabc1234", "git+https://github.com/acme/goldenpath.git@abc1234"),
        ("git@github.com:acme/goldenpath.git", "v0.3.0", "git+ssh://git@github.com/acme/goldenpath.git@v0.3.0"),
        ("git+https://git.example.com/platform/golden", "'v2.0.0'", "git+https://git.example.com/platform/golden@v2.0.0"),
    ],
)  # fmt: skip
def test_audit_template_source_from_the_answers(src_path: str, commit: str, expected: str) -> None:
    script = load_script()
    answers = (
        f"# Changes here will be overwritten by Copier\n_commit: {commit}\n_src_path: {src_path}\n"
    )
    assert script.spec(answers) == expected


def test_audit_template_source_refuses_a_local_path_unless_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script()
    (tmp_path / ".copier-answers.yml").write_text(
        "_commit: v0.3.0\n_src_path: /home/me/goldenpath\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOLDENPATH_TEMPLATE", raising=False)
    assert script.main([]) == 1
    assert "GOLDENPATH_TEMPLATE" in capsys.readouterr().err
    monkeypatch.setenv("GOLDENPATH_TEMPLATE", "goldenpath==0.3.0")
    assert script.main([]) == 0
    assert capsys.readouterr().out == "from=goldenpath==0.3.0\n"
    (tmp_path / ".copier-answers.yml").unlink()
    monkeypatch.delenv("GOLDENPATH_TEMPLATE")
    assert script.main(["--spec"]) == 1
    assert "lacks _src_path" in capsys.readouterr().err


@pytest.mark.slow
def test_audit_runs_from_a_git_url_as_ci_runs_it(tmp_path: Path) -> None:
    """The template committed to a scratch repository, installed by uvx from its git URL."""
    template = tmp_path / "template-repository"
    shutil.copytree(
        REPOSITORY, template,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", "site"),
    )  # fmt: skip
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "t"]):
        subprocess.run(command, cwd=template, check=True, env=env, capture_output=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=template, check=True, capture_output=True, text=True
    ).stdout.strip()
    service = flask_service(tmp_path / "service")
    (service / ".copier-answers.yml").write_text(
        f"_commit: {commit}\n_src_path: {template.as_uri()}\n"
    )
    spec = subprocess.run(
        [sys.executable, str(SCRIPT), "--spec"], cwd=service, check=True, capture_output=True,
        text=True, env={k: v for k, v in os.environ.items() if k != "GOLDENPATH_TEMPLATE"},
    ).stdout.strip()  # fmt: skip
    assert spec == f"git+{template.as_uri()}@{commit}"
    uvx = shutil.which("uvx") or str(Path(os.environ.get("UV", "uv")).with_name("uvx"))
    completed = subprocess.run(
        [uvx, "--from", spec, "goldenpath", "audit", ".", "--format", "json", "--fail-under", "99"],
        cwd=service, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr  # the Flask service is far below 99%
    assert "below --fail-under 99" in completed.stderr
    assert json.loads(completed.stdout)["score"] == round(audit(service).score, 1)


def test_audit_template_source_reaches_a_local_clone_on_its_machine_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service generated from a local clone (the README's first command): the README's local
    commands install from the clone; the CI forms and `check` say what to set instead."""
    script = load_script()
    clone = tmp_path / "goldenpath"
    clone.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    for command in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", "t"]):
        subprocess.run(command, cwd=clone, check=True, env=env, capture_output=True)
    commit = subprocess.run(
        ["git", "describe", "--tags", "--always"], cwd=clone, check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    answers = f"_commit: '{commit}'\n_src_path: {clone}\n"
    assert script.spec(answers, here=True) == f"git+{clone.as_uri()}@{commit}"
    # Generated from uncommitted changes: Copier's commit exists nowhere; the working tree does.
    assert script.spec(answers.replace(commit, "0123abc"), here=True) == str(clone)
    assert "has no commit 0123abc" in capsys.readouterr().err
    with pytest.raises(script.TemplateSourceError, match="which is not on this machine"):
        script.spec(answers.replace(str(clone), "/nowhere/goldenpath"), here=True)
    for ci_form in (script.spec, script.update_outputs, script.check):
        with pytest.raises(script.TemplateSourceError) as refused:
            ci_form(answers)
        assert f"copied from a local path ({clone}), which CI" in str(refused.value)
        assert "set `_src_path` in .copier-answers.yml" in str(refused.value)
        assert f"GOLDENPATH_TEMPLATE to\n    git+<the template's git URL>@{commit}" in str(
            refused.value
        )

    (tmp_path / "service").mkdir()
    (tmp_path / "service" / ".copier-answers.yml").write_text(answers)
    monkeypatch.chdir(tmp_path / "service")
    monkeypatch.delenv("GOLDENPATH_TEMPLATE", raising=False)
    assert script.main(["--spec"]) == 0
    assert capsys.readouterr().out == f"git+{clone.as_uri()}@{commit}\n"
    assert script.main(["check"]) == 1
    assert capsys.readouterr().err.startswith("::error::the template was copied from a local")
    (tmp_path / "service" / ".copier-answers.yml").write_text(
        "_commit: v0.3.0-2-gabc1234\n_src_path: gh:acme/goldenpath\n"
    )
    assert script.main(["check"]) == 0
    assert script.main(["--update"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "url=https://github.com/acme/goldenpath.git",
        "release=v0.3.0",
    ]
