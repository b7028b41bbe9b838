"""The words around an update: the pull request's title and description, and the terminal view.

The description is what a reviewer reads instead of the template's repository: the release notes
between the service's version and the new one, the migrations that ran (with what they printed),
each conflict left for a person with both sides, the release's changes to files the service
deleted (which Copier drops silently), and the gates' results. GitHub caps a
description at 65,536 characters; long logs are cut first, never the release notes.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from .changelog import ChangelogSection
from .conflicts import Conflict
from .deleted_files import DeletedFile
from .gates import GateResult
from .releases import Commit
from .update import AppliedUpdate, UpdatePlan, UpdateReport

BODY_LIMIT = 60000
DETAILS_LIMIT = 6000
COMMITS_LISTED = 100
DELETED_DIFF_LINES = 80


def fenced(text: str, language: str = "") -> str:
    """A code block that stays one block whatever backticks `text` holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def code(text: str) -> str:
    """An inline code span that holds `text` whole, whatever it holds (CommonMark 6.1).

    The span ends at the first run of backticks as long as the one that opened it: a path
    holding a backtick ended a single-backtick span early, and what followed it was Markdown
    (a link, an image, a mention) in the pull request. So the run is longer than any in the
    text, and padded with a space each side, which the parser strips, where the text starts or
    ends with a backtick, or starts and ends with a space. A line break becomes the space it
    renders as in a span: two of them would end the paragraph, and the span with it.
    """
    text = re.sub(r"\r\n|\r|\n", " ", text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    spaced = text.startswith(" ") and text.endswith(" ") and text.strip(" ")
    if text.startswith("`") or text.endswith("`") or spaced:
        text = f" {text} "
    return f"{fence}{text}{fence}"


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
        f"- {code(commit.sha[:10])} {commit.subject} ({commit.date.date().isoformat()})"
        for commit in commits[-COMMITS_LISTED:]
    ]
    if len(commits) > COMMITS_LISTED:
        shown.insert(0, f"- ... {len(commits) - COMMITS_LISTED} older commit(s)")
    return "\n".join(shown) or "none"


def _release_notes(report: UpdateReport, room: int) -> str:
    """What the release says it changes: the changelog's sections the update crosses, cut to fit
    `room` (`_fitted`); around them, for an untagged template, what it is and its commits."""
    plan = report.plan
    changelog = "\n\n".join(_demoted(section) for section in report.changelog)
    before: list[str] = []
    after: list[str] = []
    if plan.untagged:
        since = plan.current.tag if plan.current else plan.recorded_commit
        before.append(
            "The template has no release tag (vX.Y.Z), so there are no release notes by "
            f"version: this takes its commit {plan.target.tag}. What its CHANGELOG.md says that "
            f"it did not say at {since}:"
        )
        changelog = changelog or "_Nothing: CHANGELOG.md did not change._"
        after.append(
            details(
                f"The {len(plan.pending_commits)} commit(s)", _commit_list(plan.pending_commits)
            )
        )
    else:
        missing = [
            release.tag
            for release in plan.pending
            if release.version not in {section.version for section in report.changelog}
        ]
        if missing:
            after.append(f"_No changelog entry for {', '.join(missing)}._")
    frame = len("\n\n".join([*before, "", *after]))
    fitted = _fitted(changelog, room - frame, plan.target.tag)
    return "\n\n".join(part for part in [*before, fitted, *after] if part)


def _migrations(report: UpdateReport) -> str:
    if not report.migrations:
        return "None."
    lines = [
        f"- {code(migration.command)} "
        + (f"(crossing {migration.version})" if migration.version else "(after every update)")
        for migration in report.migrations
    ]
    return (
        "\n".join(lines)
        + "\n\n"
        + details("What the update printed", fenced(tail(report.applied.log, DETAILS_LIMIT)))
    )


