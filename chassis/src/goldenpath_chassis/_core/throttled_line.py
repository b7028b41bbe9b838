"""A warning line for events that come in floods (connections closed for a slow head, spans
dropped from a full queue): said at most once a minute, the first at once (`ThrottledCount`),
and what is left unsaid at shutdown, so an attack or an outage is a few lines and its last
minute is not lost when the process stops. An event may be counted in a metric too, where
every one of them counts (an operator alerts on its rate). Fields fixed for the line (a limit,
a layer) are given once; fields that vary between events (an error's type) are the latest
event's."""

from __future__ import annotations

from prometheus_client import Counter
from structlog.typing import FilteringBoundLogger

from .throttled_count import ThrottledCount

_SAID_EVERY_SECONDS = 60.0


class ThrottledLine:
    def __init__(
        self,
        log: FilteringBoundLogger,
        event: str,
        *,
        count_name: str,
        counter: Counter | None = None,
        **fields: str | float,
    ) -> None:
        self._log = log
        self._event = event
        self._count_name = count_name
        self._counter = counter
        self._fields = fields
        self._latest: dict[str, object] = {}
        self._count = ThrottledCount(_SAID_EVERY_SECONDS)

    def add(self, **latest: object) -> None:
        """Count one event; `latest`, its own fields, are said with the count."""
        if self._counter is not None:
            self._counter.inc()
        self._latest = latest
        said = self._count.add()
        if said:
            self._say(said)

    def say_rest(self) -> None:
        """At shutdown: the events since the last line."""
        rest = self._count.rest()
        if rest:
            self._say(rest)

    def _say(self, count: int) -> None:
        self._log.warning(self._event, **self._latest, **{self._count_name: count}, **self._fields)
