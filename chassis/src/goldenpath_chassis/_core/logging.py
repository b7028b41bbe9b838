"""Structured logging (OBS-3): one JSON object per line on stdout, for our code and for libraries.

structlog renders our own events straight to bytes with orjson (the fast path); records from the
standard library (uvicorn, SQLAlchemy, ...) go through the same processors via a
`ProcessorFormatter`, so every line has the same shape and carries the request context bound in
`structlog.contextvars` (request ID, and trace and span IDs once tracing is on).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console"]

# Extra processors that other concerns add (for example trace and span IDs); they run after the
# shared ones and before rendering.
_extra_processors: list[Processor] = []


def add_processor(processor: Processor) -> None:
    """Register a processor for every log line; call before `configure_logging`."""
    if processor not in _extra_processors:
        _extra_processors.append(processor)


class _NamedBytesLogger(structlog.BytesLogger):
    """Writes bytes to stdout and knows its name, so `add_logger_name` works as for stdlib."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stdout.buffer)
        self.name = name


class _NamedPrintLogger(structlog.PrintLogger):
    def __init__(self, name: str) -> None:
        super().__init__(sys.stdout)
        self.name = name


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colours in an `extra` field.
    event_dict.pop("color_message", None)
    return event_dict


def _json_str(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *_extra_processors,
    ]


# Tracebacks as data, without each frame's local variables: those hold what the request carried
# (its headers, cookies, tokens, the session), which must never reach a log.
_dict_tracebacks: Processor = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def _console_renderer() -> structlog.dev.ConsoleRenderer:
    # Rich's tracebacks (used when rich is installed) show locals by default: not here either.
    formatter = (
        structlog.dev.RichTracebackFormatter(show_locals=False)
        if find_spec("rich") is not None
        else structlog.dev.plain_traceback
    )
    return structlog.dev.ConsoleRenderer(exception_formatter=formatter)


def configure_logging(*, level: str = "INFO", fmt: LogFormat = "json") -> None:
    """Route structlog and the standard library's logging to stdout in one format.

    Safe to call more than once (tests do): each call replaces the previous configuration.
    """
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared = _shared_processors()
    exceptions: Processor = _dict_tracebacks if fmt == "json" else structlog.dev.set_exc_info

    if fmt == "json":
        structlog.configure(
            processors=[*shared, exceptions, structlog.processors.JSONRenderer(orjson.dumps)],
            logger_factory=_NamedBytesLogger,
            wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
            cache_logger_on_first_use=True,
        )
        stdlib_renderer: Processor = structlog.processors.JSONRenderer(_json_str)
    else:
        structlog.configure(
            processors=[*shared, exceptions, _console_renderer()],
            logger_factory=_NamedPrintLogger,
            wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
            cache_logger_on_first_use=True,
        )
        stdlib_renderer = _console_renderer()

    stdlib_chain: Sequence[Processor] = [
        *shared,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=stdlib_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([_dict_tracebacks] if fmt == "json" else []),
            stdlib_renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # uvicorn's loggers propagate to the root handler above; its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose lines carry `logger=<name>`, like the standard library's do.

    Lazy: it takes the configuration in force when it first logs, not when it is created.
    """
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
