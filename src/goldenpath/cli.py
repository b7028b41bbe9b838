"""`goldenpath`: the platform team's tools for services generated from the template.

Each tool registers its own subcommands (a `register(commands)` function in its module) and
sets a `handler`; adding a tool is one line in `_COMMAND_REGISTRARS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from . import fleet_cli, update_cli
from ._cli_support import Subcommands

DESCRIPTION = "Tools that keep services generated from the golden-path template on it."

type Registrar = Callable[[Subcommands], None]

_COMMAND_REGISTRARS: tuple[Registrar, ...] = (
    update_cli.register,
    fleet_cli.register,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="goldenpath", description=DESCRIPTION)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for register in _COMMAND_REGISTRARS:
        register(commands)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    return handler(args)
