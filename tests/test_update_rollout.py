"""TPL-2 at fleet scale: the template-update workflow's logic and the fleet view, for real.

A throwaway copy of this repository is tagged at three releases (dated, so "how far behind" has
an answer); services are generated from them and changed the way teams change them. Then:
- `goldenpath update-branch` (what the scheduled workflow runs) finds the newest release,
  commits the update on a branch, runs quick gates, and writes the pull request's text with
  the release notes and the migrations that ran; with a conflicting team change it keeps the
  team's lines, reports the conflict and commits no marker; a branch a person pushed to is left
  alone;
- `goldenpath update-preview` says the same without touching the service;
- `goldenpath fleet` reports three services at three releases, one drifted, as JSON, and
  reuses an outcome in a later run until the service's last commit moves.

The services are generated once per module; every command runs in clones of them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.version import Version
from selenium.webdriver.common.by import By

from goldenpath.cli import main
from goldenpath.fleet import ServiceStatus, inspect_fleet
from goldenpath.fleet_audit import SCORED_AREAS
from goldenpath.fleet_cache import OutcomeCache
from tests.support.browser import headless_chromium, save_screenshot
from tests.support.projects import generate
from tests.support.releases import (
    GIT_IDENTITY,
    TemplateCopy,
    commit_all,
    git,
    leftovers,
    next_patch,
    recorded_commit,
    working_tree_version,
)
from tests.support.workflows import read_github_output

pytestmark = [pytest.mark.update, pytest.mark.slow]

DATES = ("2026-01-05T12:00:00+00:00", "2026-02-02T12:00:00+00:00", "2026-03-02T12:00:00+00:00")
# The second release ships a migration that renames a variable where teams set it.
LEGACY, RENAMED = "LEGACY_PROBE_LEVEL", "PROBE_LEVEL"
RELEASE_2_NOTE = "The README's title names the service."
RELEASE_3_NOTE = "A runbook page, linked from the README."
TEAM_SECTION = "\n## On call\n\nPage the team in #rollout-oncall.\n"


@dataclass(frozen=True)
class Releases:
    template: TemplateCopy
    tags: tuple[str, str, str]


def add_changelog_section(template: TemplateCopy, version: Version, date: str, note: str) -> None:
    """What a maintainer does on release: a dated section under `[Unreleased]`."""
    heading = f"## [{version}] - {date[:10]}\n\n### Changed\n- {note}\n\n"
    template.edit(
        "CHANGELOG.md",
        lambda text: text.replace("## [Unreleased]\n\n", f"## [Unreleased]\n\n{heading}", 1),
    )


def add_migration(template: TemplateCopy, version: Version) -> None:
    migration = (
        "_migrations:\n"
        f"  - version: v{version}\n"
        "    command:\n"
        '      - "{{ _copier_python }}"\n'
        '      - "{{ _copier_conf.src_path }}/hooks/migrations/rename_setting.py"\n'
        f"      - {LEGACY}\n"
        f"      - {RENAMED}\n"
    )
    template.edit("copier.yml", lambda text: text.replace("_migrations:\n", migration, 1))


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    template = TemplateCopy.of_working_tree(tmp_path_factory.mktemp("rollout") / "template")
    first = working_tree_version()
    second, third = next_patch(first), next_patch(next_patch(first))
    tag1 = template.release(first, "the working tree", date=DATES[0])

    readme = "template/README.md.jinja"
    template.edit(readme, lambda text: "# {{ project_name }} service" + text[text.index("\n") :])
    add_migration(template, second)
    add_changelog_section(template, second, DATES[1], RELEASE_2_NOTE)
    tag2 = template.release(second, "README title, a migration", date=DATES[1])

    template.edit(
        readme,
        lambda text: text.replace(
            "{{ description }}\n", "{{ description }} Runbook: docs/runbook.md.\n", 1
        ),
    )
    template.file("template/docs/runbook.md.jinja").write_text("# Runbook for {{ project_name }}\n")
    add_changelog_section(template, third, DATES[2], RELEASE_3_NOTE)
    tag3 = template.release(third, "a runbook", date=DATES[2])
    return Releases(template, (tag1, tag2, tag3))


def generated_at(releases: Releases, tag: str, name: str, destination: Path) -> Path:
    answers = {"project_name": name, "database": "sqlite"}
    generate(destination, answers, template=releases.template.path, vcs_ref=tag)
    commit_all(destination, f"generated from {tag}")
    return destination


@pytest.fixture(scope="module")
def services(releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three services, one per release; the one on the middle release drifted."""
    root = tmp_path_factory.mktemp("services")
    tag1, tag2, tag3 = releases.tags
    first = generated_at(releases, tag1, "Rollout One", root / "rollout-one")
    # The team set the variable the second release renames, and added to the README.
    (first / "deploy").mkdir(exist_ok=True)  # the template ships deploy/ (Kubernetes, Compose)
    (first / "deploy" / "service.env").write_text(f"{LEGACY}=3\n")
    readme = first / "README.md"
    readme.write_text(readme.read_text() + TEAM_SECTION)
    commit_all(first, "team changes")

    second = generated_at(releases, tag2, "Rollout Two", root / "rollout-two")
    lines = (second / "README.md").read_text().splitlines(keepends=True)
    lines[2] = "Our own words about the service.\n"  # the line the third release changes
    (second / "README.md").write_text("".join(lines))
    commit_all(second, "drift: our own description")

    third = generated_at(releases, tag3, "Rollout Three", root / "rollout-three")
    return {"first": first, "second": second, "third": third}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_IDENTITY.items():  # the update commits, as the workflow does
        monkeypatch.setenv(name, value)
    # Let Copier's subprocesses cache bytecode: seconds per run on a slow machine.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


