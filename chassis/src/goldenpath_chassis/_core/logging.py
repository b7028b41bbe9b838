"""Structured logging (OBS-3): one JSON object per line (or, on a terminal, a readable line),
for our code and for libraries alike.

structlog renders our own events straight to bytes with orjson (the fast path); records from the
standard library (uvicorn, SQLAlchemy, ...) go through the same processors via a
`ProcessorFormatter`, so every line has the same shape and carries the request context bound in
`structlog.contextvars` (request ID, and trace and span IDs once tracing is on).

An exception is rendered without its frames' local variables, and with the credentials of any
URL in its message or notes redacted (`url_redaction.py`): httpx's `raise_for_status` puts the
URL it called, query string and all, in its message. A library's own message is redacted the
same way: httpx logs the URL of every outbound request at INFO.

Lines go to the stream the command line chooses: stdout for the long-running processes, stderr
for a command whose stdout is its result (`cli.py`). Without an explicit format, a terminal gets
the console renderer (a person reads it) and anything else JSON (a collector reads it).

What Python itself would print to stderr (an exception nothing caught, a warning) is one more
line there, in a process (`python_reports.py`). A standard-library line that cannot be written
is reported on stderr redacted (`unlogged.py`), where the standard library prints it raw.
"""

from __future__ import annotations

import functools
import io
import logging
import sys
from collections.abc import Sequence
from typing import Any, Literal, TextIO, cast

import orjson
import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

from .unlogged import write_unlogged
from .url_redaction import redacted_text

LogFormat = Literal["json", "console"]

# Extra processors that other concerns add (for example trace and span IDs); they run after the
# shared ones and before rendering.
_extra_processors: list[Processor] = []


def add_processor(processor: Processor) -> None:
    """Register a processor for every log line; call before `configure_logging`."""
    if processor not in _extra_processors:
        _extra_processors.append(processor)


class _Standard:
    """sys.stdout or sys.stderr, looked up at each write: a logger made once and cached keeps
    reaching the process's stream even after something replaced it (pytest's capture, a
    redirect), never a replaced one that was closed since."""

    def __init__(self, name: Literal["stdout", "stderr"]) -> None:
        self._name = name

    @property
    def _stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._name)
        return stream

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def buffer(self) -> _StandardBuffer:
        return _StandardBuffer(self)


class _StandardBuffer:
    def __init__(self, text: _Standard) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        return self._text._stream.buffer.write(data)

    def flush(self) -> None:
        self._text._stream.buffer.flush()


def _followed(stream: TextIO) -> Any:
    """The process's own stdout and stderr are followed by name; any other stream is kept."""
    if stream is sys.stdout:
        return _Standard("stdout")
    if stream is sys.stderr:
        return _Standard("stderr")
    return stream


_UNWRITTEN = "log line could not be written"


def _unwritten(name: str | None, line: str, failure: Exception) -> None:
    write_unlogged(_UNWRITTEN, failure, [f"logger: {name}", line.rstrip("\n")])


class _ReportsUnwritten:
    """A structlog logger's `msg` that never raises into the request or job that logged: a
    line that cannot be written (the stream closed, its reader gone) goes to stderr instead, as
    the standard library's handlers do. Comes before the structlog logger it guards."""

    name: str | None

    def msg(self, message: str | bytes) -> None:
        try:
            super().msg(message)  # type: ignore[misc]  # the structlog logger after this one
        except Exception as failure:
            line = message.decode(errors="replace") if isinstance(message, bytes) else message
            _unwritten(self.name, line, failure)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _NamedBytesLogger(_ReportsUnwritten, structlog.BytesLogger):
    """Writes bytes to its stream and knows its name, so `add_logger_name` works as for stdlib."""

    def __init__(self, name: str, *, stream: Any) -> None:
        super().__init__(stream.buffer, name=name)


class _NamedPrintLogger(_ReportsUnwritten, structlog.PrintLogger):
    """The console's lines."""

    def __init__(self, name: str, *, stream: Any) -> None:
        super().__init__(stream)
        self.name = name


