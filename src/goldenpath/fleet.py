"""The fleet view: every service's template release, lag, audit score and update outlook.

A platform team points it at local clones of its services. Per service it reads the recorded
release (`.copier-answers.yml`), counts the releases and days since it fell behind, asks the
audit for its score, and tries the update in a private clone (update.try_plan) to say
whether it would apply cleanly. The clones themselves are only read. An outcome is kept
across runs (fleet_cache.py) and reused while the service's last commit, the release and this
tool are the same.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ._git import GitError, head
from .answers import NotAGeneratedProjectError
from .fleet_audit import AuditScore, audit_score
from .fleet_cache import OutcomeCache, UpdateOutcome, outcome_key
from .update import UPDATE_TIMEOUT, Templates, UpdateError, UpdatePlan, plan_update, try_plan

# How a service's audit score is worked out: the repository and the template's newest release.
type Auditor = Callable[[Path, str | None], AuditScore]

# What an update would do: "up-to-date", "clean", "conflicts", or "failed" (see `error`).
UP_TO_DATE, CLEAN, CONFLICTS, FAILED = "up-to-date", "clean", "conflicts", "failed"


@dataclass(frozen=True)
class ServiceStatus:
    repository: Path
    plan: UpdatePlan | None = None
    update: str = FAILED
    conflicts: tuple[str, ...] = ()
    audit: AuditScore = field(default_factory=AuditScore)
    # Files the service deleted that the update changes: Copier would leave them deleted.
    deleted: tuple[str, ...] = ()
    error: str | None = None
    reused: bool = False  # the update's outcome came from an earlier run (fleet_cache.py)

    @property
    def service(self) -> str:
        return self.plan.service if self.plan else self.repository.name

    def to_json(self, now: datetime) -> dict[str, object]:
        plan: dict[str, object] = (
            self.plan.to_json(now) if self.plan else UpdatePlan.unknown_json(self.service)
        )
        return {
            "repository": str(self.repository),
            **plan,
            "audit_score": self.audit.score,
            "audit_areas": dict(self.audit.areas),
            "audit_note": self.audit.note,
            "update": self.update,
            "conflicts": list(self.conflicts),
            "deleted_files_changed": list(self.deleted),
            "update_reused": self.reused,
            "error": self.error,
        }


def inspect_service(
    repository: Path,
    templates: Templates,
    *,
    with_audit: bool = True,
    cache: OutcomeCache | None = None,
    auditor: Auditor | None = None,
    update_timeout: float = UPDATE_TIMEOUT,
) -> ServiceStatus:
    """One service's row; a problem with it becomes its `error`, never the whole run's.

    An update that cannot be tried (Copier fails, the clone has no commit) still leaves the
    release, the lag and the audit score in the row: only `update` says "failed".
    """
    repository = repository.resolve()
    try:
        plan = plan_update(repository, templates)
    except (NotAGeneratedProjectError, UpdateError, GitError) as error:
        return ServiceStatus(repository, error=str(error))
    audit = (
        (auditor or _audit_here)(repository, plan.newest.tag)
        if with_audit
        else AuditScore(note="not audited (--no-audit)")
    )
    if plan.up_to_date:
        return ServiceStatus(repository, plan, UP_TO_DATE, audit=audit)
    try:
        outcome, reused = _update_outcome(plan, templates, cache, update_timeout)
    except (UpdateError, GitError) as error:
        return ServiceStatus(repository, plan, FAILED, audit=audit, error=str(error))
    return ServiceStatus(
        repository,
        plan,
        outcome.update,
        outcome.conflicts,
        audit,
        deleted=outcome.deleted,
        reused=reused,
    )


def _update_outcome(
    plan: UpdatePlan, templates: Templates, cache: OutcomeCache | None, timeout: float
) -> tuple[UpdateOutcome, bool]:
    """The outcome of trying the plan, and whether an earlier run's was reused."""
    commit = head(plan.project)
    key = outcome_key(commit, plan.target.commit)
    if cache is not None and (kept := cache.get(key)) is not None:
        return kept, True
    report = try_plan(plan, templates, timeout=timeout)
    assert report is not None  # the plan is not up to date
    conflicts = tuple(dict.fromkeys(conflict.path for conflict in report.applied.conflicts))
    outcome = UpdateOutcome(
        CONFLICTS if conflicts else CLEAN,
        conflicts,
        tuple(file.path for file in report.applied.deleted),
    )
    # Kept only when complete, and when the clone tried was of the commit the key names.
    if cache is not None and not report.applied.deleted_unchecked and head(plan.project) == commit:
        cache.put(key, outcome)
    return outcome, False


def _audit_here(repository: Path, newest_release: str | None) -> AuditScore:
    return audit_score(repository, newest_release=newest_release)


