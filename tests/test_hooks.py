"""TPL-2: the hook and migration scripts, unit by unit (the update tests run them for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rename_setting

HOOKS = Path(__file__).resolve().parents[1] / "hooks"
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
