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
from ._processes import run_bounded
from .answers import NotAGeneratedProjectError, RecordedTemplate, read_recorded_template
from .bounded_yaml import YamlReadError
from .changelog import ChangelogSection, changed_sections, sections_between
from .conflicts import Conflict, files_with_markers, resolve_to_ours
from .deleted_files import DeletedFile, RenderError, deleted_but_changed
from .gates import GateResult, run_gates, service_environment
from .migrations import Migration, migrations_run
from .releases import Commit, Release, TemplateRepository, recorded_hash, same_source
from .restore import NotRestoredError, restore

BRANCH = "template-update"
REMOTE = "origin"
# Every commit this tool makes carries this trailer: a branch holding any commit without it has
# been edited by a person, and is never reset or force-pushed over.
TRAILER = "Template-Update-By: goldenpath"
LOG_TAIL = 20000
# How long `copier update` may run (a template's tasks and migrations included) before it is
# stopped: a task or a git operation that hangs must not hold a fleet run of many services.
UPDATE_TIMEOUT = 600.0


class UpdateError(RuntimeError):
    """The update cannot be made or checked; the message says why and what to do."""


class Templates:
    """Template clones shared by every service that names the same source (fleet runs).

    `copier update --trust` runs the template's tasks and migrations, so whoever names the
    template chooses code this tool runs. A team updating its own service names it in its own
    answers (`trusted` None: the source the service records). The fleet reads services it does
    not control: it passes the sources its platform team named, and a service naming any other
    is refused before its template is cloned, let alone run.
    """

    def __init__(
        self, trusted: Sequence[str] | None = None, *, timeout: float = UPDATE_TIMEOUT
    ) -> None:
        self._folder = TemporaryDirectory(prefix="goldenpath-templates-")
        self._clones: dict[str, TemplateRepository] = {}
        self._lock = threading.Lock()  # the fleet view inspects services in threads
        self._trusted = None if trusted is None else tuple(trusted)
        self.timeout = timeout  # for each clone of a template and each render of one

    def __enter__(self) -> Templates:
        return self

    def __exit__(self, *_: object) -> None:
        self._folder.cleanup()

    def check_trusted(self, source: str) -> None:
        """An UpdateError when `source` is not a template this run may clone and run."""
        if self._trusted is None or any(same_source(source, t) for t in self._trusted):
            return
        raise UpdateError(
            f"the service names the template {source!r} (`_src_path`), not one this run trusts "
            f"({', '.join(self._trusted) or 'none named'}): its update was not tried, since "
            "Copier would run that template's tasks and migrations; name it with --template if "
            "it is yours"
        )

    def get(self, source: str) -> TemplateRepository:
        self.check_trusted(source)
        with self._lock:
            if source not in self._clones:
                self._clones[source] = TemplateRepository.clone(
                    source, Path(self._folder.name), timeout=self.timeout
                )
            return self._clones[source]


@dataclass(frozen=True)
class UpdatePlan:
    """Where a service is and where an update would take it.

    In an untagged template (no release tag) releases are commits (`Release.tagged` False):
    `newest` and `target` are commits, `missing` and `pending` hold at most that one commit,
    and `commits` lists every commit the service lacks.
    """

    project: Path
    service: str
    source: str
    recorded_commit: str
    version: Version | None
    current: Release | None  # None when `_commit` is not a release tag (nor, untagged, a commit)
    newest: Release
    target: Release  # the newest, unless a given release was asked for
    missing: tuple[Release, ...]  # every release newer than the service's, oldest first
    pending: tuple[Release, ...]  # those the update to `target` brings
    untagged: bool = False
    commits: tuple[Commit, ...] = ()  # untagged: the commits up to `newest`, oldest first
    pending_commits: tuple[Commit, ...] = ()  # untagged: those the update to `target` brings
    commits_behind: int | None = None  # commits up to `newest` (None: the service's is unknown)

    @property
    def behind(self) -> int:
        """How far behind its newest, in the template's unit: commits if untagged, else releases."""
        return len(self.commits) if self.untagged else len(self.missing)

    @property
    def up_to_date(self) -> bool:
        """Nothing to apply: the service is on (or past) the target release."""
        return not self.pending

    def days_behind(self, now: datetime) -> int:
        """Days since the first release (untagged: commit) this service lacks came out."""
        first = self.commits[0].date if self.untagged and self.commits else None
        if first is None and self.missing and not self.untagged:
            first = self.missing[0].date
        return max(0, (now - first).days) if first else 0

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            "service": self.service,
            "template": self.source,
            "untagged": self.untagged,
            "version": self.recorded_commit,
            "version_date": self.current.date.date().isoformat() if self.current else None,
            "newest": self.newest.tag,
            "newest_date": self.newest.date.date().isoformat(),
            "releases_behind": None if self.untagged else len(self.missing),
            "commits_behind": self.commits_behind,
            "days_behind": self.days_behind(now),
            "missing_releases": [] if self.untagged else [r.tag for r in self.missing],
            "target": self.target.tag,
        }

    @staticmethod
    def unknown_json(service: str) -> dict[str, object]:
        """`to_json`'s keys for a service whose plan could not be made (its release could not
        be read): unknowns null. Kept beside `to_json`: a key added there is added here."""
        return {
            "service": service,
            "template": None,
            "untagged": None,
            "version": None,
            "version_date": None,
            "newest": None,
            "newest_date": None,
            "releases_behind": None,
            "commits_behind": None,
            "days_behind": None,
            "missing_releases": [],
            "target": None,
        }


