"""What a shutdown cut short, said as one warning (INF-3).

When `SHUTDOWN_GRACE_SECONDS` ends with connections still open (a client that stopped reading,
an answer still being sent), uvicorn logs "Cancel N running task(s)" at error level, then, for
every request it cancelled, "Exception in ASGI application" with the CancelledError's
traceback: a planned stop read as a crash. This filter on uvicorn's logger says it once, as a
warning with the requests and connections cut, and drops the cancelled requests' tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from uvicorn.server import ServerState

from .logging import get_logger

# uvicorn's message, matched exactly: if a release words it otherwise, its error lines come back
# and the shutdown tests (tests/process/test_slow_clients_process.py) fail.
_UVICORN_CANCEL = "Cancel %s running task(s), timeout graceful shutdown exceeded"
_UVICORN_LOGGER = "uvicorn.error"

_log = get_logger(__name__)


class _CutShort(logging.Filter):
    def __init__(self, state: ServerState, grace_seconds: float | None) -> None:
        super().__init__()
        self.state = state
        self.grace_seconds = grace_seconds
        self.cut = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _UVICORN_CANCEL:
            self.cut = True
            _log.warning(
                "shutdown_grace_exceeded",
                grace_seconds=self.grace_seconds,
                requests=len(self.state.tasks),
                connections=len(self.state.connections),
            )
            return False
        # A request the shutdown cancelled, as uvicorn's protocol reports it.
        cancelled = record.exc_info is not None and isinstance(
            record.exc_info[1], asyncio.CancelledError
        )
        return not (self.cut and cancelled)


@contextlib.contextmanager
def said_as_one_warning(state: ServerState, grace_seconds: float | None) -> Iterator[None]:
    """While serving, and until the requests cancelled at its end have finished."""
    logger = logging.getLogger(_UVICORN_LOGGER)
    cut_short = _CutShort(state, grace_seconds)
    logger.addFilter(cut_short)
    try:
        yield
    finally:
        logger.removeFilter(cut_short)
