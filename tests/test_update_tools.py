"""TPL-2: the update and fleet tools (`goldenpath update-*`, `goldenpath fleet`), piece by piece.

Fast tests on small real git repositories; tests/test_update_rollout.py runs the same tools on
generated services with `copier update`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dunamai  # Copier's own dependency: the reference for how Copier versions a commit
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from packaging.version import Version

from goldenpath._cli_support import EXIT_ERROR, reports_errors
from goldenpath._github import write_github_output
from goldenpath.answers import recorded_version
from goldenpath.audit import audit
from goldenpath.audit.checks.template import release_tuple
from goldenpath.audit.runner import own_release
from goldenpath.changelog import changed_sections, sections_between
from goldenpath.cli import main
from goldenpath.conflicts import Conflict, keep_ours, resolve_to_ours
from goldenpath.deleted_files import DeletedFile
from goldenpath.fleet import FAILED, ServiceStatus, inspect_service, repositories_from, table
from goldenpath.fleet_audit import audit_score
from goldenpath.fleet_cache import OutcomeCache
from goldenpath.gates import GateResult, parse_gates, run_gates
from goldenpath.migrations import migrations_run
from goldenpath.releases import Commit, Release, clone_url, list_releases
from goldenpath.report import BODY_LIMIT, code, fenced, pull_request_body, report_text, title
from goldenpath.update import (
    TRAILER,
    AppliedUpdate,
    Templates,
    UpdatePlan,
    UpdateReport,
    foreign_commits,
    plan_update,
)
from goldenpath.update_cli import EXIT_UPDATE_AVAILABLE
from tests.support.releases import GIT_IDENTITY, working_tree_version
from tests.support.workflows import read_github_output


def git(repository: Path, *args: str, date: str | None = None) -> str:
    env = GIT_IDENTITY | ({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {})
    completed = subprocess.run(
        ["git", *args], cwd=repository, capture_output=True, text=True, check=True, env=env
    )
    return completed.stdout


def repository(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    return path


def commit(path: Path, message: str, *, date: str | None = None) -> str:
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--allow-empty", "-m", message, date=date)
    return git(path, "rev-parse", "HEAD").strip()


# Versions and releases ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("commit_", "expected"),
    [
        ("v0.2.0", Version("0.2.0")),
        ("0.3.1", Version("0.3.1")),
        # Past a tag, as Copier reads it: newer than v0.2.0, older than v0.2.1.
        ("v0.2.0-3-gabc1234", Version("0.2.0.post3+gabc1234")),
        ("3f2c9a1", None),
    ],
)
def test_tpl2_the_recorded_commit_is_read_as_copier_reads_it(
    commit_: str, expected: Version | None
) -> None:
    assert recorded_version(commit_) == expected


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("gh:acme/goldenpath", "https://github.com/acme/goldenpath.git"),
        ("gl:acme/goldenpath.git", "https://gitlab.com/acme/goldenpath.git"),
        ("git+https://git.example.com/golden", "https://git.example.com/golden"),
        ("/srv/templates/goldenpath", "/srv/templates/goldenpath"),
    ],
)
def test_tpl2_template_sources_become_git_urls(source: str, url: str) -> None:
    assert clone_url(source) == url


def make_template(path: Path) -> Path:
    """A template repository with releases, a prerelease and a tag that is no version."""
    template = repository(path)
    for tag, date in (("v0.1.0", "2026-01-01T00:00:00Z"), ("v0.10.0", "2026-03-01T00:00:00Z")):
        commit(template, tag, date=date)
        git(template, "tag", tag)
    commit(template, "next", date="2026-02-01T00:00:00Z")
    git(template, "tag", "-a", "v0.2.0", "-m", "annotated", date="2026-02-01T00:00:00Z")
    git(template, "tag", "v0.11.0rc1")
    git(template, "tag", "latest")
    return template


def test_tpl2_releases_are_the_version_tags_copier_would_update_to(tmp_path: Path) -> None:
    releases = list_releases(make_template(tmp_path / "template"))
    # PEP 440 order (v0.10.0 after v0.2.0), prereleases and other tags left out, tag dates kept.
    assert [release.tag for release in releases] == ["v0.1.0", "v0.2.0", "v0.10.0"]
    assert [release.date.date().isoformat() for release in releases] == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]


def answers(project: Path, source: Path | str, commit_: str) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / ".copier-answers.yml").write_text(
        f"_commit: {commit_}\n_src_path: {source}\nproject_slug: probe\n"
    )
    return project


def test_tpl2_update_check_counts_releases_and_days_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = make_template(tmp_path / "template")
    project = answers(tmp_path / "service", template, "v0.1.0")
    output = tmp_path / "github-output"
    # Taken before the tool's own clock: its count is this one, or one more if midnight passes.
    days = (datetime.now(UTC) - datetime(2026, 2, 1, tzinfo=UTC)).days
    assert main(["update-check", str(project), "--format=json", f"--github-output={output}"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["missing_releases"] == ["v0.2.0", "v0.10.0"]
    assert checked["releases_behind"] == 2
    assert checked["days_behind"] in {days, days + 1}
    assert (checked["version_date"], checked["newest"]) == ("2026-01-01", "v0.10.0")
    assert read_github_output(output) == {
        "available": "true",
        "current": "v0.1.0",
        "newest": "v0.10.0",
        "untagged": "false",
    }

    answers(project, template, "v0.10.0")
    assert main(["update-check", str(project)]) == 0
    assert "the newest release. Nothing to do." in capsys.readouterr().out


def test_tpl2_update_check_exit_code_tells_a_script_an_update_is_available(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = make_template(tmp_path / "template")
    project = answers(tmp_path / "service", template, "v0.1.0")
    # Opt-in: without --exit-code, 0 either way, for the callers written before it.
    assert main(["update-check", str(project)]) == 0
    assert "2 release(s) behind" in capsys.readouterr().out
    assert main(["update-check", str(project), "--exit-code", "--format=json"]) == 1
    assert json.loads(capsys.readouterr().out)["releases_behind"] == 2
    assert main(["update-check", str(project), "--exit-code", "--to=v0.1.0"]) == 0
    answers(project, template, "v0.10.0")
    assert main(["update-check", str(project), "--exit-code"]) == 0
    assert "Nothing to do." in capsys.readouterr().out
    # An error stays 2, not to be read as "an update is available".
    assert main(["update-check", str(tmp_path / "nowhere"), "--exit-code"]) == 2


def test_tpl2_update_commands_refuse_bad_input_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = make_template(tmp_path / "template")
    assert main(["update-check", str(tmp_path / "nowhere")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"goldenpath update-check: error: {tmp_path / 'nowhere'}: no such directory"
    )
    (tmp_path / "plain").mkdir()
    assert main(["update-check", str(tmp_path / "plain")]) == 2
    assert "no .copier-answers.yml, not generated by Copier" in capsys.readouterr().err
    answers(tmp_path / "service", template, "v0.1.0")
    assert main(["update-check", str(tmp_path / "service"), "--to=v9.9.9"]) == 2
    assert "has no release 'v9.9.9' (releases: v0.1.0, v0.2.0, v0.10.0)" in capsys.readouterr().err
    answers(tmp_path / "lost", tmp_path / "gone", "v0.1.0")
    assert main(["update-check", str(tmp_path / "lost")]) == 2
    assert "cannot read the template at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["update-preview", "--gates=lint,coverage"])
    assert usage.value.code == 2
    assert "unknown gate(s) coverage" in capsys.readouterr().err


@pytest.mark.parametrize("recorded", ["v9.9.9", "banana"])
def test_tpl2_a_release_the_tagged_template_does_not_have_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: str
) -> None:
    # Not "the newest release" nor "2 release(s) behind": the service's release is unknown.
    template = make_template(tmp_path / "template")
    project = answers(tmp_path / "service", template, recorded)
    assert main(["update-check", str(project)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert f"records `_commit: {recorded}`, which the template at {template}" in captured.err
    assert "does not have (releases: v0.1.0, v0.2.0, v0.10.0)" in captured.err


def test_tpl2_a_file_that_is_not_utf8_is_one_clear_line_and_one_fleet_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = make_template(tmp_path / "template")
    broken = answers(tmp_path / "broken", template, "v0.1.0")
    with (broken / ".copier-answers.yml").open("ab") as file:
        file.write(b"owner: \xff\n")
    assert main(["update-check", str(broken)]) == 2
    error = capsys.readouterr().err
    assert (
        error
        == f"goldenpath update-check: error: {broken / '.copier-answers.yml'}: not UTF-8 text "
        + ("(invalid start byte)\n")
    )
    # One such service costs the fleet its own row, not the report.
    current = answers(tmp_path / "current", template, "v0.10.0")
    arguments = ["fleet", str(current), str(broken), "--format=json", "--no-audit", "--no-cache"]
    arguments.append(f"--template={template}")
    assert main(arguments) == 1
    rows = json.loads(capsys.readouterr().out)["services"]
    assert [(row["update"], row["error"] is None) for row in rows] == [
        ("up-to-date", True),
        ("failed", False),
    ]
    assert "not UTF-8 text" in rows[1]["error"]
    listed = tmp_path / "services.txt"
    listed.write_bytes(b"current\n\xff\n")
    assert main(["fleet", str(listed), "--no-audit", f"--template={template}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"goldenpath fleet: error: {listed}: not a list of repositories (not UTF-8 text: "
        "invalid start byte)\n"
    )


# Release notes and migrations ----------------------------------------------------------------
CHANGELOG = """# Changelog

