"""`goldenpath update-check`, `update-preview` and `update-branch`: one service's update.

- `update-check` says whether a newer template release exists and how far behind the service is.
- `update-preview` applies it in a private clone and runs quick gates there: what would change,
  whether it conflicts, whether the gates still pass. The service is not touched.
- `update-branch` commits it on a branch and writes the pull request's text: what the scheduled
  template-update workflow runs, and what a team runs to do the same by hand.

Exit codes: 0 done (for `update-preview`: the update is clean and the gates pass), 1 the preview
needs a person (conflicts or a failing gate) or, asked with `update-check --exit-code`, an update
is available (as `git diff --exit-code` exits 1 on a difference), 2 an error (message on stderr;
in a GitHub Actions step, `--github-output` with text, on stdout inside the framing:
_github.commands_stopped).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from ._cli_support import (
    Subcommands,
    add_update_timeout,
    check_output_files,
    gates_argument,
    reports_errors,
    write_text,
)
from ._git import git_path
from ._github import workflow_command, write_github_output
from .gates import ALL, QUICK
from .report import plan_text, pull_request_body, report_text, title
from .update import (
    BRANCH,
    REMOTE,
    Templates,
    UpdateReport,
    plan_update,
    prepare_branch,
    try_update,
    up_to_date_json,
    write_bundle,
)

EXIT_NEEDS_A_PERSON = 1
EXIT_UPDATE_AVAILABLE = 1  # only with `update-check --exit-code`: 0 stays the default for scripts


@reports_errors
def _check(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with Templates() as templates:
        plan = plan_update(args.project, templates, to=args.to)
    if args.format == "json":
        print(json.dumps(plan.to_json(now), indent=2))
    else:
        print(plan_text(plan, now))
    if args.github_output:
        write_github_output(
            args.github_output,
            {
                "available": str(not plan.up_to_date).lower(),
                "current": plan.recorded_commit,
                # What `uvx --from git+URL@...` and `--to` take: a tag, or untagged a commit.
                "newest": plan.target.ref,
                "untagged": str(plan.untagged).lower(),
            },
        )
    return EXIT_UPDATE_AVAILABLE if args.exit_code and not plan.up_to_date else 0


@reports_errors
def _preview(args: argparse.Namespace) -> int:
    check_output_files({"--pr-body": args.pr_body})
    now = datetime.now(UTC)
    with Templates(timeout=args.update_timeout) as templates:
        plan, report = try_update(
            args.project,
            templates,
            to=args.to,
            gates=args.gates,
            timeout=args.update_timeout,
        )
    json_output = args.format == "json"
    if report is None:
        print(
            json.dumps(up_to_date_json(plan, now), indent=2)
            if json_output
            else plan_text(plan, now)
        )
        return 0
    write_text(args.pr_body, pull_request_body(report))
    print(json.dumps(report.to_json(now), indent=2) if json_output else report_text(report))
    return 0 if report.ready else EXIT_NEEDS_A_PERSON


@reports_errors
def _branch(args: argparse.Namespace) -> int:
    check_output_files(
        {
            "--pr-body": args.pr_body,
            "--bundle": args.bundle,
            "--github-output": args.github_output,
            "--github-summary": args.github_summary,
        }
    )
    with Templates(timeout=args.update_timeout) as templates:
        result = prepare_branch(
            args.project,
            templates,
            branch=args.branch,
            remote=args.remote,
            to=args.to,
            gates=args.gates,
            timeout=args.update_timeout,
        )
    outputs = {
        "status": result.status,
        "title": "",
        "draft": "false",
        "lease": result.lease,
        "conflicts": "",
        "gates": "",
        "gates_summary": "",
    }
    summary = ""
    if result.report is not None:
        report = result.report
        body = pull_request_body(report)
        # By default in the service's .git: in its working tree, the file would make the next
        # run refuse a dirty tree.
        pr_body = args.pr_body or git_path(args.project, "template-update.md")
        write_text(pr_body, body)
        if args.bundle:
            write_bundle(args.project, result, args.branch, args.bundle)
        outputs |= {
            "title": title(report),
            "draft": str(not report.ready).lower(),
            "conflicts": "\n".join(
                f"{one_line(c.path)}:{c.line}" for c in report.applied.conflicts
            ),
            **gate_outputs(report),
        }
        summary = f"# {title(result.report)}\n\n{body}"
        print(report_text(result.report))
        print(f"Committed on branch {args.branch!r}; the pull request text is in {pr_body}.")
        if args.github_output:
            args.workflow_commands += conflict_annotations(report)
    else:
        up_to_date = result.status == "up-to-date"
        summary = plan_text(result.plan, datetime.now(UTC)) if up_to_date else result.reason
        print(summary)
    if args.github_output:
        write_github_output(args.github_output, outputs)
    if args.github_summary:
        with args.github_summary.open("a", encoding="utf-8") as file:
            file.write(summary + "\n")
    return 0


def one_line(path: str) -> str:
    """`path` as is, or quoted as a JSON string when it holds a line break (or another control
    character) or starts with a quote, as git quotes such names: one entry, one line."""
    plain = not path.startswith('"') and all(character >= " " for character in path)
    return path if plain else json.dumps(path, ensure_ascii=False)


def gate_outputs(report: UpdateReport) -> dict[str, str]:
    """The gates' verdict, for the commit status the pull request shows before a merge."""
    if not report.gates:
        return {"gates": "not-run", "gates_summary": "the update ran no gate"}
    failed = [gate.name for gate in report.gates if not gate.passed]
    if failed:
        return {"gates": "failure", "gates_summary": f"failed: {', '.join(failed)}"}
    names = ", ".join(gate.name for gate in report.gates)
    return {"gates": "success", "gates_summary": f"passed: {names}"}