class _Handler(logging.StreamHandler[Any]):
    """The standard library's records, written to the chosen stream; a line that cannot be
    written (the stream closed, a record whose arguments do not fit its message) is reported
    on stderr redacted, where `handleError` would print its message and arguments raw."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:  # the standard library's switch for these reports
            return
        failure = sys.exception()
        try:
            message = [f"message: {record.getMessage()}"]
        except Exception:  # the arguments do not fit the message: show both
            message = [f"message: {record.msg!r}", f"arguments: {record.args!r}"]
        write_unlogged(
            _UNWRITTEN,
            failure,
            [
                f"logger: {record.name}",
                f"level: {record.levelname}",
                f"logged at: {record.pathname}:{record.lineno}",
                *message,
            ],
            failure,
        )


# Alembic announces, at INFO on every start, the plugins it loads and the DDL mode it assumes:
# noise, never an event. What it migrates ("Running upgrade ...") is kept.
_ALEMBIC_CHATTER = ("Context impl ", "Will assume ")


def _drop_alembic_chatter(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(_ALEMBIC_CHATTER))


def _quiet_alembic() -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_drop_alembic_chatter)


def resolve_format(fmt: LogFormat | None, stream: TextIO) -> LogFormat:
    """`LOG_FORMAT` when set; otherwise console on a terminal, JSON anywhere else."""
    if fmt is not None:
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colours in an `extra` field.
    event_dict.pop("color_message", None)
    return event_dict


def _redact_library_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # A library's message is text it formatted: httpx's "HTTP Request: GET <url>" line, at INFO
    # for every outbound call, holds the whole URL. Our own lines pass URLs redacted.
    message = event_dict.get("event")
    if isinstance(message, str):
        event_dict["event"] = redacted_text(message)
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
_dict_traceback = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)


def _redacted(value: Any) -> Any:
    """A rendered traceback's strings (messages, notes, nested groups') with the credentials
    of the URLs they hold redacted (`url_redaction.py`); everything else as it was."""
    if isinstance(value, str):
        return redacted_text(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    return value


def _redacted_dict_traceback(exc_info: ExcInfo) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", _redacted(_dict_traceback(exc_info)))


_dict_tracebacks: Processor = structlog.processors.ExceptionRenderer(_redacted_dict_traceback)


def _redacted_plain_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """The console's traceback, its URLs' credentials redacted. Rich's is not used even when
    installed: it wraps and colours the message as it renders it, so a URL could no longer be
    found whole in what it wrote, and it shows locals unless told not to."""
    rendered = io.StringIO()
    structlog.dev.plain_traceback(rendered, exc_info)
    sio.write(redacted_text(rendered.getvalue()))


def _console_renderer() -> structlog.dev.ConsoleRenderer:
    return structlog.dev.ConsoleRenderer(exception_formatter=_redacted_plain_traceback)


def configure_logging(
    *, level: str = "INFO", fmt: LogFormat | None = "json", stream: TextIO | None = None
) -> None:
    """Route structlog and the standard library's logging to `stream` (stdout) in one format.

    `fmt=None` chooses by the stream (`resolve_format`). Safe to call more than once (tests
    do): each call replaces the previous configuration.
    """
    stream = _followed(sys.stdout if stream is None else stream)
    fmt = resolve_format(fmt, stream)
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared = _shared_processors()
    exceptions: Processor = _dict_tracebacks if fmt == "json" else structlog.dev.set_exc_info

    if fmt == "json":
        structlog.configure(
            processors=[*shared, exceptions, structlog.processors.JSONRenderer(orjson.dumps)],
            logger_factory=functools.partial(_NamedBytesLogger, stream=stream),
            wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
            cache_logger_on_first_use=True,
        )
        stdlib_renderer: Processor = structlog.processors.JSONRenderer(_json_str)
    else:
        structlog.configure(
            processors=[*shared, exceptions, _console_renderer()],
            logger_factory=functools.partial(_NamedPrintLogger, stream=stream),
            wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
            cache_logger_on_first_use=True,
        )
        stdlib_renderer = _console_renderer()

    stdlib_chain: Sequence[Processor] = [
        *shared,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        _redact_library_message,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=stdlib_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([_dict_tracebacks] if fmt == "json" else []),
            stdlib_renderer,
        ],
    )
    handler = _Handler(stream)
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
    _quiet_alembic()


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose lines carry `logger=<name>`, like the standard library's do.

    Lazy: it takes the configuration in force when it first logs, not when it is created.
    """
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