def clone(source: Path, destination: Path) -> Path:
    git(destination.parent, "clone", "--quiet", str(source), str(destination))
    return destination


def state(repository: Path) -> tuple[str, str, str]:
    """What must not change when a command only reads a service."""
    return (
        git(repository, "rev-parse", "HEAD"),
        git(repository, "status", "--porcelain", "--ignored"),
        git(repository, "branch", "--list"),
    )


def section(body: str, title: str) -> str:
    start = body.index(f"## {title}\n")
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else len(body)]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


# update-branch: what the workflow runs ----------------------------------------------------------
def test_tpl2_update_branch_commits_the_newest_release_runs_the_gates_and_writes_the_pr(
    releases: Releases,
    services: dict[str, Path],
    work: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag1, tag2, tag3 = releases.tags
    service = clone(services["first"], work / "rollout-one")
    main_commit = git(service, "rev-parse", "HEAD").strip()
    body_path, outputs_path, bundle = work / "pr.md", work / "outputs", work / "update.bundle"
    code = main(
        [
            "update-branch",
            str(service),
            "--gates=lint,format,unit",
            f"--pr-body={body_path}",
            f"--bundle={bundle}",
            f"--github-output={outputs_path}",
        ]
    )
    assert code == 0, capsys.readouterr()
    outputs = read_github_output(outputs_path)
    assert outputs == {
        "status": "ready",
        "title": f"Update the template from {tag1} to {tag3}",
        "draft": "false",
        "lease": "",
        "conflicts": "",
        "gates": "success",
        "gates_summary": "passed: sync, lint, format, unit",
    }

    # One commit on the branch, on top of the service's own; the service is on the newest release.
    assert git(service, "branch", "--show-current").strip() == "template-update"
    assert git(service, "rev-parse", "HEAD~1").strip() == main_commit
    assert "Template-Update-By: goldenpath" in git(service, "log", "-1", "--format=%B")
    assert not git(service, "status", "--porcelain").strip()
    assert recorded_commit(service) == tag3
    assert not leftovers(service), leftovers(service)
    # Both releases are applied, the migration ran, the team's changes are kept.
    readme = (service / "README.md").read_text()
    assert readme.startswith("# Rollout One service\n")
    assert "Runbook: docs/runbook.md." in readme
    assert readme.endswith(TEAM_SECTION)
    assert (service / "docs" / "runbook.md").is_file()
    assert (service / "deploy" / "service.env").read_text() == f"{RENAMED}=3\n"
    # The bundle carries exactly that commit, for the job that pushes.
    verified = git(service, "bundle", "list-heads", str(bundle))
    assert verified.split() == [
        git(service, "rev-parse", "HEAD").strip(),
        "refs/heads/template-update",
    ]

    body = body_path.read_text()
    notes = section(body, "What the release changes for this service")
    headings = [line for line in notes.splitlines() if line.startswith("### ")]
    assert headings == [f"### {tag3[1:]} - {DATES[2][:10]}", f"### {tag2[1:]} - {DATES[1][:10]}"]
    assert RELEASE_3_NOTE in notes
    assert RELEASE_2_NOTE in notes
    migrations = section(body, "Migrations that ran")
    assert (
        f"- `hooks/migrations/rename_setting.py {LEGACY} {RENAMED}` (crossing {tag2})" in migrations
    )
    assert "- `hooks/post_update.py` (after every update)" in migrations
    assert f"migration rename_setting: {LEGACY} -> {RENAMED}" in migrations  # what it printed
    assert "None: the release merged cleanly" in section(body, "Conflicts left for a person")
    gates = section(body, "Gates")
    for gate in ("sync", "lint", "format", "unit"):
        assert f"| {gate} | " in gates
    assert "failed" not in gates


def test_tpl2_update_branch_reports_a_conflict_instead_of_committing_markers(
    releases: Releases,
    services: dict[str, Path],
    work: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag3 = releases.tags[2]
    service = clone(services["first"], work / "rollout-one")
    readme = service / "README.md"
    team_title = "# Rollout One, by the rollout team"
    readme.write_text(team_title + readme.read_text()[readme.read_text().index("\n") :])
    commit_all(service, "our own title")

    body_path, outputs_path = work / "pr.md", work / "outputs"
    arguments = [
        "update-branch",
        str(service),
        "--gates=none",
        f"--pr-body={body_path}",
        f"--github-output={outputs_path}",
    ]
    assert main(arguments) == 0, capsys.readouterr()
    outputs = read_github_output(outputs_path)
    assert outputs["status"] == "ready"
    assert outputs["draft"] == "true"
    assert outputs["title"].endswith(f"to {tag3} (conflicts to resolve)")
    # The commit keeps the team's title, holds no marker, and carries the rest of the release.
    assert not leftovers(service), leftovers(service)
    assert readme.read_text().startswith(team_title + "\n")
    assert recorded_commit(service) == tag3
    assert (service / "docs" / "runbook.md").is_file()
    assert not git(service, "status", "--porcelain").strip()
    conflicts = section(body_path.read_text(), "Conflicts left for a person")
    assert "- `README.md`: line 1" in conflicts
    # The release's change that was dropped, and the team's that was kept, from the same lines.
    assert "**`README.md`**, line 1: the release's change here was **dropped**" in conflicts
    assert "```diff\n-# Rollout One\n+# Rollout One service\n```" in conflicts
    assert f"```diff\n-# Rollout One\n+{team_title}\n```" in conflicts
    assert (
        "**Needs a person**: 1 conflict in 1 file (the release's change there was dropped; see "
        "below)." in body_path.read_text()
    )
    assert outputs["conflicts"] == "README.md:1"

    # A person pushes a fix to the branch: the next run leaves the branch alone.
    readme.write_text(readme.read_text() + "\nResolved by hand.\n")
    commit_all(service, "take the release's title later")
    resolved = git(service, "rev-parse", "HEAD").strip()
    git(service, "switch", "--quiet", "-")
    capsys.readouterr()
    assert main([*arguments[:-1], f"--github-output={work / 'again'}"]) == 0
    assert read_github_output(work / "again")["status"] == "skipped"
    assert "not made by this tool" in capsys.readouterr().out
    assert git(service, "rev-parse", "template-update").strip() == resolved
    assert git(service, "branch", "--show-current").strip() != "template-update"


# update-preview: the same, without touching the service ----------------------------------------
def test_tpl2_update_preview_says_what_would_change_and_touches_nothing(
    releases: Releases,
    services: dict[str, Path],
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag1, tag2, tag3 = releases.tags
    service = services["first"]
    before = state(service)
    # A given release rather than the newest: the one with the migration.
    code = main(["update-preview", str(service), f"--to={tag2}", "--gates=none", "--format=json"])
    preview = json.loads(capsys.readouterr().out)
    assert code == 0
    assert state(service) == before
    assert (preview["version"], preview["target"], preview["newest"]) == (tag1, tag2, tag3)
    assert preview["missing_releases"] == [tag2, tag3]
    assert preview["conflicts"] == []
    # The real template rendered at the target: the service deleted nothing, none is named.
    assert preview["deleted_files_changed"] == []
    assert preview["deleted_files_unchecked"] is None
    assert preview["ready"] is True
    assert {"M\tREADME.md", "M\tdeploy/service.env", "M\t.copier-answers.yml"} <= set(
        preview["changes"]
    )
    assert "A\tdocs/runbook.md" not in preview["changes"]  # that is the newest release's
    assert [migration["version"] for migration in preview["migrations"]] == [tag2, None]
    assert preview["changelog"] == [f"{tag2[1:]} - {DATES[1][:10]}"]


# fleet: three services, three releases, one drifted --------------------------------------------
def test_tpl2_fleet_reports_each_service_and_only_reads_the_clones(
    releases: Releases,
    services: dict[str, Path],
    tmp_path: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag1, tag2, tag3 = releases.tags
    listing = tmp_path / "services.txt"
    listing.write_text(
        "# the platform's services\n"
        f"{services['first']}\n"
        f"{services['second']}\n\n"
        f"{services['third'].relative_to(tmp_path, walk_up=True)}  # relative to this file\n"
    )
    missing = tmp_path / "not-a-service"
    before = {name: state(path) for name, path in services.items()}
    now = datetime.now(UTC)
    code = main(["fleet", str(listing), str(missing), "--format=json", trusting(releases)])
    report = json.loads(capsys.readouterr().out)
    assert {name: state(path) for name, path in services.items()} == before
    assert code == 1, "a repository that cannot be inspected fails the run"

    first, second, third, broken = report["services"]
    days = {
        tag: (now - datetime.fromisoformat(date)).days
        for tag, date in zip(releases.tags, DATES, strict=True)
    }
    expected_common = {
        "newest": tag3,
        "newest_date": DATES[2][:10],
        "audit_note": None,
        "error": None,
    }
    assert first | expected_common == first
    assert first["service"] == "rollout-one"
    assert first["version"] == tag1
    assert first["version_date"] == DATES[0][:10]
    assert first["releases_behind"] == 2
    assert first["missing_releases"] == [tag2, tag3]
    assert first["days_behind"] in {days[tag2], days[tag2] + 1}  # midnight may pass meanwhile
    assert (first["update"], first["conflicts"]) == ("clean", [])

    assert second | expected_common == second
    assert (second["service"], second["version"], second["releases_behind"]) == (
        "rollout-two",
        tag2,
        1,
    )
    assert second["days_behind"] in {days[tag3], days[tag3] + 1}
    assert (second["update"], second["conflicts"]) == ("conflicts", ["README.md"])

    assert third | expected_common == third
    assert (third["service"], third["version"], third["releases_behind"]) == (
        "rollout-three",
        tag3,
        0,
    )
    assert (third["days_behind"], third["update"], third["conflicts"]) == (0, "up-to-date", [])

    # The audit's score (tests/test_goldenpath_units.py proves it is the audit's own number).
    assert all(0 < service["audit_score"] <= 100 for service in (first, second, third))

    assert broken["repository"] == str(missing)
    assert "no such directory" in broken["error"]
    assert broken["update"] == "failed"


def trusting(releases: Releases) -> str:
    """The fleet's option naming the template the services were generated from."""
    return f"--template={releases.template.path}"


def outcome(status: ServiceStatus) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    return status.update, status.conflicts, status.deleted


def test_tpl2_the_fleet_reuses_an_outcome_until_the_services_commit_moves(
    releases: Releases,
    services: dict[str, Path],
    tmp_path: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = OutcomeCache(tmp_path / "cache")
    paths = [services["first"], services["second"], services["third"]]
    started = time.monotonic()
    trusted = [str(releases.template.path)]
    tried = inspect_fleet(paths, trusted=trusted, cache=cache, with_audit=False)
    first_run = time.monotonic() - started
    assert [status.update for status in tried] == ["clean", "conflicts", "up-to-date"]
    assert cache.hits == 0
    assert len(list(cache.folder.glob("*.json"))) == 2  # the up-to-date service is not tried
    # Another run, and a clone of the first service: the same last commit is the same outcome.
    copy = clone(services["first"], tmp_path / "copy-of-first")
    started = time.monotonic()
    again = inspect_fleet([*paths, copy], trusted=trusted, cache=cache, with_audit=False)
    with capsys.disabled():  # a figure for the record, not a timed test
        print(
            f"\nfleet, no audit: three services tried in {first_run:.1f} s; "
            f"the same three and a clone, all reused, in {time.monotonic() - started:.1f} s"
        )
    assert cache.hits == 3
    assert [status.reused for status in again] == [True, True, False, True]
    assert [outcome(status) for status in again] == [
        outcome(status) for status in (*tried, tried[0])
    ]
    # The team commits a change to the line the next release changes: tried again, at once.
    readme = copy / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    lines[0] = "# Our own title\n"
    readme.write_text("".join(lines))
    commit_all(copy, "our own title")
    moved = inspect_fleet([copy], trusted=trusted, cache=cache, with_audit=False)[0]
    assert cache.hits == 3
    assert not moved.reused
    assert (moved.update, moved.conflicts) == ("conflicts", ("README.md",))
    # From the command line: the reuse is said on stderr and in the JSON; --no-cache tries.
    capsys.readouterr()
    for options, reused in (([f"--cache-dir={cache.folder}"], True), (["--no-cache"], False)):
        arguments = [str(copy), "--no-audit", "--format=json", trusting(releases), *options]
        assert main(["fleet", *arguments]) == 0
        output = capsys.readouterr()
        assert json.loads(output.out)["services"][0]["update_reused"] is reused
        assert ("1 update outcome(s) reused from" in output.err) is reused


def test_tpl2_the_fleet_page_of_a_real_fleet_in_a_browser(
    releases: Releases,
    services: dict[str, Path],
    tmp_path: Path,
    environment: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--format html` on the three services: one file, every area's score, sortable."""
    page_path = tmp_path / "fleet.html"
    paths = [str(services[name]) for name in ("first", "second", "third")]
    assert (
        main(["fleet", *paths, "--format=html", f"--output={page_path}", trusting(releases)]) == 0
    )
    assert "3 service(s) written to" in capsys.readouterr().out
    with headless_chromium() as browser:
        browser.get(page_path.as_uri())
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "conflicts: README.md" in body
        cells = browser.find_elements(By.CSS_SELECTOR, "tbody td.number")
        scores = [cell.text for cell in cells if cell.text.endswith("%")]
        assert len(scores) == 3 * (1 + len(SCORED_AREAS)), scores  # overall and by area
        browser.find_element(By.XPATH, "//thead//button[normalize-space()='days']").click()
        names = [
            row.find_element(By.TAG_NAME, "td").text
            for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]
        assert names == ["rollout-three", "rollout-two", "rollout-one"]
        save_screenshot(browser, "fleet-page-of-generated-services.png")
