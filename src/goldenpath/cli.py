"""`goldenpath`: the template's command line for platform teams.

Each subcommand registers itself from its own module (`_COMMAND_REGISTRARS`, a `register`
function that adds its parser and sets `handler`), so a new tool adds one line here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from . import fleet_cli, update_cli
from .audit.cli import register as register_audit

type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]  # private in argparse
_COMMAND_REGISTRARS: tuple[Callable[[Subcommands], None], ...] = (
    register_audit,
    update_cli.register,
    fleet_cli.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goldenpath", description="Tools that keep services on the golden path."
    )
    # Required: a script that calls `goldenpath` with no command gets a usage error (exit 2).
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for register in _COMMAND_REGISTRARS:
        register(commands)
    for subcommand in commands.choices.values():
        # Its errors name it (`goldenpath update-check: error: ...`), as argparse's usage errors do.
        subcommand.set_defaults(prog=subcommand.prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
