"""The words around an update: the pull request's title and description, and the terminal view.

The description is what a reviewer reads instead of the template's repository: the release notes
between the service's version and the new one, the migrations that ran (with what they printed),
each conflict left for a person with both sides, and the gates' results. GitHub caps a
description at 65,536 characters; long logs are cut first, never the release notes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from .changelog import ChangelogSection
from .conflicts import Conflict
from .gates import GateResult
from .releases import Commit
from .update import UpdatePlan, UpdateReport

BODY_LIMIT = 60000
DETAILS_LIMIT = 6000
COMMITS_LISTED = 100


def fenced(text: str, language: str = "") -> str:
    """A code block that stays one block whatever backticks `text` holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters cut]\n{text[-limit:]}"


def details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def title(report: UpdateReport) -> str:
    plan = report.plan
    suffix = " (conflicts to resolve)" if report.applied.conflicts else ""
    return f"Update the template from {plan.recorded_commit} to {plan.target.tag}{suffix}"


def _demoted(section: ChangelogSection) -> str:
    """A release's notes one heading level down, to sit under this description's headings."""
    body = re.sub(r"^(#{1,5}) ", r"#\1 ", section.body, flags=re.MULTILINE)
    return f"### {section.heading}\n\n{body}".rstrip()


def _commit_list(commits: Sequence[Commit]) -> str:
    shown = [
        f"- `{commit.sha[:10]}` {commit.subject} ({commit.date.date().isoformat()})"
        for commit in commits[-COMMITS_LISTED:]
    ]
    if len(commits) > COMMITS_LISTED:
        shown.insert(0, f"- ... {len(commits) - COMMITS_LISTED} older commit(s)")
    return "\n".join(shown) or "none"


def _untagged_notes(report: UpdateReport) -> str:
    plan = report.plan
    since = plan.current.tag if plan.current else plan.recorded_commit
    parts = [
        f"The template has no release tag (vX.Y.Z), so there are no release notes by version: "
        f"this takes its commit {plan.target.tag}. What its CHANGELOG.md says that it did not "
        f"say at {since}:"
    ]
    parts += [_demoted(section) for section in report.changelog] or [
        "_Nothing: CHANGELOG.md did not change._"
    ]
    parts.append(
        details(f"The {len(plan.pending_commits)} commit(s)", _commit_list(plan.pending_commits))
    )
    return "\n\n".join(parts)


def _release_notes(report: UpdateReport) -> str:
    plan = report.plan
    if plan.untagged:
        return _untagged_notes(report)
    missing = [
        release.tag
        for release in plan.pending
        if release.version not in {section.version for section in report.changelog}
    ]
    parts = [_demoted(section) for section in report.changelog]
    if missing:
        parts.append(f"_No changelog entry for {', '.join(missing)}._")
    return "\n\n".join(parts)


def _migrations(report: UpdateReport) -> str:
    if not report.migrations:
        return "None."
    lines = [
        f"- `{migration.command}` "
        + (f"(crossing {migration.version})" if migration.version else "(after every update)")
        for migration in report.migrations
    ]
    return (
        "\n".join(lines)
        + "\n\n"
        + details("What the update printed", fenced(tail(report.applied.log, DETAILS_LIMIT)))
    )


def _conflict(conflict: Conflict) -> str:
    if not conflict.line:  # a rejected hunk (`.rej`): nothing of it was applied
        return f"**`{conflict.path}`**: the release's change did not apply:\n\n" + fenced(
            conflict.theirs, "diff"
        )
    ours = "".join(f"-{line}\n" for line in conflict.ours.splitlines()) or "-\n"
    theirs = "".join(f"+{line}\n" for line in conflict.theirs.splitlines()) or "+\n"
    return (
        f"**`{conflict.path}`**, line {conflict.line}: kept your lines (`-`); "
        f"the release has (`+`):\n\n" + fenced(ours + theirs, "diff")
    )


def _conflicts(conflicts: Iterable[Conflict]) -> str:
    listed = list(conflicts)
    if not listed:
        return "None: the release merged cleanly with your changes."
    intro = (
        "Where you and the release changed the same lines, this branch keeps **your** lines, so "
        "it has no conflict markers. Bring in the release's lines below where they still make "
        "sense (push to this branch), then mark the pull request ready for review.\n\n"
    )
    return intro + "\n\n".join(_conflict(conflict) for conflict in listed)


def _gates(gates: Iterable[GateResult]) -> str:
    results = list(gates)
    if not results:
        return "Not run."
    rows = ["| gate | command | result |", "|---|---|---|"]
    rows += [
        f"| {gate.name} | `{gate.command}` | {'passed' if gate.passed else '**failed**'} "
        f"({gate.seconds:.0f} s) |"
        for gate in results
    ]
    failures = [
        details(f"{gate.name}: output", fenced(tail(gate.output, DETAILS_LIMIT)))
        for gate in results
        if not gate.passed
    ]
    return "\n".join(rows) + ("\n\n" + "\n\n".join(failures) if failures else "")