## [Unreleased]

- not yet

## [0.3.0] - 2026-03-01

### Added
- three

## [0.2.0] - 2026-02-01

- two

## [0.1.0]

- one

[0.3.0]: https://example.com/compare/v0.2.0...v0.3.0
"""


def test_tpl2_release_notes_are_the_sections_an_update_crosses() -> None:
    sections = sections_between(CHANGELOG, Version("0.1.0"), Version("0.3.0"))
    assert [section.heading for section in sections] == ["0.3.0 - 2026-03-01", "0.2.0 - 2026-02-01"]
    assert sections[0].body == "### Added\n- three"
    assert [s.body for s in sections_between(CHANGELOG, Version("0.2.0"), Version("0.2.0"))] == []
    assert [s.body for s in sections_between(CHANGELOG, None, Version("0.1.0"))] == ["- one"]


COPIER_YML = """
_migrations:
  - version: v0.2.0
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrations/a.py", "X"]
  - version: v0.4.0
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrations/b.py"]
  - command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/post_update.py"]
"""


def test_tpl2_the_migrations_named_are_those_copier_runs() -> None:
    crossing = migrations_run(COPIER_YML, Version("0.1.0"), Version("0.3.0"))
    assert [(m.command, m.version) for m in crossing] == [
        ("hooks/migrations/a.py X", "v0.2.0"),
        ("hooks/post_update.py", None),
    ]
    # new >= version > old: from v0.2.0 itself the v0.2.0 migration does not run again.
    after = migrations_run(COPIER_YML, Version("0.2.0"), Version("0.4.0"))
    assert [m.command for m in after] == ["hooks/migrations/b.py", "hooks/post_update.py"]
    assert migrations_run(COPIER_YML, None, Version("0.4.0")) == []


# Conflicts ---------------------------------------------------------------------------------------
MARKED = """keep 1
<<<<<<< before updating
ours A
=======
theirs A
>>>>>>> after updating
keep 2
<<<<<<< before updating
ours B
||||||| last update
base B
=======
theirs B1
theirs B2
>>>>>>> after updating
"""


def test_tpl2_conflicts_keep_the_teams_lines_and_report_the_releases() -> None:
    text, found = keep_ours(MARKED)
    assert text == "keep 1\nours A\nkeep 2\nours B\n"
    assert found == [(2, "ours A\n", "theirs A\n"), (4, "ours B\n", "theirs B1\ntheirs B2\n")]
    unterminated = "a\n<<<<<<< before updating\nb\n"
    assert keep_ours(unterminated) == (unterminated, [])


def test_tpl2_a_real_merge_conflict_is_resolved_to_our_side_and_staged(tmp_path: Path) -> None:
    project = repository(tmp_path / "service")
    (project / "README.md").write_text("# Title\n\ntext\n")
    commit(project, "base")
    git(project, "switch", "--quiet", "-c", "release")
    (project / "README.md").write_text("# Release title\n\ntext\n")
    commit(project, "release")
    git(project, "switch", "--quiet", "main")
    (project / "README.md").write_text("# Team title\n\ntext\n")
    commit(project, "team")
    subprocess.run(["git", "merge", "release"], cwd=project, capture_output=True, check=False)

    conflicts = resolve_to_ours(project)
    # The lines both sides started from come from the index: the release's change is exact.
    assert conflicts == [
        Conflict("README.md", 1, "# Team title\n", "# Release title\n", base="# Title\n")
    ]
    assert (project / "README.md").read_text() == "# Team title\n\ntext\n"
    assert not git(project, "diff", "--name-only", "--diff-filter=U").strip()


def test_tpl2_a_branch_with_a_persons_commit_is_foreign(tmp_path: Path) -> None:
    project = repository(tmp_path / "service")
    commit(project, "base")
    git(project, "switch", "--quiet", "-c", "template-update")
    commit(project, f"Update the template\n\n{TRAILER}")
    git(project, "switch", "--quiet", "main")
    assert foreign_commits(project, "refs/heads/template-update") == []
    assert foreign_commits(project, "refs/heads/no-such-branch") == []
    git(project, "switch", "--quiet", "template-update")
    fix = commit(project, "resolve the conflict by hand")
    git(project, "switch", "--quiet", "main")
    assert foreign_commits(project, "refs/heads/template-update") == [fix]


# Gates -------------------------------------------------------------------------------------------
def test_tpl2_gate_lists_name_known_gates() -> None:
    assert parse_gates("quick") == ("lint", "format", "unit")
    assert parse_gates("all") == ("lint", "format", "types", "tests")
    assert parse_gates("none") == ()
    assert parse_gates("lint, types") == ("lint", "types")
    with pytest.raises(ValueError, match=r"unknown gate\(s\) pytest"):
        parse_gates("lint,pytest")


def test_tpl2_gates_do_not_run_on_a_service_that_does_not_install(tmp_path: Path) -> None:
    results = run_gates(tmp_path, ["lint", "unit"])  # no pyproject.toml: `uv sync` fails
    assert [(gate.name, gate.passed) for gate in results] == [
        ("sync", False),
        ("lint", False),
        ("unit", False),
    ]
    assert results[0].output
    assert results[1].output == "not run: sync failed"
    assert run_gates(tmp_path, []) == []


# The pull request's text ---------------------------------------------------------------------
def release(tag: str, day: int) -> Release:
    return Release(tag, Version(tag), "0" * 40, datetime(2026, 1, day, tzinfo=UTC))


def a_report(
    *,
    conflicts: tuple[Conflict, ...] = (),
    gates_pass: bool = True,
    changelog_text: str = CHANGELOG,
) -> UpdateReport:
    old, new = release("v0.1.0", 1), release("v0.2.0", 20)
    plan = UpdatePlan(
        project=Path("service"),
        service="probe",
        source="gh:acme/goldenpath",
        recorded_commit="v0.1.0",
        version=old.version,
        current=old,
        newest=new,
        target=new,
        missing=(new,),
        pending=(new,),
    )
    applied = AppliedUpdate("migration x: renamed\n", conflicts, ("M\tREADME.md",))
    gates = (GateResult("lint", "uv run ruff check", gates_pass, 1.0, "E501 too long"),)
    changelog = tuple(sections_between(changelog_text, Version("0.1.0"), Version("0.2.0")))
    migrations = tuple(migrations_run(COPIER_YML, Version("0.1.0"), Version("0.2.0")))
    return UpdateReport(plan, applied, changelog, migrations, gates)


def test_tpl2_the_pull_request_says_what_needs_a_person() -> None:
    ready = a_report()
    assert title(ready) == "Update the template from v0.1.0 to v0.2.0"
    body = pull_request_body(ready)
    assert "Ready for review" in body
    assert "### 0.2.0 - 2026-02-01\n\n- two" in body
    assert "- `hooks/migrations/a.py X` (crossing v0.2.0)" in body
    assert "migration x: renamed" in body

    conflict = Conflict("README.md", 1, "# Ours ``` fenced\n", "# Theirs\n")
    exact = Conflict("tests/conftest.py", 7, "x = 1\n", "x = 2\nbearer = token()\n", "x = 0\n")
    blocked = a_report(conflicts=(conflict, exact), gates_pass=False)
    assert title(blocked).endswith("(conflicts to resolve)")
    body = pull_request_body(blocked)
    assert (
        "**Needs a person**: 2 conflicts in 2 files (the release's change there was dropped; "
        "see below) and a gate failed (lint)." in body
    )
    conflicts = section(body, "Conflicts left for a person")
    assert "- `README.md`: line 1\n- `tests/conftest.py`: line 7" in conflicts
    # Without the common lines: both sides; with them, the release's change itself.
    assert "````diff\n-# Ours ``` fenced\n+# Theirs\n````" in conflicts
    assert (
        "**`tests/conftest.py`**, line 7: the release's change here was **dropped**:\n\n"
        "```diff\n-x = 0\n+x = 2\n+bearer = token()\n```\n\n"
        "Your change to the same lines, kept:\n\n```diff\n-x = 0\n+x = 1\n```"
    ) in conflicts
    said = report_text(blocked)
    assert said.splitlines()[0].endswith(
        "needs a person: 2 conflicts in 2 files (the release's change there was dropped; "
        "see below) and a gate failed (lint)"
    )
    assert (
        "  conflicts: 2 conflicts in 2 files; your lines are kept, the release's change there "
        "is dropped:" in said
    )
    assert (
        "    tests/conftest.py:7\n"
        "      the release's change (dropped):\n"
        "        -x = 0\n        +x = 2\n        +bearer = token()\n"
        "      your change (kept):\n"
        "        -x = 0\n        +x = 1"
    ) in said


def test_tpl2_long_release_notes_leave_room_for_what_a_person_acts_on() -> None:
    # A release of many changes (the template's own [Unreleased] reached it): its notes were
    # the description's first section, and the cut at GitHub's limit took the migrations, the
    # conflicts and the gates with them.
    entries = "".join(f"- change {number}: {'x' * 80}\n" for number in range(1500))
    long_changelog = CHANGELOG.replace("- two\n", "- two\n" + entries)
    conflict = Conflict("README.md", 1, "# Ours\n", "# Theirs\n")
    report = a_report(conflicts=(conflict,), gates_pass=False, changelog_text=long_changelog)
    body = pull_request_body(report)
    assert len(body) <= BODY_LIMIT
    assert "the description exceeded GitHub's limit" not in body
    notes = section(body, "What the release changes for this service")
    assert notes.startswith(
        "## What the release changes for this service\n\n### 0.2.0 - 2026-02-01\n\n- two\n"
    )
    cut = re.search(r"\[\.\.\. (\d+) characters of the release notes cut", notes)
    assert cut is not None
    assert int(cut[1]) > 0
    assert "CHANGELOG.md in the template at v0.2.0 has them whole]" in notes
    kept_lines = notes.split("\n\n[... ")[0].splitlines()
    assert kept_lines[-1].startswith("- change ")
    assert kept_lines[-1].endswith("x" * 80)  # cut between lines, not inside one
    assert "- `hooks/migrations/a.py X` (crossing v0.2.0)" in section(body, "Migrations that ran")
    assert "- `README.md`: line 1" in section(body, "Conflicts left for a person")
    assert "| lint | `uv run ruff check` | **failed**" in section(body, "Gates")
    # Notes that fit are not touched.
    assert "characters of the release notes cut" not in pull_request_body(a_report())

    # An untagged template's notes: what it is and its commits stay, around the cut changelog.
    commit_ = Commit("a" * 40, datetime(2026, 2, 1, tzinfo=UTC), "README: who owns the service")
    untagged = dataclasses.replace(
        report, plan=dataclasses.replace(report.plan, untagged=True, pending_commits=(commit_,))
    )
    body = pull_request_body(untagged)
    assert len(body) <= BODY_LIMIT
    notes = section(body, "What the release changes for this service")
    assert "The template has no release tag (vX.Y.Z)" in notes
    assert "characters of the release notes cut" in notes
    assert "README: who owns the service" in notes
    assert "- `README.md`: line 1" in section(body, "Conflicts left for a person")


def section(body: str, heading: str) -> str:
    start = body.index(f"## {heading}\n")
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else len(body)]


def test_tpl2_code_blocks_outlast_the_backticks_they_hold() -> None:
    assert fenced("plain") == "```\nplain\n```"
    assert fenced("a ```` b", "diff") == "`````diff\na ```` b\n`````"


# Paths a service's tree may hold: each is one file name to git, whatever Markdown it spells.
HOSTILE_PATHS = (
    "docs/a`b.md",
    "``x``.md",
    "`lead.md",
    "trail.md`",
    " spaced ",
    "x` [pwn](https://evil.example) `y",
    "x`<img src=x onerror=alert(1)>`y",
    "a\n\n[pwn](https://evil.example)",
)


def inline_tokens(markdown: str) -> list[Token]:
    """What a CommonMark parser (GitHub's tables on) makes of `markdown`, inline level."""
    parsed = MarkdownIt("commonmark").enable("table").parse(markdown)
    return [child for token in parsed if token.type == "inline" for child in token.children or []]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_tpl2_a_code_span_holds_the_whole_text_whatever_it_holds(path: str) -> None:
    shown = path.replace("\n", " ")  # a line break in a span renders as a space
    assert [(t.type, t.content) for t in inline_tokens(code(path))] == [("code_inline", shown)]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_tpl2_a_path_holding_backticks_stays_in_its_code_span_in_the_pull_request(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backtick in a path ended the single-backtick span early: what followed was Markdown
    # in the pull request (a link, an image), written by whoever named the file.
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)  # the run's link is the body's one link
    conflict = Conflict(path, 3, "ours\n", "theirs\n")
    rejected = Conflict(path, 0, "", "-a\n+b\n")
    deleted = DeletedFile(path, "old\n", "new\n")
    report = a_report(conflicts=(conflict, rejected))
    applied = AppliedUpdate("log", (conflict, rejected), (f"M\t{path}",), (deleted,))
    tokens = inline_tokens(pull_request_body(dataclasses.replace(report, applied=applied)))
    spans = [token.content for token in tokens if token.type == "code_inline"]
    shown = path.replace("\n", " ")
    # The conflicts' index, each conflict, the deleted file; the changed files' list.
    assert spans.count(shown) == 4
    assert spans.count(f"M\t{shown}") == 1
    assert [t.type for t in tokens if t.type in {"link_open", "image", "html_inline"}] == []


def test_tpl2_github_outputs_survive_any_value(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("earlier=kept\n")
    write_github_output(output, {"title": "Update: v1 -> v2", "body": "two\nlines", "empty": ""})
    assert read_github_output(output) == {
        "earlier": "kept",
        "title": "Update: v1 -> v2",
        "body": "two\nlines",
        "empty": "",
    }


# The fleet ---------------------------------------------------------------------------------------
def test_tpl2_fleet_lists_can_name_repositories(tmp_path: Path) -> None:
    listing = tmp_path / "lists" / "services.txt"
    listing.parent.mkdir()
    listing.write_text("# ours\n/srv/a\n\n../b   # relative to the list\n")
    found = repositories_from([str(listing), str(tmp_path / "c")])
    assert found == [Path("/srv/a"), listing.parent / "../b", tmp_path / "c"]


def test_tpl2_fleet_table_has_a_row_per_service() -> None:
    plan = a_report().plan
    now = datetime(2026, 1, 30, tzinfo=UTC)
    statuses = [
        ServiceStatus(Path("/srv/probe"), plan, "conflicts", ("README.md",)),
        ServiceStatus(Path("/srv/lost"), error="/srv/lost: no such directory\nmore"),
    ]
    lines = table(statuses, now).splitlines()
    assert lines[0].split() == ["service", "release", "newest", "behind", "audit", "update"]
    assert lines[1].split() == [
        "probe",
        "v0.1.0",
        "v0.2.0",
        "1",
        "(10",
        "d)",
        "-",
        "conflicts:",
        "README.md",
    ]
    assert lines[2].split() == [
        "lost",
        "-",
        "-",
        "-",
        "-",
        "error:",
        "/srv/lost:",
        "no",
        "such",
        "directory",
    ]


def test_tpl2_the_fleets_audit_column_is_the_audits_own_score(tmp_path: Path) -> None:
    service = tmp_path / "service"
    (service / "src" / "service").mkdir(parents=True)
    (service / "pyproject.toml").write_text(
        '[project]\nname = "service"\ndependencies = ["fastapi"]\n'
    )
    (service / "src" / "service" / "app.py").write_text(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        '@app.get("/health/live")\ndef live() -> dict[str, str]:\n    return {"status": "ok"}\n'
    )
    scored = audit_score(service)
    assert scored.score == round(audit(service).score, 1)
    assert scored.note is None
    broken = audit_score(tmp_path / "missing")
    assert broken.score is None
    assert "the audit failed" in str(broken.note)


def test_tpl2_templates_are_cloned_once_per_source(tmp_path: Path) -> None:
    template = make_template(tmp_path / "template")
    with Templates() as templates:
        first = plan_update(answers(tmp_path / "a", template, "v0.1.0"), templates)
        second = plan_update(answers(tmp_path / "b", template, "v0.2.0"), templates)
        assert templates.get(str(template)) is templates.get(str(template))
    assert [r.tag for r in first.missing] == ["v0.2.0", "v0.10.0"]
    assert [r.tag for r in second.missing] == ["v0.10.0"]


def test_tpl2_a_fleet_row_keeps_the_release_and_lag_when_the_update_cannot_be_tried(
    tmp_path: Path,
) -> None:
    template = make_template(tmp_path / "template")
    # The answers are readable, but the folder is no git repository: nothing to clone.
    service = answers(tmp_path / "service", template, "v0.1.0")
    cache = OutcomeCache(tmp_path / "cache")
    with Templates() as templates:
        status = inspect_service(service, templates, with_audit=False, cache=cache)
    assert status.plan is not None
    assert status.update == FAILED
    assert status.error
    assert not list(cache.folder.iterdir()), "a failed try is never kept"
    row = status.to_json(datetime(2026, 3, 1, tzinfo=UTC))
    assert (row["version"], row["newest"], row["releases_behind"]) == ("v0.1.0", "v0.10.0", 2)
    assert row["update"] == "failed"
    assert row["audit_note"] == "not audited (--no-audit)"
    line = table([status], datetime(2026, 3, 1, tzinfo=UTC)).splitlines()[1]
    assert line.split()[:4] == ["probe", "v0.1.0", "v0.10.0", "2"]
    assert "error:" in line


# An untagged template: commits instead of releases ----------------------------------------------
UNTAGGED_DATES = ("2026-01-05T12:00:00Z", "2026-02-02T12:00:00Z", "2026-03-02T12:00:00Z")


def make_untagged_template(path: Path) -> tuple[Path, list[str]]:
    """A template with three dated commits and no tag, like a clone made without tags."""
    template = repository(path)
    (template / "copier.yml").write_text(COPIER_YML)
    shas = []
    for number, date in enumerate(UNTAGGED_DATES, start=1):
        (template / "CHANGELOG.md").write_text(
            f"# Changelog\n\n## [Unreleased]\n\n- change {number}\n\n## [0.1.0]\n\n- one\n"
        )
        shas.append(commit(template, f"change {number}", date=date))
    return template, shas


def short(template: Path, sha: str) -> str:
    """The commit as Copier records it in `_commit` (`git describe --tags --always`)."""
    return git(template, "describe", "--tags", "--always", sha).strip()


def test_tpl2_an_untagged_template_is_compared_by_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template, shas = make_untagged_template(tmp_path / "template")
    project = answers(tmp_path / "service", template, short(template, shas[0]))
    output = tmp_path / "github-output"
    days = (datetime.now(UTC) - datetime(2026, 2, 2, 12, tzinfo=UTC)).days  # before the tool's
    assert main(["update-check", str(project), "--format=json", f"--github-output={output}"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["untagged"] is True
    assert (checked["commits_behind"], checked["releases_behind"]) == (2, None)
    assert checked["days_behind"] in {days, days + 1}
    assert checked["version_date"] == "2026-01-05"
    assert checked["newest"] == short(template, shas[2])
    assert checked["newest_date"] == "2026-03-02"
    # The workflow installs the tool at, and updates to, the newest commit itself.
    assert read_github_output(output) == {
        "available": "true",
        "current": short(template, shas[0]),
        "newest": shas[2],
        "untagged": "true",
    }

    assert main(["update-check", str(project), "--exit-code"]) == 1
    assert main(["update-check", str(project)]) == 0
    said = capsys.readouterr().out
    assert "is untagged (it has no release tag vX.Y.Z), so its commits are compared" in said
    assert f"2 commit(s) behind its newest, {short(template, shas[2])}" in said

    # A given commit instead of the newest; on the newest, nothing to do.
    assert main(["update-check", str(project), f"--to={shas[1]}", "--format=json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert (checked["target"], checked["commits_behind"]) == (short(template, shas[1]), 2)
    answers(project, template, short(template, shas[2]))
    assert main(["update-check", str(project), "--exit-code"]) == 0
    assert "on commit" in (said := capsys.readouterr().out)
    assert "the newest commit" in said
    assert "Nothing to do." in said


def test_tpl2_an_untagged_template_without_the_services_commit_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template, _ = make_untagged_template(tmp_path / "template")
    # What Copier records when it copied a clone's uncommitted changes: a commit made elsewhere.
    project = answers(tmp_path / "service", template, "0123abc")
    assert main(["update-check", str(project)]) == 2
    error = capsys.readouterr().err
    assert "has no release tag (vX.Y.Z), and not the commit 0123abc" in error
    assert "uncommitted changes" in error
    assert main(["update-check", str(project), "--to=no-such-commit"]) == 2
    assert "has no release tag and no commit 'no-such-commit'" in capsys.readouterr().err


def test_tpl2_untagged_commits_are_versioned_as_copier_versions_them(tmp_path: Path) -> None:
    """dunamai (what Copier asks first) on a checkout agrees with the bare clone's reading."""
    template, shas = make_untagged_template(tmp_path / "template")
    with Templates() as templates:
        repository_ = templates.get(str(template))
        assert repository_.untagged
        for sha in shas:
            git(template, "checkout", "--quiet", sha)
            expected = dunamai.Version.from_git(
                pattern=dunamai.Pattern.DefaultUnprefixed, path=template
            ).serialize(style=dunamai.Style.Pep440)
            assert Version(expected) == repository_.copier_version(sha)
        # So Copier runs the unversioned migrations only: no release lies between two commits.
        old, new = (repository_.copier_version(sha) for sha in (shas[0], shas[2]))
        assert [m.command for m in migrations_run(COPIER_YML, old, new)] == ["hooks/post_update.py"]


def test_tpl2_a_hash_of_digits_only_is_a_commit_not_a_release(tmp_path: Path) -> None:
    assert recorded_version("3255607") is None
    assert release_tuple("3255607") is None
    assert release_tuple("v0.4.0-2-g3255607") == (0, 4, 0)


def test_tpl2_changelog_sections_that_changed_between_two_commits() -> None:
    before = CHANGELOG
    after = CHANGELOG.replace("- not yet", "- not yet\n- and this").replace(
        "## [0.3.0]", "## [0.3.1] - 2026-03-09\n\n- fixed\n\n## [0.3.0]"
    )
    changed = changed_sections(before, after)
    assert [(s.heading, s.body) for s in changed] == [
        ("Unreleased", "- not yet\n- and this"),
        ("0.3.1 - 2026-03-09", "- fixed"),
    ]
    assert changed_sections(after, after) == []


def tpl2(path: Path, current_release: str | None) -> tuple[bool, str]:
    # The audit scores Python services: one module makes the folder one.
    (path / "app.py").write_text("print('a service')\n")
    result = audit(path, current_release=current_release).result("TPL-2")
    (requirement,) = result.requirements
    return requirement.met, requirement.detail


def test_tpl2_the_audit_accepts_a_commit_of_an_untagged_template(tmp_path: Path) -> None:
    service = answers(tmp_path / "service", "/srv/goldenpath", "3255607")
    met, detail = tpl2(service, None)
    assert met, detail
    assert "no release tag (vX.Y.Z): updates compare commits" in detail
    # The audit of a release cannot judge a commit; a known newest commit can.
    assert tpl2(service, "v0.4.0")[0]
    assert tpl2(service, "3255607aa")[0]  # the same commit, abbreviated longer
    met, detail = tpl2(service, "abcdef1")
    assert not met
    assert "the template (untagged: no release tag) is at abcdef1" in detail


def test_tpl2_an_audit_installed_without_a_tag_judges_by_its_own_version(tmp_path: Path) -> None:
    # Installed from a checkout (no tag requested), the audit's own version is the current
    # release: the template's, since they are released together (test_chassis.py holds them to
    # one version). At 0.1.0 it called a service two releases behind current.
    version = working_tree_version()
    assert own_release() == str(version)
    previous_line = f"v{version.major}.{version.minor - 1}.0"
    met, detail = tpl2(answers(tmp_path / "behind", "/srv/goldenpath", previous_line), None)
    assert not met
    assert f"behind the current release {version}" in detail
    assert tpl2(answers(tmp_path / "current", "/srv/goldenpath", f"v{version}"), None)[0]


def test_tpl2_a_fleet_row_of_a_service_without_a_commit_says_so(tmp_path: Path) -> None:
    template = make_template(tmp_path / "template")
    service = answers(tmp_path / "service", template, "v0.1.0")
    git(service, "init", "--quiet")
    with Templates() as templates:
        status = inspect_service(service, templates, with_audit=False)
    assert status.update == FAILED
    expected = f"{service.resolve()} has no commit yet: commit the generated service first"
    assert status.error == expected


def test_tpl2_json_objects_have_the_same_keys_every_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = make_template(tmp_path / "template")
    current = answers(tmp_path / "current", template, "v0.10.0")
    # update-preview with nothing to apply: the keys of a preview that applied something.
    assert main(["update-preview", str(current), "--gates=none", "--format=json"]) == 0
    previewed = json.loads(capsys.readouterr().out)
    assert list(previewed) == list(a_report().to_json(datetime.now(UTC)))
    assert (previewed["ready"], previewed["changes"], previewed["conflicts"]) == (True, [], [])
    assert previewed["gates"] == []
    # A fleet row whose release could not be read: the keys of every other row, unknowns null.
    with Templates() as templates:
        rows = [
            inspect_service(path, templates, with_audit=False).to_json(datetime.now(UTC))
            for path in (current, tmp_path / "lost")
        ]
    assert list(rows[1]) == list(rows[0])
    assert rows[1]["error"] == f"{tmp_path / 'lost'}: no such directory"
    assert (rows[1]["newest"], rows[1]["missing_releases"]) == (None, [])
    # An error is never on stdout, where a dashboard reads the JSON.
    empty = tmp_path / "services.txt"
    empty.write_text("# none yet\n")
    assert main(["fleet", str(empty), "--format=json", f"--template={template}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == "goldenpath fleet: error: no repositories given (the list files were empty)\n"
    )


def test_tpl2_a_preview_of_a_service_without_a_commit_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the fleet says it, not Copier's "cannot obtain old template references".
    template = make_template(tmp_path / "template")
    service = answers(tmp_path / "service", template, "v0.1.0")
    git(service, "init", "--quiet")
    assert main(["update-preview", str(service), "--gates=none"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"goldenpath update-preview: error: {service} has no commit yet: commit the generated "
        "service first\n"
    )


def test_tpl2_a_defect_of_the_tools_is_an_error_not_a_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An unexpected exception ended in a traceback and Python's exit 1: to a script, the same as
    # `update-check --exit-code`'s "an update is available" or `update-preview`'s "needs a person".
    @reports_errors
    def defective(args: argparse.Namespace) -> int:
        raise IndexError("list index out of range")

    assert defective(argparse.Namespace(prog="goldenpath update-check")) == EXIT_ERROR
    assert EXIT_ERROR != EXIT_UPDATE_AVAILABLE
    assert capsys.readouterr().err == (
        "goldenpath update-check: error: a defect of goldenpath itself, please report it: "
        "IndexError: list index out of range\n"
    )
