"""Taking a template release into a service: check for one, apply it, and report what it did.

Three uses share this module: the scheduled workflow in every generated service (prepare a
branch for a pull request), a team previewing an update locally, and the fleet view (would each
service's update apply cleanly?). Previews and the fleet work in a private clone, so the
service's own working tree is never touched; only `prepare_branch` changes it, on a branch.

Updates run `copier update --trust --defaults --conflict=inline`, exactly what a team runs by
hand (docs/updating.md); conflicts are then resolved to the team's side and reported
(conflicts.py), so no commit ever holds a conflict marker.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from packaging.version import Version

from ._git import GitError, clone, git, head, is_clean
from .answers import read_recorded_template
from .changelog import ChangelogSection, sections_between
from .conflicts import Conflict, files_with_markers, resolve_to_ours
from .gates import GateResult, run_gates, service_environment
from .migrations import Migration, migrations_run
from .releases import Release, TemplateRepository

BRANCH = "template-update"
REMOTE = "origin"
# Every commit this tool makes carries this trailer: a branch holding any commit without it has
# been edited by a person, and is never reset or force-pushed over.
TRAILER = "Template-Update-By: goldenpath"
LOG_TAIL = 20000


class UpdateError(RuntimeError):
    """The update cannot be made or checked; the message says why and what to do."""


class Templates:
    """Template clones shared by every service that names the same source (fleet runs)."""

    def __init__(self) -> None:
        self._folder = TemporaryDirectory(prefix="goldenpath-templates-")
        self._clones: dict[str, TemplateRepository] = {}
        self._lock = threading.Lock()  # the fleet view inspects services in threads

    def __enter__(self) -> Templates:
        return self

    def __exit__(self, *_: object) -> None:
        self._folder.cleanup()

    def get(self, source: str) -> TemplateRepository:
        with self._lock:
            if source not in self._clones:
                self._clones[source] = TemplateRepository.clone(source, Path(self._folder.name))
            return self._clones[source]


@dataclass(frozen=True)
class UpdatePlan:
    """Where a service is and where an update would take it."""

    project: Path
    service: str
    source: str
    recorded_commit: str
    version: Version | None
    current: Release | None  # None when `_commit` is not a release tag
    newest: Release
    target: Release  # the newest, unless a given release was asked for
    missing: tuple[Release, ...]  # every release newer than the service's, oldest first
    pending: tuple[Release, ...]  # those the update to `target` brings

    @property
    def up_to_date(self) -> bool:
        """Nothing to apply: the service is on (or past) the target release."""
        return not self.pending

    def days_behind(self, now: datetime) -> int:
        """Days since the first release this service has not taken came out (0: current)."""
        return max(0, (now - self.missing[0].date).days) if self.missing else 0

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            "service": self.service,
            "template": self.source,
            "version": self.recorded_commit,
            "version_date": self.current.date.date().isoformat() if self.current else None,
            "newest": self.newest.tag,
            "newest_date": self.newest.date.date().isoformat(),
            "releases_behind": len(self.missing),
            "days_behind": self.days_behind(now),
            "missing_releases": [release.tag for release in self.missing],
            "target": self.target.tag,
        }


def plan_update(project: Path, templates: Templates, *, to: str | None = None) -> UpdatePlan:
    recorded = read_recorded_template(project)
    template = templates.get(recorded.src_path)
    newest = template.newest
    if newest is None:
        raise UpdateError(f"the template at {recorded.src_path} has no release tag (vX.Y.Z)")
    target = newest if to is None else template.release(to)
    if target is None:
        known = ", ".join(release.tag for release in template.releases)
        raise UpdateError(f"the template has no release {to!r} (releases: {known})")
    version = recorded.version
    missing = tuple(template.releases_after(version))
    pending = tuple(release for release in missing if release.version <= target.version)
    return UpdatePlan(
        project=project,
        service=recorded.slug,
        source=recorded.src_path,
        recorded_commit=recorded.commit,
        version=version,
        current=template.release(recorded.commit),
        newest=newest,
        target=target,
        missing=missing,
        pending=pending,
    )


@dataclass(frozen=True)
class AppliedUpdate:
    log: str  # what Copier and the migrations printed
    conflicts: tuple[Conflict, ...]
    changes: tuple[str, ...]  # `git diff --name-status` lines, staged


def apply_update(project: Path, plan: UpdatePlan) -> AppliedUpdate:
    """`copier update` to the plan's target in `project`, conflicts resolved to the team's side.

    Everything the update changed is staged. Raises UpdateError when the working tree is not
    clean (Copier's own precondition) or Copier fails; nothing is left half-merged with markers.
    """
    if not is_clean(project):
        raise UpdateError(f"{project}: commit or stash your changes first (`git status`)")
    command = [
        sys.executable,
        "-m",
        "copier",
        "update",
        "--trust",
        "--defaults",
        "--conflict=inline",
        f"--vcs-ref={plan.target.tag}",
    ]
    completed = subprocess.run(
        command,
        cwd=project,
        env=service_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    log = (completed.stdout + completed.stderr)[-LOG_TAIL:]
    if completed.returncode != 0:
        raise UpdateError(f"`copier update` failed in {project}:\n{log}")
    conflicts = resolve_to_ours(project)
    leftover = files_with_markers(project)
    if leftover:
        raise UpdateError(f"conflict markers remain in {', '.join(leftover)}; resolve them by hand")
    git(project, "add", "--all")
    changes = git(project, "diff", "--cached", "--name-status", "--no-renames").splitlines()
    return AppliedUpdate(log, tuple(conflicts), tuple(changes))


@dataclass(frozen=True)
class UpdateReport:
    """Everything a reviewer needs: the plan, what applying it did, and whether gates pass."""

    plan: UpdatePlan
    applied: AppliedUpdate
    changelog: tuple[ChangelogSection, ...]
    migrations: tuple[Migration, ...]
    gates: tuple[GateResult, ...] = field(default=())

    @property
    def gates_passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def ready(self) -> bool:
        """Mergeable after review: no conflict left and every gate passed."""
        return not self.applied.conflicts and self.gates_passed

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            **self.plan.to_json(now),
            "changes": list(self.applied.changes),
            "conflicts": [conflict.to_json() for conflict in self.applied.conflicts],
            "migrations": [migration.to_json() for migration in self.migrations],
            "changelog": [section.heading for section in self.changelog],
            "gates": [gate.to_json() for gate in self.gates],
            "ready": self.ready,
        }


def describe_release(
    plan: UpdatePlan, templates: Templates
) -> tuple[tuple[ChangelogSection, ...], tuple[Migration, ...]]:
    """The changelog sections and the migrations of an update, read from the target release."""
    template = templates.get(plan.source)
    tag = plan.target.tag
    changelog = template.read(tag, "CHANGELOG.md") or ""
    config = template.read(tag, "copier.yml") or template.read(tag, "copier.yaml") or ""
    return (
        tuple(sections_between(changelog, plan.version, plan.target.version)),
        tuple(migrations_run(config, plan.version, plan.target.version)),
    )


@contextmanager
def private_clone(project: Path) -> Iterator[Path]:
    """A throwaway clone of the service's last commit: previews and the fleet work there."""
    with TemporaryDirectory(prefix="goldenpath-service-") as folder:
        yield clone(project.resolve(), Path(folder) / project.resolve().name)


def try_update(
    project: Path, templates: Templates, *, to: str | None = None, gates: Sequence[str] = ()
) -> tuple[UpdatePlan, UpdateReport | None]:
    """Apply the update in a private clone and run `gates` there; the service is not touched.

    The clone holds the last commit: uncommitted changes are not part of the result.
    """
    plan = plan_update(project, templates, to=to)
    return plan, try_plan(plan, templates, gates=gates)


def try_plan(
    plan: UpdatePlan, templates: Templates, *, gates: Sequence[str] = ()
) -> UpdateReport | None:
    """`try_update` for a plan already made (None: nothing to apply)."""
    if plan.up_to_date:
        return None
    with private_clone(plan.project) as copy:
        applied = apply_update(copy, plan)
        results = run_gates(copy, gates)
    changelog, migrations = describe_release(plan, templates)
    return UpdateReport(plan, applied, changelog, migrations, tuple(results))


# Preparing the pull-request branch ---------------------------------------------------------
@dataclass(frozen=True)
class BranchResult:
    status: str  # "ready" (a branch to push), "up-to-date" or "skipped" (see reason)
    plan: UpdatePlan
    report: UpdateReport | None = None
    base: str = ""  # the commit the branch starts from
    lease: str = ""  # the remote branch's commit when we looked ("" when it does not exist)
    reason: str = ""


def _ref_commit(project: Path, ref: str) -> str:
    return git(project, "rev-parse", "--verify", "--quiet", ref, check=False).strip()


def foreign_commits(project: Path, ref: str) -> list[str]:
    """Commits on `ref` but not on HEAD that this tool did not make (a person's edits)."""
    if not _ref_commit(project, ref):
        return []
    listed = git(project, "log", "--format=%H%x00%B%x1e", f"HEAD..{ref}")
    foreign = []
    for entry in filter(str.strip, listed.split("\x1e")):
        sha, _, message = entry.strip().partition("\0")
        if TRAILER not in message:
            foreign.append(sha)
    return foreign


def commit_message(plan: UpdatePlan) -> str:
    return (
        f"Update the template from {plan.recorded_commit} to {plan.target.tag}\n\n"
        "Applied with `copier update --trust --defaults` by `goldenpath update-branch`; the pull\n"
        "request lists the release notes, the migrations that ran and any conflict.\n\n"
        f"{TRAILER}\n"
    )


def prepare_branch(
    project: Path,
    templates: Templates,
    *,
    branch: str = BRANCH,
    remote: str = REMOTE,
    to: str | None = None,
    gates: Sequence[str] = (),
) -> BranchResult:
    """Commit the update on `branch` (created or reset from HEAD) and run the gates on it.

    The branch is left checked out. A branch that holds a person's commits, locally or on
    `remote`, is left alone ("skipped"): resetting it would throw their work away.
    """
    plan = plan_update(project, templates, to=to)
    if plan.up_to_date:
        return BranchResult("up-to-date", plan)
    if not is_clean(project):
        raise UpdateError(f"{project}: commit or stash your changes first (`git status`)")
    remote_ref = f"refs/remotes/{remote}/{branch}"
    for ref in (remote_ref, f"refs/heads/{branch}"):
        if foreign := foreign_commits(project, ref):
            reason = (
                f"{ref} has {len(foreign)} commit(s) not made by this tool "
                f"({', '.join(sha[:10] for sha in foreign)}): merge or close that pull request, "
                "or delete the branch, and the next run prepares a new one"
            )
            return BranchResult("skipped", plan, reason=reason)
    base = head(project)
    lease = _ref_commit(project, remote_ref)
    git(project, "switch", "--quiet", "-C", branch)
    try:
        applied = apply_update(project, plan)
    except (UpdateError, GitError):
        # Leave the service as it was: back on its branch, the update's debris removed.
        git(project, "reset", "--quiet", "--hard", base, check=False)
        git(project, "clean", "-fdq", check=False)
        git(project, "switch", "--quiet", "-", check=False)
        raise
    git(project, "commit", "--quiet", "--no-verify", "--message", commit_message(plan))
    results = run_gates(project, gates)
    changelog, migrations = describe_release(plan, templates)
    report = UpdateReport(plan, applied, changelog, migrations, tuple(results))
    return BranchResult("ready", plan, report, base=base, lease=lease)


def write_bundle(project: Path, result: BranchResult, branch: str, destination: Path) -> None:
    """The branch's new commits as a git bundle: how the read-only job hands them to the job
    allowed to push (the bundle needs the base commit, which that job checks out too)."""
    git(project, "bundle", "create", str(destination), f"refs/heads/{branch}", f"^{result.base}")