def plan_update(project: Path, templates: Templates, *, to: str | None = None) -> UpdatePlan:
    recorded = read_recorded_template(project)
    template = templates.get(recorded.src_path)
    if template.untagged:
        return _plan_untagged(project, recorded, template, to)
    newest = template.newest
    assert newest is not None  # a tagged template has a newest release
    target = newest if to is None else template.release(to)
    if target is None:
        known = ", ".join(release.tag for release in template.releases)
        raise UpdateError(f"the template has no release {to!r} (releases: {known})")
    base = _recorded_base(template, recorded.commit)
    if base is None:
        known = ", ".join(release.tag for release in template.releases)
        raise UpdateError(
            f"{project / '.copier-answers.yml'} records `_commit: {recorded.commit}`, which the "
            f"template at {recorded.src_path} does not have (releases: {known}): set it to the "
            "release the service was generated from"
        )
    # A bare hash before the first release: Copier orders it as 0.0.0.postN (dunamai).
    version = recorded.version or template.copier_version(base)
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
        commits_behind=len(template.commits_between(base, newest.commit)),
    )


def _recorded_base(template: TemplateRepository, commit: str) -> str | None:
    """The full hash of the template commit a service records, when the template has it."""
    return template.resolve(recorded_hash(commit) or commit)


def _plan_untagged(
    project: Path, recorded: RecordedTemplate, template: TemplateRepository, to: str | None
) -> UpdatePlan:
    """Copier's behaviour without release tags: the newest commit is the release."""
    newest = template.head
    target = newest if to is None else template.commit_release(to)
    if target is None:
        raise UpdateError(
            f"the template at {recorded.src_path} has no release tag and no commit {to!r}: "
            "give --to a commit of it (or nothing, for its newest)"
        )
    base = _recorded_base(template, recorded.commit)
    if base is None:
        raise UpdateError(
            f"the template at {recorded.src_path} has no release tag (vX.Y.Z), and not the "
            f"commit {recorded.commit} this service records in .copier-answers.yml: the service "
            "was generated from changes never committed there (Copier copies a clone's "
            "uncommitted changes as a temporary commit) or from another clone; set `_src_path` "
            "to a template that has that commit, or tag a release"
        )
    commits = tuple(template.commits_between(base, newest.commit))
    pending_commits = tuple(template.commits_between(base, target.commit))
    current = template.commit_release(base)
    assert current is not None  # `base` is a commit the template resolved
    return UpdatePlan(
        project=project,
        service=recorded.slug,
        source=recorded.src_path,
        recorded_commit=recorded.commit,
        version=current.version,
        current=current,
        newest=newest,
        target=target,
        missing=(newest,) if commits else (),
        pending=(target,) if pending_commits else (),
        untagged=True,
        commits=commits,
        pending_commits=pending_commits,
        commits_behind=len(commits),
    )


@dataclass(frozen=True)
class AppliedUpdate:
    log: str  # what Copier and the migrations printed
    conflicts: tuple[Conflict, ...]
    changes: tuple[str, ...]  # `git diff --name-status` lines, staged
    # Files the release changes that the service deleted: Copier leaves them deleted, silently.
    deleted: tuple[DeletedFile, ...] = ()
    deleted_unchecked: str = ""  # why `deleted` could not be worked out, when it could not


