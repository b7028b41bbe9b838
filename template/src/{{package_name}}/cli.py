"""Command line: `python -m <package>` serves; subcommands run the other processes and chores.

Each command loads and validates the settings itself, so a configuration error is reported the
same way everywhere: one message naming every bad variable on stderr and exit code 78
(EX_CONFIG), never a traceback. Heavy imports happen inside the commands, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence

from . import healthcheck
from .api_keys.cli import register_api_key_commands
from .core.logging import add_processor, configure_logging
from .core.security.commands import register_dev_token_command
from .core.settings import ConfigurationError, Settings, load_settings
from .core.tracing import add_trace_ids

EXIT_CONFIG = 78
PACKAGE = __name__.rpartition(".")[0]

type Command = Callable[[argparse.Namespace, Settings], int]
type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


def _serve(_: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app  # noqa: PLC0415
    from .server import serve  # noqa: PLC0415

    # The collector `__main__` paused stays paused until the server has started (server.py).
    return serve(create_app(settings), settings)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from .core import migrations  # noqa: PLC0415

    if args.downgrade:
        migrations.downgrade(settings, args.downgrade)
    else:
        migrations.upgrade(settings, args.revision)
    return 0


def _worker(_: argparse.Namespace, settings: Settings) -> int:
    from .jobs import main as run_worker  # noqa: PLC0415

    return run_worker(settings)


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    import json  # noqa: PLC0415

    from .app import create_app  # noqa: PLC0415

    document = json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(document)
    else:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(document)
    return 0


def _register_serve(commands: Subcommands) -> None:
    commands.add_parser("serve", help="serve HTTP (the default)").set_defaults(handler=_serve)


def _register_migrate(commands: Subcommands) -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations (DB-2)")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    migrate.add_argument("--downgrade", metavar="REVISION", help="roll back to REVISION instead")
    migrate.set_defaults(handler=_migrate)


def _register_worker(commands: Subcommands) -> None:
    worker = commands.add_parser("worker", help="run the background job worker (ARCH-3)")
    worker.set_defaults(handler=_worker)


def _register_openapi(commands: Subcommands) -> None:
    openapi = commands.add_parser("openapi", help="write the OpenAPI document (API-2, TEST-3)")
    openapi.add_argument("--output", default="-", help="file to write (default: stdout)")
    openapi.set_defaults(handler=_openapi)


# Each registrar adds one subcommand; the module that owns a process or chore provides it.
_COMMAND_REGISTRARS: tuple[Callable[[Subcommands], None], ...] = (
    _register_serve,
    _register_migrate,
    _register_worker,
    _register_openapi,
    healthcheck.register,
    register_dev_token_command,
    register_api_key_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PACKAGE}",
        description="Run the service or one of its chores. Settings come from the environment.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _COMMAND_REGISTRARS:
        register(commands)
    parser.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        print(f"{PACKAGE}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    add_processor(add_trace_ids)  # trace_id and span_id on every line inside a span (OBS-3)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    handler: Command = args.handler
    if handler is not _serve:
        gc.enable()  # paused for the imports by `__main__`; serving resumes it once started
    return handler(args, settings)