def change(before: str, after: str, *, context: int | None = None) -> list[str]:
    """`after` against `before`, line by line (` `, `-`, `+`): one hunk, whole; or, given
    `context`, each hunk with that many lines around it under its `@@` line."""
    old, new = before.splitlines(), after.splitlines()
    if context is None:
        diff = difflib.unified_diff(old, new, lineterm="", n=max(len(old), len(new)))
        return [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    diff = difflib.unified_diff(old, new, lineterm="", n=context)
    return [line for line in diff if not line.startswith(("---", "+++"))]


def _conflict(conflict: Conflict) -> str:
    if not conflict.line:  # a rejected hunk (`.rej`): nothing of it was applied
        return f"**{code(conflict.path)}**: the release's change did not apply:\n\n" + fenced(
            conflict.theirs, "diff"
        )
    where = f"**{code(conflict.path)}**, line {conflict.line}"
    if conflict.base is None:
        ours = "".join(f"-{line}\n" for line in conflict.ours.splitlines()) or "-\n"
        theirs = "".join(f"+{line}\n" for line in conflict.theirs.splitlines()) or "+\n"
        return f"{where}: kept your lines (`-`); the release has (`+`), dropped:\n\n" + fenced(
            ours + theirs, "diff"
        )
    dropped = "\n".join(change(conflict.base, conflict.theirs)) or "(nothing)"
    kept = "\n".join(change(conflict.base, conflict.ours)) or "(nothing)"
    return (
        f"{where}: the release's change here was **dropped**:\n\n{fenced(dropped, 'diff')}\n\n"
        f"Your change to the same lines, kept:\n\n{fenced(kept, 'diff')}"
    )


def release_change(deleted: DeletedFile) -> list[str]:
    """The release's change to a file the service deleted, as a unified diff (3 lines of
    context), or the whole file when the release adds it; cut after `DELETED_DIFF_LINES` lines,
    so one rewritten file cannot push the gates out of a description GitHub caps."""
    if deleted.before is None:
        lines = [f"+{line}" for line in deleted.after.splitlines()]
    else:
        lines = change(deleted.before, deleted.after, context=3)
    if len(lines) > DELETED_DIFF_LINES:
        left = len(lines) - DELETED_DIFF_LINES
        lines = [*lines[:DELETED_DIFF_LINES], f"[... {left} more lines of the release's change]"]
    return lines


def _deleted_files_section(applied: AppliedUpdate) -> str:
    if applied.deleted_unchecked:
        return f"Not checked: {applied.deleted_unchecked}"
    intro = (
        "This service deleted these files, and the release changes them. `copier update` leaves "
        "a deleted file deleted and says nothing, so **the release's change to them is not in "
        "this branch**. If a change matters to you (a fix, a pinned version), carry it over "
        "where that code lives now.\n\n"
    )
    return intro + "\n\n".join(
        f"**{code(deleted.path)}**"
        + (" (new in the release)" if deleted.before is None else "")
        + ":\n\n"
        + fenced("\n".join(release_change(deleted)), "diff")
        for deleted in applied.deleted
    )


def conflict_summary(conflicts: Sequence[Conflict]) -> str:
    """`2 conflicts in 1 file`."""
    files = len({conflict.path for conflict in conflicts})
    return (
        f"{len(conflicts)} conflict{'s' * (len(conflicts) != 1)} in {files} "
        f"file{'s' * (files != 1)}"
    )


def _conflicts(conflicts: Iterable[Conflict]) -> str:
    listed = list(conflicts)
    if not listed:
        return "None: the release merged cleanly with your changes."
    by_file: dict[str, list[str]] = {}
    for conflict in listed:
        by_file.setdefault(conflict.path, []).append(
            f"line {conflict.line}" if conflict.line else "a hunk that did not apply"
        )
    index = "\n".join(f"- {code(path)}: {', '.join(hunks)}" for path, hunks in by_file.items())
    intro = (
        f"{conflict_summary(listed)}. Where you and the release changed the same lines, this "
        "branch keeps **your** lines (so it has no conflict markers) and **drops the release's "
        "change there**. The rest of the release's changes to these files were applied, so code "
        "may now refer to something only a dropped change defines: the gates below say whether "
        "the service still works. Apply each dropped change by hand where it still makes sense "
        "(push to this branch), then mark the pull request ready for review.\n\n"
    )
    return intro + index + "\n\n" + "\n\n".join(_conflict(conflict) for conflict in listed)


def _gates(gates: Iterable[GateResult]) -> str:
    results = list(gates)
    if not results:
        return "Not run."
    rows = ["| gate | command | result |", "|---|---|---|"]
    rows += [
        f"| {gate.name} | {code(gate.command)} | {'passed' if gate.passed else '**failed**'} "
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


def needs_a_person(report: UpdateReport) -> str:
    """`2 conflicts in 1 file (the release's change there was dropped) and a gate failed
    (lint)`: why an update is not ready, for the title's reader and the terminal alike."""
    reasons = []
    if report.applied.conflicts:
        reasons.append(
            f"{conflict_summary(report.applied.conflicts)} (the release's change there was "
            "dropped; see below)"
        )
    failed = [gate.name for gate in report.gates if not gate.passed]
    if failed:
        reasons.append(f"{'a gate' if len(failed) == 1 else 'gates'} failed ({', '.join(failed)})")
    return " and ".join(reasons)


def pull_request_body(report: UpdateReport) -> str:
    plan = report.plan
    status = (
        "Ready for review: the release merged cleanly and the gates passed."
        if report.ready
        else "**Needs a person**: " + needs_a_person(report) + "."
    )
    changes = "\n".join(f"- {code(line)}" for line in report.applied.changes)
    where = (
        f"This service is on template commit **{plan.recorded_commit}**. The template has no "
        f"release tag (vX.Y.Z), so this updates it to the commit **{plan.target.tag}** "
        f"({len(plan.pending_commits)} commit(s) later) with `copier update`. {status}"
        if plan.untagged
        else f"This service is on template release **{plan.recorded_commit}**; this updates it "
        f"to **{plan.target.tag}** ({len(plan.pending)} release(s)) with `copier update`. {status}"
    )
    notes_heading = "## What the release changes for this service\n\n"
    sections = [
        where,
        notes_heading,  # the release notes: what room the sections after them leave
        "## Migrations that ran\n\n" + _migrations(report),
        "## Conflicts left for a person\n\n" + _conflicts(report.applied.conflicts),
        *(
            [
                "## Files this service deleted that the release changes\n\n"
                + _deleted_files_section(report.applied)
            ]
            if report.applied.deleted or report.applied.deleted_unchecked
            else []
        ),
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
    room = BODY_LIMIT - len("\n\n".join(sections) + "\n")
    sections[1] = notes_heading + _release_notes(report, room)
    body = "\n\n".join(sections) + "\n"
    if len(body) > BODY_LIMIT:  # the sections a person acts on are that long by themselves
        body = body[: BODY_LIMIT - 100] + "\n\n[... cut: the description exceeded GitHub's limit]\n"
    return body


def _fitted(changelog: str, room: int, target: str) -> str:
    """The changelog's text, cut at a line to fit `room` when it is longer: a long release's
    notes must not push the migrations, the conflicts and the gates out of the description."""
    if len(changelog) <= room:
        return changelog
    marker = (
        "\n\n[... {cut} characters of the release notes cut to fit GitHub's limit: "
        f"CHANGELOG.md in the template at {target} has them whole]"
    )
    keep = max(0, room - len(marker.format(cut=len(changelog))))
    end = changelog.rfind("\n", 0, keep + 1)
    kept = changelog[: end if end != -1 else keep]
    return kept + marker.format(cut=len(changelog) - len(kept))


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
    """What `update-preview` and `update-branch` print: the outcome first, then the details."""
    conflicts = report.applied.conflicts
    lines = [
        f"Update {report.plan.service} from {report.plan.recorded_commit} to "
        f"{report.plan.target.tag}: "
        + (
            "ready (merged cleanly, gates passed)"
            if report.ready
            else "needs a person: " + needs_a_person(report)
        ),
        f"  files changed: {len(report.applied.changes)}",
        *(f"    {line}" for line in report.applied.changes),
        f"  migrations: {', '.join(m.command for m in report.migrations) or 'none'}",
        f"  conflicts: {conflict_summary(conflicts) if conflicts else 'none'}"
        + ("; your lines are kept, the release's change there is dropped:" if conflicts else ""),
    ]
    for conflict in conflicts:
        if not conflict.line:
            lines.append(f"    {conflict.path}: a change of the release's that did not apply:")
            lines += [f"        {line}" for line in conflict.theirs.splitlines()]
            continue
        lines.append(f"    {conflict.path}:{conflict.line}")
        if conflict.base is None:
            lines.append("      yours (kept) / the release's (dropped):")
            lines += [f"        - {line}" for line in conflict.ours.splitlines()]
            lines += [f"        + {line}" for line in conflict.theirs.splitlines()]
            continue
        lines.append("      the release's change (dropped):")
        lines += [f"        {line}" for line in change(conflict.base, conflict.theirs)]
        lines.append("      your change (kept):")
        lines += [f"        {line}" for line in change(conflict.base, conflict.ours)]
    deleted = report.applied.deleted
    if report.applied.deleted_unchecked:
        lines.append(f"  deleted files: not checked: {report.applied.deleted_unchecked}")
    elif deleted:
        lines.append(
            f"  deleted files the release changes: {len(deleted)}; they stay deleted, the "
            "release's change to them is not applied:"
        )
    for file in deleted:
        lines.append(f"    {file.path}" + (" (new in the release)" if file.before is None else ""))
        lines += [f"        {line}" for line in release_change(file)]
    for gate in report.gates:
        lines.append(f"  gate {gate.name}: {'passed' if gate.passed else 'FAILED'}")
        if not gate.passed:
            lines += [f"      {line}" for line in gate.output.splitlines()[-15:]]
    lines.append(f"  release notes: {', '.join(s.heading for s in report.changelog) or 'none'}")
    return "\n".join(lines)