def _service_ref(plan: UpdatePlan) -> str:
    if plan.current is not None:
        return plan.current.ref
    return recorded_hash(plan.recorded_commit) or plan.recorded_commit


def _deleted_files(
    project: Path, plan: UpdatePlan, templates: Templates
) -> tuple[tuple[DeletedFile, ...], str]:
    """The release's changes to files the service deleted, or why they are unknown."""
    source = f"git+file://{templates.get(plan.source).path}"
    try:
        found = deleted_but_changed(
            project, source, _service_ref(plan), plan.target.ref, timeout=templates.timeout
        )
        return found, ""
    except RenderError as error:
        return (), str(error)


def _check_source(project: Path, plan: UpdatePlan) -> None:
    """Copier takes the template from `project`'s own answers: they must name the source the
    plan was made (and trusted) for. A preview's clone holds the last commit, whose answers
    may not be the working tree's the plan read."""
    try:
        recorded = read_recorded_template(project).src_path
    except NotAGeneratedProjectError as error:
        raise UpdateError(f"{error}: commit the answers file first") from error
    if recorded != plan.source:
        raise UpdateError(
            f"{project / '.copier-answers.yml'} names the template {recorded!r}, not "
            f"{plan.source!r} as the service's working tree does: commit the answers file first"
        )


def _timed_out(plan: UpdatePlan, expired: subprocess.TimeoutExpired) -> str:
    """The error of an update that ran over its time: whose, how long, and what it printed
    last (Copier names the task it runs)."""
    printed = "".join(
        part if isinstance(part, str) else (part or b"").decode(errors="replace")
        for part in (expired.stdout, expired.stderr)
    )
    return (
        f"{plan.service} ({plan.project}): `copier update` to {plan.target.tag} did not finish "
        f"within {expired.timeout:g} s (a template task, a migration or a git operation that "
        "hangs?), so it was stopped with every process it started; give it longer with "
        "--update-timeout SECONDS if it needs it. What it printed last:\n" + printed[-LOG_TAIL:]
    )


def apply_update(
    project: Path, plan: UpdatePlan, templates: Templates, *, timeout: float = UPDATE_TIMEOUT
) -> AppliedUpdate:
    """`copier update` to the plan's target in `project`, conflicts resolved to the team's side.

    Everything the update changed is staged. Raises UpdateError when the working tree is not
    clean (Copier's own precondition), Copier fails, or it runs over `timeout` seconds (it and
    every process it started are then stopped); nothing is left half-merged with markers.
    """
    if not is_clean(project):
        raise UpdateError(f"{project}: commit or stash your changes first (`git status`)")
    _check_source(project, plan)
    command = [
        sys.executable,
        "-m",
        "copier",
        "update",
        "--trust",
        "--defaults",
        "--conflict=inline",
        f"--vcs-ref={plan.target.ref}",
    ]
    try:
        completed = run_bounded(command, cwd=project, env=service_environment(), timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise UpdateError(_timed_out(plan, expired)) from None
    log = (completed.stdout + completed.stderr)[-LOG_TAIL:]
    if completed.returncode != 0:
        raise UpdateError(f"`copier update` failed in {project}:\n{log}")
    conflicts = resolve_to_ours(project)
    leftover = files_with_markers(project)
    if leftover:
        raise UpdateError(f"conflict markers remain in {', '.join(leftover)}; resolve them by hand")
    git(project, "add", "--all")
    changes = git(project, "diff", "--cached", "--name-status", "--no-renames").splitlines()
    deleted, unchecked = _deleted_files(project, plan, templates)
    return AppliedUpdate(log, tuple(conflicts), tuple(changes), deleted, unchecked)


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
            "deleted_files_changed": [deleted.to_json() for deleted in self.applied.deleted],
            "deleted_files_unchecked": self.applied.deleted_unchecked or None,
            "migrations": [migration.to_json() for migration in self.migrations],
            "changelog": [section.heading for section in self.changelog],
            "gates": [gate.to_json() for gate in self.gates],
            "ready": self.ready,
        }


def up_to_date_json(plan: UpdatePlan, now: datetime) -> dict[str, object]:
    """`UpdateReport.to_json` for a plan with nothing to apply: nothing changes, no person is
    needed, no gate ran."""
    nothing = AppliedUpdate(log="", conflicts=(), changes=())
    return UpdateReport(plan, nothing, changelog=(), migrations=()).to_json(now)


