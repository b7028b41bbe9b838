"""A warning for a failure that repeats at each try (the worker's claim on a database never
migrated, or down): said at once, then once a minute while it lasts, so an operator tailing the
log sees it is still failing, and why; one info line when it ends. Each warning has the latest
error's type and message (a URL's credentials redacted) and how many failures it stands for."""

from __future__ import annotations

import time
from collections.abc import Callable

from structlog.typing import FilteringBoundLogger

from .throttled_count import ThrottledCount
from .url_redaction import redacted_text

SAID_EVERY_SECONDS = 60.0
MESSAGE_MAX_LENGTH = 500


class RepeatedFailureLine:
    def __init__(
        self,
        log: FilteringBoundLogger,
        event: str,
        *,
        recovered_event: str,
        every_seconds: float = SAID_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._event = event
        self._recovered_event = recovered_event
        self._every = every_seconds
        self._clock = clock
        self._count: ThrottledCount | None = None

    @property
    def failing(self) -> bool:
        """Whether the last try failed."""
        return self._count is not None

    def failed(self, error: Exception) -> None:
        if self._count is None:  # a new outage is said at once, however soon after the last
            self._count = ThrottledCount(self._every, clock=self._clock)
        said = self._count.add()
        if said:
            self._log.warning(
                self._event,
                error=type(error).__name__,
                message=redacted_text(str(error))[:MESSAGE_MAX_LENGTH],
                failures=said,
            )

    def succeeded(self) -> None:
        if self._count is not None:
            self._log.info(self._recovered_event)
            self._count = None
