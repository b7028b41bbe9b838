"""Command line: `python -m <package>` serves; subcommands run the other processes and chores.

Each command loads and validates the settings itself, so a configuration error is reported the
same way everywhere: one message naming every bad variable on stderr and exit code 78
(EX_CONFIG), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .api_keys.cli import register_api_key_commands
from .core.logging import configure_logging
from .core.security.commands import register_dev_token_command
from .core.settings import ConfigurationError, Settings, load_settings

EXIT_CONFIG = 78
PACKAGE = __name__.rpartition(".")[0]

Command = Callable[[argparse.Namespace, Settings], int]


def _serve(_: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app  # noqa: PLC0415 - keep `--help` fast
    from .server import serve  # noqa: PLC0415

    return serve(create_app(settings), settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PACKAGE}",
        description="Run the service or one of its chores. Settings come from the environment.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve HTTP (the default)")
    serve.set_defaults(handler=_serve)
    for register in _COMMAND_REGISTRARS:
        register(commands)
    parser.set_defaults(handler=_serve)
    return parser


type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

# Each registrar adds one subcommand; the module that owns a process or chore provides it.
_COMMAND_REGISTRARS: tuple[Callable[[Subcommands], None], ...] = (
    register_dev_token_command,
    register_api_key_commands,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        print(f"{PACKAGE}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    handler: Command = args.handler
    return handler(args, settings)