def conflict_annotations(report: UpdateReport) -> list[str]:
    """One GitHub Actions warning per conflict, on the file and line, in the run's summary."""
    annotations = []
    for conflict in report.applied.conflicts:
        where = {"file": conflict.path} | ({"line": str(conflict.line)} if conflict.line else {})
        message = (
            "Your lines are kept; the release's change here was dropped (the pull request shows it)"
        )
        properties = where | {"title": "Template change dropped"}
        annotations.append(workflow_command("warning", message, properties))
    return annotations


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project", nargs="?", type=Path, default=Path(), help="the service (default: .)"
    )
    parser.add_argument(
        "--to",
        metavar="TAG",
        help="a given release instead of the newest (an untagged template: a commit)",
    )


def register(commands: Subcommands) -> None:
    check = commands.add_parser(
        "update-check", help="is a newer template release available, and how far behind is it"
    )
    _common(check)
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--github-output", type=Path, metavar="FILE", help="$GITHUB_OUTPUT")
    check.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {EXIT_UPDATE_AVAILABLE} when an update is available (default: 0 either way; "
        "2 is an error)",
    )
    check.set_defaults(handler=_check)

    preview = commands.add_parser(
        "update-preview",
        help="apply the update in a private clone and run the gates there (changes nothing)",
    )
    _common(preview)
    preview.add_argument(
        "--gates",
        type=gates_argument,
        default=QUICK,
        metavar="LIST",
        help="comma-separated: sync, lint, format, types, unit, tests; or quick (default: "
        "lint,format,unit), all, none",
    )
    add_update_timeout(preview)
    preview.add_argument("--format", choices=("text", "json"), default="text")
    preview.add_argument("--pr-body", type=Path, metavar="FILE", help="write the PR text here")
    preview.set_defaults(handler=_preview)

    branch = commands.add_parser(
        "update-branch",
        help="commit the update on a branch, run the gates, write the pull request's text",
    )
    _common(branch)
    branch.add_argument("--branch", default=BRANCH, help=f"(default: {BRANCH})")
    branch.add_argument(
        "--remote", default=REMOTE, help=f"whose copy of the branch to respect (default: {REMOTE})"
    )
    branch.add_argument(
        "--gates",
        type=gates_argument,
        default=ALL,
        metavar="LIST",
        help="as for update-preview (default: all = lint,format,types,tests)",
    )
    add_update_timeout(branch)
    branch.add_argument(
        "--pr-body",
        type=Path,
        metavar="FILE",
        help="write the PR text here (default: template-update.md in the service's .git)",
    )
    branch.add_argument("--bundle", type=Path, metavar="FILE", help="the new commit, as a bundle")
    branch.add_argument("--github-output", type=Path, metavar="FILE", help="$GITHUB_OUTPUT")
    branch.add_argument("--github-summary", type=Path, metavar="FILE", help="$GITHUB_STEP_SUMMARY")
    branch.set_defaults(handler=_branch)
