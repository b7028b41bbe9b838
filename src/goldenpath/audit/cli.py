"""`goldenpath audit PATH`: the scorecard, JSON or SARIF, and an exit code CI can gate on.

Exit codes: 0 when the thresholds are met; 1 when the score is under `--fail-under` or a
`--require`d standard is not met (a standard that does not apply to the service counts as
met); 2 for a usage error (bad path, unknown standard ID, unreadable or malformed `--compare`
file, a `--url` that is not http(s)); 3 when the audit could not run: nothing to audit (an empty
folder, a repository with no Python), the report cannot be written, the `--url` service did not
answer (the report is still written), or an error of the audit itself. Never a traceback: CI
tells "below the bar" from "could not tell" by the code, and a person reads one line saying why.
"""

from __future__ import annotations

import argparse
import math
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from . import compare as comparing
from .catalogue import AREAS, standards_of
from .model import Report, known_standard
from .probe import ProbeOptions
from .report import json as json_report
from .report import sarif, table
from .runner import NothingToAudit, audit

EXIT_OK = 0
EXIT_BELOW_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_COULD_NOT_RUN = 3


def _required(values: list[str]) -> list[str]:
    return [known_standard(part) for value in values for part in value.split(",") if part.strip()]


def _number(value: str) -> float:
    """`value` as a float; NaN for what is not a number, which every range check refuses, so
    argparse names the option's range rather than this function ("invalid _percent value")."""
    try:
        return float(value)
    except ValueError:
        return math.nan


def _percent(value: str) -> float:
    number = _number(value)
    if not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not a percentage between 0 and 100")
    return number


def _http_url(value: str) -> str:
    try:
        parts = urllib.parse.urlsplit(value)
        usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:  # a malformed address ("http://[::1")
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


def _seconds(value: str) -> float:
    number = _number(value)
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "audit",
        help="score a service repository against the standards catalogue",
        description="Score a Python service repository against the golden path's standards "
        "catalogue, with the evidence for each verdict. Reads the repository; with --url, also "
        "probes the running service.",
    )
    parser.add_argument(
        "path", type=Path, nargs="?", default=Path("."), help="repository (default: .)"
    )
    parser.add_argument("--format", choices=("table", "json", "sarif"), default="table")
    parser.add_argument("--output", "-o", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="table: also show passing standards and their evidence",
    )
    parser.add_argument(
        "--fail-under",
        type=_percent,
        metavar="PERCENT",
        help="exit 1 when the overall score is below PERCENT",
    )
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="ID[,ID...]",
        help="exit 1 unless these standards pass or do not apply (repeatable)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="PREVIOUS.json",
        help="show what changed since a previous --format json report",
    )
    parser.add_argument(
        "--url",
        type=_http_url,
        help="also probe the service running at this http(s) base URL (GET only); exit 3 when "
        "it does not answer",
    )
    parser.add_argument("--probe-timeout", type=_seconds, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--probe-burst",
        type=int,
        default=0,
        metavar="N",
        help="send up to N requests to provoke a 429 (your own instances only)",
    )
    parser.add_argument(
        "--current-release",
        metavar="VERSION",
        help="the template's current release for TPL-2 (default: this audit's own)",
    )
    parser.add_argument("--list", action="store_true", help="list the standards and exit")
    parser.set_defaults(handler=run)


def _catalogue() -> str:
    lines = []
    for area in AREAS:
        lines.append(f"{area.title}{'' if area.scored else ' (not scored)'}")
        lines += [f"  {s.id:<7} {s.title}: {s.summary}" for s in standards_of(area)]
    return "\n".join(lines) + "\n"


def _fallback_location(root: Path) -> str:
    for candidate in ("pyproject.toml", "setup.py", "requirements.txt", "README.md", "Dockerfile"):
        if (root / candidate).is_file():
            return candidate
    return next((p.name for p in sorted(root.iterdir()) if p.is_file()), "README.md")


def _render(report: Report, args: argparse.Namespace, comparison: dict[str, Any] | None) -> str:
    if args.format == "json":
        return json_report.render(report, comparison)
    if args.format == "sarif":
        root = args.path.resolve()
        return sarif.render(report, fallback=_fallback_location(root), root_uri=root.as_uri() + "/")
    lines = comparing.describe(comparison) if comparison is not None else None
    return table.render(report, verbose=args.verbose, comparison=lines)


class CouldNotRun(Exception):
    """The audit could not produce or deliver its report: why, in one line."""


def _produce(args: argparse.Namespace, previous: dict[str, Any] | None) -> tuple[Report, str]:
    try:
        report = audit(
            args.path,
            url=args.url,
            probe_options=ProbeOptions(timeout=args.probe_timeout, burst=max(0, args.probe_burst)),
            current_release=args.current_release,
        )
        comparison = (
            comparing.compare(previous, json_report.to_data(report))
            if previous is not None
            else None
        )
        return report, _render(report, args, comparison)
    except NothingToAudit as error:
        raise CouldNotRun(str(error)) from error
    except RecursionError as error:
        raise CouldNotRun(
            f"could not run: {args.path} holds code nested too deeply to follow"
        ) from error
    except Exception as error:  # an audit defect: one line, and the code that says so
        raise CouldNotRun(f"could not run: {type(error).__name__}: {error}") from error


def _deliver(args: argparse.Namespace, rendered: str) -> None:
    try:
        if args.output:
            args.output.write_text(rendered, encoding="utf-8")
        else:
            sys.stdout.write(rendered)
    except OSError as error:
        raise CouldNotRun(
            f"could not write the report to {args.output}: {error.strerror or error}"
        ) from error


def _not_probed(report: Report) -> str | None:
    """Why the probe checked nothing (the service did not answer), or None when it did."""
    if any(r.source == "probe" for result in report.results for r in result.requirements):
        return None
    return next((note for note in report.notes if "did not answer" in note), "no live check ran")


def _report_error(args: argparse.Namespace, message: str) -> None:
    # The line every subcommand's errors take (`goldenpath update-check: error: ...`,
    # _cli_support.reports_errors); the score and FAILED lines are results, not errors.
    print(f"{getattr(args, 'prog', 'goldenpath audit')}: error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.list:
        sys.stdout.write(_catalogue())
        return EXIT_OK
    try:
        required = _required(args.require)
        previous = comparing.load_previous(args.compare) if args.compare else None
        if not args.path.is_dir():
            raise ValueError(f"{args.path} is not a directory")
    except (ValueError, comparing.ComparisonError) as error:
        _report_error(args, str(error))
        return EXIT_USAGE
    try:
        report, rendered = _produce(args, previous)
        _deliver(args, rendered)
    except CouldNotRun as error:
        _report_error(args, str(error))
        return EXIT_COULD_NOT_RUN
    if args.url is not None and (unprobed := _not_probed(report)):
        # The report (the code's verdicts) is written; the live checks asked for are not in it.
        _report_error(args, f"could not run the probe: {unprobed}")
        return EXIT_COULD_NOT_RUN
    failures = []
    if args.fail_under is not None and round(report.score, 1) < args.fail_under:
        failures.append(f"score {report.score:.1f}% is below --fail-under {args.fail_under:g}%")
    unmet = report.unsatisfied(required)
    if unmet:
        failures.append(f"required standards not met: {', '.join(unmet)}")
    summary = f"goldenpath audit: {report.score:.1f}%"
    if args.output:
        print(f"{summary} (report in {args.output})", file=sys.stderr)
    for failure in failures:
        print(f"goldenpath audit: FAILED: {failure}", file=sys.stderr)
    return EXIT_BELOW_THRESHOLD if failures else EXIT_OK
