"""Connections the server closed for one reason (a slow head, a slow body), said in the log at
most once a minute, the first at once (`ThrottledCount`), and what is left unsaid at shutdown:
an attack is a few lines, and its last minute is not lost when the process stops."""

from __future__ import annotations

from .logging import get_logger
from .throttled_count import ThrottledCount

_SAID_EVERY_SECONDS = 60.0

_log = get_logger("goldenpath_chassis._core.server")


class ClosesSaid:
    def __init__(self, event: str, **fields: float) -> None:
        self._event = event
        self._fields = fields
        self._count = ThrottledCount(_SAID_EVERY_SECONDS)

    def add(self) -> None:
        said = self._count.add()
        if said:
            self._say(said)

    def say_rest(self) -> None:
        """At shutdown: the closes since the last line."""
        rest = self._count.rest()
        if rest:
            self._say(rest)

    def _say(self, connections: int) -> None:
        _log.warning(self._event, connections=connections, **self._fields)
