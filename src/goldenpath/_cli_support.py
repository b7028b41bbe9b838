"""What the subcommands share: argument types, error reporting, GitHub Actions outputs."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from ._git import GitError
from ._github import commands_stopped
from .answers import NotAGeneratedProjectError
from .gates import parse_gates
from .update import UPDATE_TIMEOUT, UpdateError

type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
type Handler = Callable[[argparse.Namespace], int]

EXIT_ERROR = 2
# The errors a user can act on: reported in one line, never as a traceback.
EXPECTED_ERRORS = (UpdateError, NotAGeneratedProjectError, GitError, OSError)


def reports_errors(handler: Handler) -> Handler:
    """The handler's expected errors as one line, after the subcommand's name (`args.prog`, set
    by cli.build_parser); in a GitHub Actions step (the command writes
    `--github-output`, and text), all it prints is text to the runner, and the workflow commands
    it adds to `args.workflow_commands` are printed last (_github.commands_stopped)."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        in_actions = bool(getattr(args, "github_output", None))
        # JSON is read by a program, and holds no line break of a value: left as it is.
        with commands_stopped(in_actions and getattr(args, "format", "text") == "text") as later:
            args.workflow_commands = later
            try:
                return handler(args)
            except EXPECTED_ERRORS as error:
                print(f"{args.prog}: error: {error}", file=sys.stderr)
                return EXIT_ERROR
            except Exception as error:
                # A defect of the tool: still an error (2), never Python's exit 1, which a
                # script would read as `update-check --exit-code`'s "an update is available"
                # or `update-preview`'s "needs a person".
                print(
                    f"{args.prog}: error: a defect of goldenpath itself, please report it: "
                    f"{type(error).__name__}: {error}",
                    file=sys.stderr,
                )
                return EXIT_ERROR

    return wrapper


def gates_argument(value: str) -> tuple[str, ...]:
    try:
        return parse_gates(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_update_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--update-timeout",
        type=_seconds,
        default=UPDATE_TIMEOUT,
        metavar="SECONDS",
        help="stop `copier update` (a service's, with the template's tasks and migrations and "
        f"every process they start) after this long (default: {UPDATE_TIMEOUT:g})",
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return seconds


def check_output_files(files: Mapping[str, Path | None]) -> None:
    """Each file an option names can be written: checked before a command changes anything,
    so a mistyped path fails first, not after the work (option name to path; None: not given)."""
    for option, path in files.items():
        if path is None:
            continue
        if path.is_dir():
            raise UpdateError(f"{option} {path}: a folder, not a file")
        if not path.parent.is_dir():
            raise UpdateError(f"{option} {path}: there is no folder {path.parent}")


def write_text(path: Path | None, text: str) -> None:
    if path is not None:
        path.write_text(text, encoding="utf-8")