def describe_release(
    plan: UpdatePlan, templates: Templates
) -> tuple[tuple[ChangelogSection, ...], tuple[Migration, ...]]:
    """The changelog sections and the migrations of an update, read from the target release.

    Untagged, no section belongs to a version between the two commits: the sections that
    changed between them (`[Unreleased]` included) say what the update brings instead.
    """
    template = templates.get(plan.source)
    ref = plan.target.ref
    changelog = template.read(ref, "CHANGELOG.md") or ""
    config = template.read(ref, "copier.yml") or template.read(ref, "copier.yaml") or ""
    if plan.untagged and plan.current is not None:
        before = template.read(plan.current.commit, "CHANGELOG.md") or ""
        sections = changed_sections(before, changelog)
    else:
        sections = sections_between(changelog, plan.version, plan.target.version)
    try:
        migrations = migrations_run(config, plan.version, plan.target.version)
    except YamlReadError as error:
        raise UpdateError(f"the template's copier.yml at {ref}: {error}") from error
    return tuple(sections), tuple(migrations)


@contextmanager
def private_clone(project: Path) -> Iterator[Path]:
    """A throwaway clone of the service's last commit: previews and the fleet work there."""
    with TemporaryDirectory(prefix="goldenpath-service-") as folder:
        yield clone(project.resolve(), Path(folder) / project.resolve().name)


def try_update(
    project: Path,
    templates: Templates,
    *,
    to: str | None = None,
    gates: Sequence[str] = (),
    timeout: float = UPDATE_TIMEOUT,
) -> tuple[UpdatePlan, UpdateReport | None]:
    """Apply the update in a private clone and run `gates` there; the service is not touched.

    The clone holds the last commit: uncommitted changes are not part of the result.
    """
    plan = plan_update(project, templates, to=to)
    return plan, try_plan(plan, templates, gates=gates, timeout=timeout)


def try_plan(
    plan: UpdatePlan,
    templates: Templates,
    *,
    gates: Sequence[str] = (),
    timeout: float = UPDATE_TIMEOUT,
) -> UpdateReport | None:
    """`try_update` for a plan already made (None: nothing to apply)."""
    if plan.up_to_date:
        return None
    head(plan.project)  # a service with no commit yet: say so, before its empty clone fails
    with private_clone(plan.project) as copy:
        applied = apply_update(copy, plan, templates, timeout=timeout)
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


def check_can_commit(project: Path) -> None:
    """git knows who makes a commit in `project` (author and committer); else a clear error."""
    for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if git(project, "var", variable, check=False).strip():
            continue
        who = variable.split("_")[1].lower()
        raise UpdateError(
            f"{project}: git cannot make a commit here ({who} identity unknown): set user.name "
            "and user.email (`git config user.email you@example.com`), or GIT_AUTHOR_NAME, "
            "GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL"
        )


def prepare_branch(
    project: Path,
    templates: Templates,
    *,
    branch: str = BRANCH,
    remote: str = REMOTE,
    to: str | None = None,
    gates: Sequence[str] = (),
    timeout: float = UPDATE_TIMEOUT,
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
    checked_out = git(project, "branch", "--show-current").strip()  # "": a detached HEAD
    check_can_commit(project)
    lease = _ref_commit(project, remote_ref)
    git(project, "switch", "--quiet", "-C", branch)
    try:
        applied = apply_update(project, plan, templates, timeout=timeout)
        # The message on stdin: an error names the command, and must not hold the message.
        git(project, "commit", "--quiet", "--no-verify", "--file=-", stdin=commit_message(plan))
    except (UpdateError, GitError) as failure:
        # Leave the service as it was (its branch, its commit, the update's debris removed), or
        # say after the failure's own words that it is not, where it is and what to run.
        try:
            restore(project, base, checked_out)
        except NotRestoredError as not_restored:
            raise UpdateError(f"{failure}\n\n{not_restored}") from failure
        raise
    results = run_gates(project, gates)
    changelog, migrations = describe_release(plan, templates)
    report = UpdateReport(plan, applied, changelog, migrations, tuple(results))
    return BranchResult("ready", plan, report, base=base, lease=lease)


def write_bundle(project: Path, result: BranchResult, branch: str, destination: Path) -> None:
    """The branch's new commits as a git bundle: how the read-only job hands them to the job
    allowed to push (the bundle needs the base commit, which that job checks out too)."""
    git(project, "bundle", "create", str(destination), f"refs/heads/{branch}", f"^{result.base}")
