"""TPL-2: a release's change to a file the service deleted is reported, not lost in silence.

`copier update` leaves a file the team deleted deleted even when the release changes it, and
prints nothing about it. These tests use a small real template with two releases and a service
made from it by Copier, then preview and prepare the update as a team and the workflow do.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from goldenpath.cli import main
from goldenpath.deleted_files import DeletedFile, RenderError, render
from goldenpath.fleet import inspect_service, update_text
from goldenpath.report import DELETED_DIFF_LINES, pull_request_body, release_change, report_text
from goldenpath.update import Templates, prepare_branch, try_update
from tests.support.releases import GIT_IDENTITY, copy_committed

COPIER_YML = """\
name:
  type: str
  default: service
_subdirectory: template
"""
ANSWERS = "{{ _copier_conf.answers_file }}.jinja"


def git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repository, capture_output=True, text=True, check=True, env=GIT_IDENTITY
    ).stdout


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / name).write_bytes(content)
        else:
            (root / name).write_text(content)


def release(template: Path, tag: str, files: dict[str, str | bytes]) -> None:
    write(template / "template", files)
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", tag)
    git(template, "tag", tag)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "--quiet", "--initial-branch=main")
    write(template, {"copier.yml": COPIER_YML})
    (template / "template").mkdir()
    (template / "template" / ANSWERS).write_text("{{ _copier_answers|to_nice_yaml }}")
    release(
        template,
        "v0.1.0",
        {
            "README.md.jinja": "# {{ name }}\n",
            "{{ name }}.md.jinja": "Runbook for {{ name }}.\nPage the owner.\n",
            "ci.yml": "steps:\n  - uses: actions/checkout@v4\n  - run: make test\n",
            "notes.md": "Notes.\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\xff one",
        },
    )
    release(
        template,
        "v0.2.0",
        {
            "README.md.jinja": "# {{ name }}\n\nNow with a changelog.\n",
            "{{ name }}.md.jinja": "Runbook for {{ name }}.\nPage the owner, then the platform.\n",
            "ci.yml": "steps:\n  - uses: actions/checkout@v5\n  - run: make test\n",
            "scan.yml": "steps:\n  - run: trivy fs .\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\xff two",
        },
    )
    return template


def generate(template: Path, destination: Path, *, deleted: tuple[str, ...]) -> Path:
    copy_committed(template, destination, ref="v0.1.0", data=["name=orders"])
    if deleted:
        git(destination, "rm", "--quiet", *deleted)
        git(destination, "commit", "--quiet", "-m", "not ours")
    return destination


def test_tpl2_the_releases_changes_to_deleted_files_are_reported(
    template: Path, tmp_path: Path
) -> None:
    # ci.yml, the templated runbook and the logo change in v0.2.0; notes.md does not.
    service = generate(
        template, tmp_path / "orders", deleted=("ci.yml", "orders.md", "notes.md", "logo.png")
    )
    with Templates() as templates:
        _, report = try_update(service, templates)
    assert report is not None
    deleted = {file.path: file for file in report.applied.deleted}
    assert sorted(deleted) == ["ci.yml", "logo.png", "orders.md"], deleted
    assert deleted["logo.png"].after == "(a binary file of 13 bytes)"
    assert deleted["ci.yml"].after.splitlines()[1] == "  - uses: actions/checkout@v5"
    assert not (service / "ci.yml").exists()  # a preview changes nothing in the service
    assert report.ready  # informational: the team deleted them on purpose

    text = report_text(report)
    assert "deleted files the release changes: 3; they stay deleted" in text
    assert "-  - uses: actions/checkout@v4" in text
    assert "+  - uses: actions/checkout@v5" in text
    assert "+Page the owner, then the platform." in text
    body = pull_request_body(report)
    assert "## Files this service deleted that the release changes" in body
    assert "**`orders.md`**" in body
    assert "**the release's change to them is not in this branch**" in body


def test_tpl2_a_service_that_deleted_nothing_hears_nothing_of_it(
    template: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = generate(template, tmp_path / "orders", deleted=())
    assert main(["update-preview", str(service), "--gates=none", "--format=json"]) == 0
    previewed = json.loads(capsys.readouterr().out)
    assert previewed["deleted_files_changed"] == []
    assert previewed["deleted_files_unchecked"] is None
    rendered: list[str] = []

    def recorded(template: str, ref: str, *rest: Any, **options: Any) -> Path:
        rendered.append(ref)
        return render(template, ref, *rest, **options)

    monkeypatch.setattr("goldenpath.deleted_files.render", recorded)
    with Templates() as templates:
        _, report = try_update(service, templates)
    assert report is not None
    # The target's render only: with nothing deleted there is no release to compare with.
    assert rendered == ["v0.2.0"]
    assert "deleted files" not in report_text(report)
    assert "deleted that the release changes" not in pull_request_body(report)


def test_tpl2_the_update_branch_reports_them_too(template: Path, tmp_path: Path) -> None:
    # The branch the scheduled workflow prepares, in the service itself.
    service = generate(template, tmp_path / "orders", deleted=("ci.yml",))
    with Templates() as templates:
        result = prepare_branch(service, templates)
    assert result.report is not None
    assert [file.path for file in result.report.applied.deleted] == ["ci.yml"]
    assert git(service, "branch", "--show-current").strip() == "template-update"
    assert not (service / "ci.yml").exists()
    assert (service / "scan.yml").is_file()  # what the release adds is added


def test_tpl2_a_release_that_cannot_be_rendered_is_named(template: Path, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=re.escape("cannot render the template at v9.9.9")):
        render(
            f"git+file://{template}", "v9.9.9", {"name": "orders"}, tmp_path / "render", timeout=60
        )


def test_tpl2_an_update_whose_deleted_files_cannot_be_checked_says_so(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The update itself still applies; only the check is missing, and the report says why.
    def unrenderable(*_: object, **__: object) -> None:
        raise RenderError("cannot render the template at v0.1.0: its copier.yml is not YAML")

    monkeypatch.setattr("goldenpath.update.deleted_but_changed", unrenderable)
    service = generate(template, tmp_path / "orders", deleted=("ci.yml",))
    with Templates() as templates:
        _, report = try_update(service, templates)
    assert report is not None
    assert report.applied.deleted == ()
    assert "deleted files: not checked: cannot render the template at v0.1.0" in report_text(report)
    assert "Not checked: cannot render" in pull_request_body(report)


def test_tpl2_a_long_change_to_a_deleted_file_is_cut_with_a_count() -> None:
    before = "".join(f"line {n}\n" for n in range(500))
    after = "".join(f"line {n} changed\n" for n in range(500))
    shown = release_change(DeletedFile("big.yml", before, after))
    assert len(shown) == DELETED_DIFF_LINES + 1
    assert shown[-1] == f"[... {1001 - DELETED_DIFF_LINES} more lines of the release's change]"
    added = release_change(DeletedFile("new.yml", None, "one\ntwo\n"))
    assert added == ["+one", "+two"]


def test_tpl2_the_fleet_row_names_them(template: Path, tmp_path: Path) -> None:
    service = generate(template, tmp_path / "orders", deleted=("ci.yml",))
    with Templates() as templates:
        status = inspect_service(service, templates, with_audit=False)
    assert status.update == "clean"
    assert status.deleted == ("ci.yml",)
    assert update_text(status) == "clean; deleted but changed: ci.yml"
    assert status.to_json(datetime.now(UTC))["deleted_files_changed"] == ["ci.yml"]
