"""What Python reports on stderr by itself, logged instead: an exception nothing caught (in the
main thread or another), an exception it could not raise (a finalizer's), a warning.

Printed by Python, each is many bare lines a log collector takes one by one, in neither the
JSON nor the console format, and with no redaction; logged, each is one line in the configured
format, its traceback and message redacted as every other line's (`logging.py`).

If the log cannot be written (its stream closed, a pipe whose reader went away), the report
goes to stderr with its URLs' credentials redacted, after a line saying the log failed: Python
would print the hook's failure and then the report raw.

For a process's entry point (`cli.main`), after `configure_logging`; not for a test runner,
which watches threads' exceptions and warnings with hooks of its own.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from structlog.typing import ExcInfo

from .logging import get_logger
from .unlogged import write_unlogged
from .url_redaction import redacted_text

_log = get_logger("uncaught")


def _report(
    log: Callable[..., Any], event: str, exc_info: ExcInfo | None, **fields: str | None
) -> None:
    """Log the report; if that fails, write it to stderr, redacted (`_write_unlogged`)."""
    try:
        log(event, exc_info=exc_info, **fields)
    except Exception as failure:
        _write_unlogged(event, failure, exc_info, fields)


def _write_unlogged(
    event: str, failure: Exception, exc_info: ExcInfo | None, fields: dict[str, str | None]
) -> None:
    write_unlogged(
        f"{event} could not be logged",
        failure,
        (f"{name}: {value}" for name, value in fields.items() if value is not None),
        exc_info[1] if exc_info is not None else None,
    )


def _log_uncaught(
    exc_type: type[BaseException], exc_value: BaseException, exc_traceback: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C: Python's own short message
        sys.__excepthook__(exc_type, exc_value, exc_traceback)
        return
    _report(_log.critical, "uncaught_exception", (exc_type, exc_value, exc_traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:  # as threading's own hook does
        return
    _report(
        _log.critical,
        "uncaught_exception_in_thread",
        (args.exc_type, args.exc_value, args.exc_traceback),
        thread=args.thread.name if args.thread is not None else None,
    )


def _described(obj: object) -> str | None:
    if obj is None:  # Python named no object (its message may name one)
        return None
    try:
        return redacted_text(repr(obj))
    except Exception:  # a broken __repr__ must not hide the report
        return None


def _log_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    exc_info = (
        (unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
        if unraisable.exc_value is not None
        else None
    )
    _report(
        _log.error,
        "unraisable_exception",
        exc_info,
        # Python may put an object's repr in the message itself (an exit handler's, a partial
        # holding a URL), so it is redacted as the object's is.
        message=redacted_text(unraisable.err_msg or "Exception ignored in"),
        object=_described(unraisable.object),
    )


def log_python_reports() -> None:
    """Log what Python would print on stderr; the exit status after an uncaught exception
    stays 1."""
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    sys.unraisablehook = _log_unraisable
    logging.captureWarnings(True)  # the `py.warnings` logger, through the shared pipeline
