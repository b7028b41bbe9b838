"""Command line: `python -m <package>` serves; subcommands run the other processes and chores.

Each command loads and validates the settings itself, so a configuration error is reported the
same way everywhere: one message naming every bad variable on stderr and exit code 78
(EX_CONFIG), never a traceback. Heavy imports happen inside the commands, and the domains'
commands are loaded only when asked for, so `--help` and `healthcheck` stay fast.

The processes (`serve`, `worker`) log to stdout, the stream a container's collector reads. Every
other command logs to stderr: its stdout carries its result only, so
`KEY=$(python -m <package> api-keys create ...)` captures the key and nothing else.

A command handler takes `(args, settings)`; `args.service` is the `Service`.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from . import healthcheck, stdlib_bytecode
from .logging import add_processor, configure_logging, get_logger
from .python_reports import log_python_reports
from .settings import ChassisSettings, ConfigurationError
from .startup_stop import SERVING_COMMANDS, StoppedBySignal, command_word, stopping_on_signals

if TYPE_CHECKING:
    from .domain import Subcommands
    from .service import Service

EXIT_CONFIG = 78
# A migration that gave up waiting: nothing applied, worth a retry (sysexits' EX_TEMPFAIL).
EXIT_TEMPFAIL = 75
EXIT_CANTCREAT = 73  # sysexits.h: an output file cannot be created

type Command = Callable[[argparse.Namespace, ChassisSettings], int]


def _serve(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .server import serve  # noqa: PLC0415

    service: Service = args.service
    # The collector `__main__` paused stays paused until the server has started (server.py).
    return serve(service.create_app(settings), settings)


def _migrate(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from . import migrations  # noqa: PLC0415

    service: Service = args.service
    try:
        if args.downgrade:
            migrations.downgrade(settings, args.downgrade, location=service.migrations)
        else:
            migrations.upgrade(settings, args.revision, location=service.migrations)
    except migrations.MigrationTimedOut as timed_out:
        # One line, no traceback: a lock held elsewhere is no bug, and the Job retries.
        get_logger(__name__).error(
            "migration_timed_out",
            error=timed_out.message,
            setting=timed_out.setting,
            bound_ms=timed_out.bound_ms,
            code=EXIT_TEMPFAIL,
        )
        return EXIT_TEMPFAIL
    return 0


def _worker(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .worker_process import main as run_worker  # noqa: PLC0415

    return run_worker(args.service, settings)


def _openapi(args: argparse.Namespace, settings: ChassisSettings) -> int:
    import json  # noqa: PLC0415

    service: Service = args.service
    # Names and descriptions as written (a title with an accent or "&"), in UTF-8.
    document = json.dumps(
        service.create_app(settings).openapi(), indent=2, sort_keys=True, ensure_ascii=False
    )
    encoded = (document + "\n").encode()
    if args.output == "-":
        sys.stdout.buffer.write(encoded)
    else:
        try:
            with open(args.output, "wb") as output:
                output.write(encoded)
        except OSError as error:  # a missing folder, no permission: a usage error, no traceback
            print(f"openapi: cannot write {args.output}: {error.strerror}", file=sys.stderr)
            return EXIT_CANTCREAT
    return 0


def _register_processes(commands: Subcommands) -> None:
    commands.add_parser("serve", help="serve HTTP (the default)").set_defaults(handler=_serve)
    worker = commands.add_parser("worker", help="run the background job worker (ARCH-3)")
    worker.set_defaults(handler=_worker)
    migrate = commands.add_parser("migrate", help="apply database migrations (DB-2)")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    migrate.add_argument("--downgrade", metavar="REVISION", help="roll back to REVISION instead")
    migrate.set_defaults(handler=_migrate)
    openapi = commands.add_parser("openapi", help="write the OpenAPI document (API-2, TEST-3)")
    openapi.add_argument("--output", default="-", help="file to write (default: stdout)")
    openapi.set_defaults(handler=_openapi)
    healthcheck.register(commands)
    stdlib_bytecode.register(commands)


_PROCESS_COMMANDS = frozenset(
    {"serve", "worker", "migrate", "openapi", "healthcheck", "compile-stdlib"}
)
# The long-running processes: their output is their log.
_LOGGING_TO_STDOUT: frozenset[Command] = frozenset({_serve, _worker})


def _wants_domain_commands(argv: Sequence[str]) -> bool:
    """Help, or a command that is not one of the processes: load the domains' commands."""
    words = [word for word in argv if not word.startswith("-")]
    return not words or words[0] not in _PROCESS_COMMANDS or "-h" in argv or "--help" in argv


def build_parser(service: Service, *, with_domains: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {service.package}",
        description="Run the service or one of its chores. Settings come from the environment.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_processes(commands)
    if with_domains:
        for domain in service.all_domains:
            for register in domain.commands:
                register(commands, service)
    parser.set_defaults(handler=_serve, service=service)
    return parser


def main(service: Service, argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = command_word(arguments)
    try:
        with stopping_on_signals(command):  # as `__main__` did first (startup_stop.py)
            return _run(service, arguments)
    except StoppedBySignal as stop:
        _say_stopped(command, stop)
        return stop.exit_code


def _say_stopped(command: str, stop: StoppedBySignal) -> None:
    if not structlog.is_configured():  # otherwise structlog's default would print its own line
        return
    log = get_logger(__name__)
    if command in SERVING_COMMANDS:
        log.info("stopped_during_startup", signal=stop.signal_name)
    else:  # its work is not done: a migration's transaction was rolled back on the way out
        log.warning(
            "command_stopped", command=command, signal=stop.signal_name, code=stop.exit_code
        )


def _run(service: Service, arguments: list[str]) -> int:
    parser = build_parser(service, with_domains=_wants_domain_commands(arguments))
    args = parser.parse_args(arguments)
    try:
        settings = service.load_settings()
    except ConfigurationError as error:
        print(f"{service.package}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    from .tracing import add_trace_ids  # noqa: PLC0415

    add_processor(add_trace_ids)  # trace_id and span_id on every line inside a span (OBS-3)
    handler: Command = args.handler
    configure_logging(
        level=settings.logging.level,
        fmt=settings.logging.format,
        stream=sys.stdout if handler in _LOGGING_TO_STDOUT else sys.stderr,
    )
    log_python_reports()
    if handler is not _serve:
        gc.enable()  # paused for the imports by `__main__`; serving resumes it once started
    return handler(args, settings)