def _run_link() -> str:
    """The workflow run, when running in GitHub Actions (its own variables, not user input)."""
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    server, repository, run = (os.environ.get(name) for name in names)
    if not (server and repository and run):
        return ""
    return f" ([run]({server}/{repository}/actions/runs/{run}))"


def pull_request_body(report: UpdateReport) -> str:
    plan = report.plan
    status = (
        "Ready for review: the release merged cleanly and the gates passed."
        if report.ready
        else "**Needs a person**: "
        + " and ".join(
            reason
            for reason, present in (
                ("conflicts are left below", bool(report.applied.conflicts)),
                ("a gate failed", not report.gates_passed),
            )
            if present
        )
        + "."
    )
    changes = "\n".join(f"- `{line}`" for line in report.applied.changes)
    where = (
        f"This service is on template commit **{plan.recorded_commit}**. The template has no "
        f"release tag (vX.Y.Z), so this updates it to the commit **{plan.target.tag}** "
        f"({len(plan.pending_commits)} commit(s) later) with `copier update`. {status}"
        if plan.untagged
        else f"This service is on template release **{plan.recorded_commit}**; this updates it "
        f"to **{plan.target.tag}** ({len(plan.pending)} release(s)) with `copier update`. {status}"
    )
    sections = [
        where,
        "## What the release changes for this service\n\n" + _release_notes(report),
        "## Migrations that ran\n\n" + _migrations(report),
        "## Conflicts left for a person\n\n" + _conflicts(report.applied.conflicts),
        "## Gates\n\n"
        + _gates(report.gates)
        + "\n\nThe gates ran in the update workflow"
        + _run_link()
        + ": GitHub starts no workflow for a pull request opened with the workflow's own token, "
        "so push a commit (or close and reopen this pull request) to run CI here.",
        details(f"{len(report.applied.changes)} file(s) changed", changes or "none"),
        "Opened by `goldenpath update-branch` (the scheduled template-update workflow). "
        "It refreshes this pull request on every run while the branch holds only its own "
        "commits; once you push to the branch it leaves it to you.",
    ]
    body = "\n\n".join(sections) + "\n"
    if len(body) > BODY_LIMIT:
        body = body[: BODY_LIMIT - 100] + "\n\n[... cut: the description exceeded GitHub's limit]\n"
    return body


def plan_text(plan: UpdatePlan, now: datetime) -> str:
    """One line: where the service is, and what an update would bring."""
    if plan.untagged:
        return _untagged_plan_text(plan, now)
    if not plan.missing:
        return f"{plan.service}: on {plan.recorded_commit}, the newest release. Nothing to do."
    behind = (
        f"{len(plan.missing)} release(s) behind the newest, {plan.newest.tag}: "
        f"{plan.days_behind(now)} day(s) since {plan.missing[0].tag} came out"
    )
    if plan.up_to_date:
        return f"{plan.service}: on {plan.recorded_commit}, past {plan.target.tag}; {behind}."
    return f"{plan.service}: on {plan.recorded_commit}; {plan.target.tag} is available; {behind}."


def _untagged_plan_text(plan: UpdatePlan, now: datetime) -> str:
    untagged = (
        f"the template at {plan.source} is untagged (it has no release tag vX.Y.Z), so its "
        "commits are compared"
    )
    if not plan.commits:
        return (
            f"{plan.service}: on commit {plan.recorded_commit}, the newest commit; {untagged}. "
            "Nothing to do."
        )
    behind = (
        f"{len(plan.commits)} commit(s) behind its newest, {plan.newest.tag}: "
        f"{plan.days_behind(now)} day(s) since the first of them"
    )
    if plan.up_to_date:
        return (
            f"{plan.service}: on commit {plan.recorded_commit}, past {plan.target.tag}; "
            f"{untagged}: {behind}."
        )
    return (
        f"{plan.service}: on commit {plan.recorded_commit}; {untagged}: {behind}. "
        f"`copier update` takes {plan.target.tag}."
    )


def report_text(report: UpdateReport) -> str:
    """What `update-preview` prints: the outcome first, then the details."""
    lines = [
        f"Update {report.plan.service} from {report.plan.recorded_commit} to "
        f"{report.plan.target.tag}:",
        f"  files changed: {len(report.applied.changes)}",
        *(f"    {line}" for line in report.applied.changes),
        f"  migrations: {', '.join(m.command for m in report.migrations) or 'none'}",
        f"  conflicts: {len(report.applied.conflicts) or 'none'}",
    ]
    for conflict in report.applied.conflicts:
        lines.append(f"    {conflict.path}:{conflict.line}")
        lines += [f"      - {line}" for line in conflict.ours.splitlines()]
        lines += [f"      + {line}" for line in conflict.theirs.splitlines()]
    for gate in report.gates:
        lines.append(f"  gate {gate.name}: {'passed' if gate.passed else 'FAILED'}")
        if not gate.passed:
            lines += [f"      {line}" for line in gate.output.splitlines()[-15:]]
    lines.append(f"  release notes: {', '.join(s.heading for s in report.changelog) or 'none'}")
    return "\n".join(lines)