@contextmanager
def audit_processes(workers: int, audit: Auditor = _audit_here) -> Iterator[Auditor]:
    """Audits in processes of their own: an audit is Python parsing Python, and threads would
    take turns on one interpreter's lock, where the update tries (git, Copier) wait on
    subprocesses and share a thread pool well.

    A worker that dies (killed, out of memory) breaks its pool for good: the pool is replaced,
    so only the audits it was running lose their score, not every audit after them."""
    # Not forked: the fleet's threads may hold locks at the moment a fork copies them.
    context = multiprocessing.get_context("forkserver")
    pools = [ProcessPoolExecutor(max_workers=workers, mp_context=context)]
    replacing = threading.Lock()  # the fleet's threads audit at once

    def audit_elsewhere(repository: Path, newest_release: str | None) -> AuditScore:
        pool = pools[-1]
        try:
            return pool.submit(audit, repository, newest_release).result()
        except BrokenProcessPool as error:
            with replacing:
                if pools[-1] is pool:  # the first to see it broken replaces it
                    pools.append(ProcessPoolExecutor(max_workers=workers, mp_context=context))
            return AuditScore(note=f"{repository.name}: the audit's process died: {error}")

    try:
        yield audit_elsewhere
    finally:
        for pool in pools:
            pool.shutdown()


def inspect_fleet(
    repositories: Sequence[Path],
    *,
    trusted: Sequence[str],
    jobs: int = 2,
    with_audit: bool = True,
    cache: OutcomeCache | None = None,
    update_timeout: float = UPDATE_TIMEOUT,
) -> list[ServiceStatus]:
    """Every service's status, in the order given; `jobs` services are tried (and audited)
    at once. Only services of a `trusted` template source are tried (update.Templates)."""
    workers = max(1, jobs)
    with (
        Templates(trusted, timeout=update_timeout) as templates,
        audit_processes(workers) as auditor,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        return list(
            pool.map(
                lambda path: inspect_service(
                    path,
                    templates,
                    with_audit=with_audit,
                    cache=cache,
                    auditor=auditor,
                    update_timeout=update_timeout,
                ),
                repositories,
            )
        )


class RepositoryListError(ValueError):
    """A file argument of `goldenpath fleet` cannot be read as a list of repositories."""


def repositories_from(arguments: Iterable[str]) -> list[Path]:
    """Folders as given; a file argument lists more, one per line (`#` comments, blank lines
    skipped, relative paths relative to the file)."""
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                raise RepositoryListError(
                    f"{path}: not a list of repositories (not UTF-8 text: {error.reason})"
                ) from error
            for line in text.splitlines():
                entry = line.split("#", 1)[0].strip()
                if entry:
                    listed = Path(entry).expanduser()
                    found.append(listed if listed.is_absolute() else path.parent / listed)
        else:
            found.append(path)
    return found


def behind(status: ServiceStatus, now: datetime) -> str:
    """`2 (45 d)`: releases behind and days since the first; untagged, `5 commits (12 d)`."""
    plan = status.plan
    if plan is None:
        return "-"
    count = plan.behind
    if not count:
        return "0"
    if plan.untagged:
        return f"{count} commit{'s' * (count != 1)} ({plan.days_behind(now)} d)"
    return f"{count} ({plan.days_behind(now)} d)"


def update_text(status: ServiceStatus) -> str:
    """The update column: its outcome, the conflicted files, or the error's first line; and the
    files the service deleted that the update changes (`clean; deleted but changed: ci.yml`)."""
    if status.error:
        return f"error: {status.error.splitlines()[0]}"
    text = f"{status.update}: {', '.join(status.conflicts)}" if status.conflicts else status.update
    if status.deleted:
        text += f"; deleted but changed: {', '.join(status.deleted)}"
    return text


def table(statuses: Sequence[ServiceStatus], now: datetime) -> str:
    header = ("service", "release", "newest", "behind", "audit", "update")
    rows = [
        (
            status.service,
            status.plan.recorded_commit if status.plan else "-",
            status.plan.newest.tag if status.plan else "-",
            behind(status, now),
            "-" if status.audit.score is None else f"{status.audit.score:.0f}%",
            update_text(status),
        )
        for status in statuses
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in (header, *rows)
    ]
    notes = sorted({status.audit.note for status in statuses if status.audit.note})
    untagged = sorted(
        {status.plan.source for status in statuses if status.plan and status.plan.untagged}
    )
    return "\n".join(
        lines
        + [
            f"template {source}: untagged (no vX.Y.Z tag), behind counts commits"
            for source in untagged
        ]
        + [f"audit: {note}" for note in notes]
    )
