"""Circuit breakers (RES-1): one per outbound dependency, visible in metrics and readiness.

A breaker counts consecutive failures of one dependency. At the threshold it opens: calls fail
at once with `CircuitOpenError` (a 503 problem) instead of waiting on a dependency that is
down, which keeps our own latency and the dependency's load bounded. After `reset_seconds`
the next call is a trial (half-open): success closes the breaker, failure opens it again.

The state machine is purgatory's (asyncio-native, in-memory, typed); this module adds what a
service needs around it: declared dependencies with their own thresholds, a failure classifier
(a 404 or a cancelled request is not the dependency's fault), state logs, the
`circuit_breaker_state` metric and the readiness report's `circuit_breakers` section.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from purgatory import AsyncCircuitBreakerFactory, Event
from purgatory.domain.messages.events import ContextChanged
from purgatory.domain.model import OpenedState

from .errors import DomainError
from .health import BreakerState
from .logging import get_logger

if TYPE_CHECKING:
    from .metrics import Metrics  # metrics imports the database, which uses breakers

BREAKER_STATES: tuple[BreakerState, ...] = ("closed", "open", "half-open")

_log = get_logger(__name__)


class DependencyUnavailableError(DomainError):
    """A dependency cannot serve this request now; the client may retry later."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "dependency-unavailable"
    title = "Dependency unavailable"
    headers = {"Retry-After": "5"}  # noqa: RUF012 - read-only by convention, as in DomainError

    def __init__(self, dependency: str, detail: str | None = None) -> None:
        super().__init__(detail or f"The {dependency} dependency is unavailable; retry later.")
        self.dependency = dependency


class CircuitOpenError(DependencyUnavailableError):
    """The dependency's breaker is open: the call was not even attempted."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, f"The {dependency} dependency is failing; retry later.")


class NotSentError(Exception):
    """Raised by a client that did not send the call at all (it knows the dependency is not
    answering just now): neither a failure nor an answer for the dependency's breaker, which
    counts only what reached the dependency."""


def is_dependency_failure(exc: BaseException) -> bool:
    """The default classifier: anything but cancellation and our own domain errors."""
    return not isinstance(exc, asyncio.CancelledError | DomainError)


@dataclass(frozen=True, kw_only=True)
class _Declared:
    threshold: int
    reset_seconds: float
    is_failure: Callable[[BaseException], bool]


class CircuitBreakers:
    """The breakers of one process, keyed by dependency name ('webhook', 'redis', ...)."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        reset_seconds: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=reset_seconds
        )
        self._factory.add_listener(self._on_event)
        self._defaults = _Declared(
            threshold=threshold, reset_seconds=reset_seconds, is_failure=is_dependency_failure
        )
        self._declared: dict[str, _Declared] = {}
        # name -> (purgatory state, opened_at wall-clock time), kept from purgatory's events.
        self._states: dict[str, tuple[str, float | None]] = {}
        self._metrics = metrics
        if metrics is not None:
            metrics.add_collector(self._collect)

    def declare(
        self,
        name: str,
        *,
        threshold: int | None = None,
        reset_seconds: float | None = None,
        is_failure: Callable[[BaseException], bool] = is_dependency_failure,
    ) -> None:
        """Make a dependency known up front, so it shows (closed) before its first call."""
        self._declared[name] = _Declared(
            threshold=threshold or self._defaults.threshold,
            reset_seconds=reset_seconds or self._defaults.reset_seconds,
            is_failure=is_failure,
        )
        self._states.setdefault(name, ("closed", None))

    def __contains__(self, name: object) -> bool:
        return name in self._declared

    @asynccontextmanager
    async def protect(self, name: str) -> AsyncIterator[None]:
        """Run the block through `name`'s breaker; raise `CircuitOpenError` while it is open.

        An exception from the block counts as a failure when the dependency's classifier says
        so, as an answer otherwise; it is re-raised either way. A cancelled block leaves the
        breaker as it was (a half-open breaker's next call is the trial again).
        """
        declared = self._declared.get(name)
        if declared is None:
            self.declare(name)
            declared = self._declared[name]
        # purgatory's exclude list: an exception is excluded (not a failure) when the
        # function returns True.
        not_a_failure: Callable[..., bool] = lambda exc: not declared.is_failure(exc)  # noqa: E731
        breaker = await self._factory.get_breaker(
            name,
            threshold=declared.threshold,
            ttl=declared.reset_seconds,
            exclude=[(BaseException, not_a_failure)],
        )
        try:
            await breaker.__aenter__()
        except OpenedState as exc:
            # purgatory raises the one state object on every call while the breaker is open,
            # and each raise adds its frames to that object's traceback: kept, it would hold
            # every refused call's frames (and their locals) until the breaker next closes.
            exc.__traceback__ = None
            raise CircuitOpenError(name) from exc
        try:
            yield
        except (asyncio.CancelledError, NotSentError):
            # Neither a failure nor a success: purgatory's exit would take it for an answer,
            # resetting the failure count or closing a half-open breaker. A readiness deadline
            # shorter than a frozen database's connect timeout cancels every probe's attempt;
            # a call not sent would otherwise count once more the one failure that stopped it.
            raise
        except BaseException as exc:
            await breaker.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await breaker.__aexit__(None, None, None)

    def state(self, name: str) -> BreakerState:
        """The state as callers will find it: an open breaker past its reset time is half-open."""
        raw, opened_at = self._states.get(name, ("closed", None))
        if raw == "opened":
            reset = self._declared.get(name, self._defaults).reset_seconds
            if opened_at is not None and time.time() > opened_at + reset:
                return "half-open"
            return "open"
        if raw == "half-opened":
            return "half-open"
        return "closed"

    def states(self) -> dict[str, BreakerState]:
        return {name: self.state(name) for name in sorted(self._states)}

    def _on_event(self, name: str, event_type: str, event: Event) -> None:
        if event_type == "circuit_breaker_created":
            self._states.setdefault(name, ("closed", None))
        elif event_type == "state_changed" and isinstance(event, ContextChanged):
            self._states[name] = (event.state, event.opened_at)
            if event.state == "opened":
                _log.warning("circuit_breaker_opened", dependency=name)
                if self._metrics is not None:
                    self._metrics.circuit_breaker_opened.labels(name).inc()
            else:
                _log.info("circuit_breaker_state_changed", dependency=name, state=event.state)

    def _collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "circuit_breaker_state",
            "1 for the state each dependency's circuit breaker is in, 0 for the others.",
            labels=["dependency", "state"],
        )
        for name, current in self.states().items():
            for state in BREAKER_STATES:
                family.add_metric([name, state], 1.0 if state == current else 0.0)
        yield family
