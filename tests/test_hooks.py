"""TPL-2: the hook and migration scripts, unit by unit (the update tests run them for real)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import answers_path
import chassis_wheel
import pytest
import rename_setting
import to_chassis
import yaml

HOOKS = Path(__file__).resolve().parents[1] / "hooks"
SCRIPTS = HOOKS.parent / "template" / ".github" / "scripts"
OLD, NEW = "HEALTH_TIMEOUT_SECONDS", "READINESS_TIMEOUT_SECONDS"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("HEALTH_TIMEOUT_SECONDS=2\n", "READINESS_TIMEOUT_SECONDS=2\n"),
        ("- name: HEALTH_TIMEOUT_SECONDS\n", "- name: READINESS_TIMEOUT_SECONDS\n"),
        ("t = settings.health_timeout_seconds\n", "t = settings.readiness_timeout_seconds\n"),
        # Whole words only.
        ("APP_HEALTH_TIMEOUT_SECONDS=1\n", "APP_HEALTH_TIMEOUT_SECONDS=1\n"),
        ("HEALTH_TIMEOUT_SECONDS_MAX=1\n", "HEALTH_TIMEOUT_SECONDS_MAX=1\n"),
        # A line that names both describes the rename and stays.
        ('    "HEALTH_TIMEOUT_SECONDS": "READINESS_TIMEOUT_SECONDS",\n',) * 2,
    ],
)
def test_tpl2_rename_setting_rewrites_whole_words_only(before: str, after: str) -> None:
    renamed, count = rename_setting.rename_in_text(before, OLD, NEW)
    assert renamed == after
    assert count == (0 if before == after else 1)


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)


def test_tpl2_rename_setting_reaches_ignored_env_files_but_not_the_venv(tmp_path: Path) -> None:
    project = tmp_path / "service"
    (project / "deploy").mkdir(parents=True)
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".gitignore").write_text(".env\n.venv/\n")
    (project / ".env").write_text("HEALTH_TIMEOUT_SECONDS=3\n")
    (project / "deploy" / "values.yaml").write_text("env:\n  HEALTH_TIMEOUT_SECONDS: '3'\n")
    (project / ".venv" / "lib" / "x.env").write_text("HEALTH_TIMEOUT_SECONDS=9\n")
    (project / "uv.lock").write_text("# HEALTH_TIMEOUT_SECONDS\n")
    (project / "logo.bin").write_bytes(b"\xff\xfeHEALTH_TIMEOUT_SECONDS")
    git(project, "init", "-q")
    git(project, "add", "-A")

    completed = subprocess.run(
        [sys.executable, str(HOOKS / "migrations" / "rename_setting.py"), OLD, NEW],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )

    assert (project / ".env").read_text() == "READINESS_TIMEOUT_SECONDS=3\n"
    assert "READINESS_TIMEOUT_SECONDS: '3'" in (project / "deploy" / "values.yaml").read_text()
    assert "HEALTH" in (project / ".venv" / "lib" / "x.env").read_text()
    assert "HEALTH" in (project / "uv.lock").read_text()
    assert (project / "logo.bin").read_bytes() == b"\xff\xfeHEALTH_TIMEOUT_SECONDS"
    assert "2 file(s) changed" in completed.stderr
    # Idempotent: a second run finds nothing.
    again = rename_setting.rename_in_files(rename_setting.project_files(project), OLD, NEW)
    assert again == {}


def test_tpl2_rename_setting_refuses_names_that_are_not_variables(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(HOOKS / "migrations" / "rename_setting.py"), "old-name", NEW],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "'old-name' is not an environment variable name" in completed.stderr


# answers_path.py: a relative `_src_path` becomes the clone's absolute path ----------------------
def _git(cwd: Path, *args: str) -> str:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t"}
    env = identity | {"GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env["PATH"] = os.environ["PATH"]
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


def _service(tmp_path: Path, src_path: str) -> Path:
    project = tmp_path / "service"
    project.mkdir(parents=True)
    (project / ".copier-answers.yml").write_text(
        f"# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n_commit: 3255607\n"
        f"_src_path: {src_path}\nproject_name: Probe\n"
    )
    return project


def test_tpl2_a_relative_template_path_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Copier does with `copier copy . ../svc`: a clone of `.`, whose origin is the path."""
    original = tmp_path / "my templates" / "goldenpath"
    original.mkdir(parents=True)
    (original / "copier.yml").write_text("_subdirectory: template\n")
    _git(original, "init", "--quiet")
    _git(original, "add", "copier.yml")
    _git(original, "commit", "--quiet", "-m", "template")
    copier_clone = tmp_path / "copier-clone"
    _git(original, "clone", "--quiet", ".", str(copier_clone))  # relative, as Copier does
    monkeypatch.setenv("PWD", str(tmp_path / "elsewhere"))  # PWD must not be needed
    project = _service(tmp_path, ".")

    assert answers_path.pin_template_path(project, copier_clone) == original
    answers = (project / ".copier-answers.yml").read_text()
    assert f"_src_path: '{original}'\n" in answers  # a space: quoted, as YAML needs
    assert answers.endswith("project_name: Probe\n")
    assert yaml.safe_load(answers)["_src_path"] == str(original)


@pytest.mark.parametrize(
    "src_path", ["gh:acme/goldenpath", "https://example.com/g.git", "git@host:g.git", "/srv/g"]
)
def test_tpl2_a_remote_or_absolute_template_source_is_kept(tmp_path: Path, src_path: str) -> None:
    project = _service(tmp_path, src_path)
    before = (project / ".copier-answers.yml").read_text()
    assert answers_path.pin_template_path(project, tmp_path) is None
    assert (project / ".copier-answers.yml").read_text() == before


def test_tpl2_a_template_folder_without_git_is_its_own_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "plain-template"
    template.mkdir()
    (template / "copier.yml").write_text("{}\n")
    monkeypatch.delenv("PWD", raising=False)
    project = _service(tmp_path, "../plain-template")
    assert answers_path.pin_template_path(project, template) == template
    assert f"_src_path: {template}\n" in (project / ".copier-answers.yml").read_text()

    lost = _service(tmp_path / "other", "./gone")
    assert answers_path.pin_template_path(lost, tmp_path / "gone") is None
    assert "is relative to where Copier ran" in capsys.readouterr().err


# A stand-in for uv: `build` writes $FAKE_UV_BUILDS (a wheel's file name) into --out-dir, or
# fails when it is empty; `lock` succeeds.
FAKE_UV = """\
import os, sys
from pathlib import Path
if sys.argv[1] == "build":
    name = os.environ["FAKE_UV_BUILDS"]
    if not name:
        sys.exit("fake uv: the build failed")
    out = Path(sys.argv[sys.argv.index("--out-dir") + 1])
    (out / name).write_text("new wheel")
"""
WHEEL = ".chassis/goldenpath_chassis-0.4.0-py3-none-any.whl"


def _service_with_a_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake = tmp_path / "fake-uv"
    fake.write_text(f"#!{sys.executable}\n{FAKE_UV}")
    fake.chmod(0o755)
    monkeypatch.setenv("UV", str(fake))
    clone = tmp_path / "clone"
    (clone / "chassis").mkdir(parents=True)
    (clone / "chassis" / "pyproject.toml").write_text("[project]\n")
    project = tmp_path / "service"
    (project / ".chassis").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f'[tool.uv.sources]\ngoldenpath-chassis = {{ path = "{WHEEL}" }}\n'
    )
    (project / ".chassis" / "SOURCE").write_text(f"{clone}\n")
    (project / WHEEL).write_text("working wheel")
    return project


@pytest.mark.parametrize("builds", ["", "goldenpath_chassis-0.5.0-py3-none-any.whl"])
def test_tpl5_a_failed_or_other_version_build_keeps_the_working_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: str
) -> None:
    project = _service_with_a_wheel(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_UV_BUILDS", builds)
    refresh = subprocess.run(
        [sys.executable, str(SCRIPTS / "chassis_source.py"), "refresh"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refresh.returncode == 2, refresh.stderr
    assert "unchanged" in refresh.stderr
    assert not chassis_wheel.build_chassis_wheel(project, tmp_path / "clone" / "chassis")
    assert (project / WHEEL).read_text() == "working wheel"
    assert {path.name for path in (project / ".chassis").iterdir()} == {"SOURCE", Path(WHEEL).name}


def test_tpl5_a_wanted_build_replaces_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _service_with_a_wheel(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_UV_BUILDS", Path(WHEEL).name)
    refresh = subprocess.run(
        [sys.executable, str(SCRIPTS / "chassis_source.py"), "refresh"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refresh.returncode == 0, refresh.stderr
    assert (project / WHEEL).read_text() == "new wheel"
    (project / WHEEL).write_text("working wheel")
    assert chassis_wheel.build_chassis_wheel(project, tmp_path / "clone" / "chassis")
    assert (project / WHEEL).read_text() == "new wheel"
    assert {path.name for path in (project / ".chassis").iterdir()} == {"SOURCE", Path(WHEEL).name}


def test_tpl2_a_failed_render_says_which_release_and_shows_copiers_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-template-here"
    with pytest.raises(SystemExit) as exited:
        to_chassis.render(str(missing), "v0.3.9", {"project_name": "Probe"}, tmp_path / "old")
    assert "could not render the template at v0.3.9" in str(exited.value.code)
    assert "Local template must be a directory" in capsys.readouterr().err  # Copier's own
