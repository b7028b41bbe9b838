"""Health endpoints (INF-2).

`/health/live` says the process is up and touches nothing else: restarting the pod would not fix
a database outage. `/health/ready` runs every registered dependency check concurrently, each with
a short timeout, and answers 503 when one fails or while the process drains (at once, without
checking anything), so the orchestrator routes traffic elsewhere.

Readiness is public and exempt from rate limits (a probe has no credentials, and a throttled
probe takes a healthy pod out of rotation), so it must be cheap whatever calls it: it answers
from a result at most `MAX_AGE_SECONDS` old, and concurrent probes share one run of the checks.
A flood of probes costs about one round of dependency checks per second per process. In
production the answer is the status alone: which dependency fails, how fast each answers and
the circuit breakers' states are for operators (the `readiness_checks_changed` log line,
metrics), not for whoever can reach the endpoint; development and tests show the whole report.

A dependency the service can work without (Redis: the cache is bypassed, the rate limiter fails
open, only browser sessions wait for it) is registered with `critical=False`: its failure is
reported (status "degraded") but keeps the answer 200, since taking every replica out of
rotation over a cache outage would turn a slowdown into an outage. The report also shows each
circuit breaker's state (RES-1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from .lifecycle import Lifecycle
from .logging import get_logger
from .security.scopes import Public
from .state import request_chassis

# How old a readiness answer's results may be: at most one round of checks a second, whatever
# the rate of probes.
MAX_AGE_SECONDS = 1.0

_log = get_logger(__name__)

HealthCheck = Callable[[], Awaitable[object]]
"""Returns when the dependency answers; raises (or times out) when it does not."""

BreakerState = Literal["closed", "open", "half-open"]
BreakerStates = Callable[[], Mapping[str, BreakerState]]
"""The current state of each circuit breaker, by dependency name."""


class CheckResult(BaseModel):
    status: Literal["ok", "failing"]
    latency_ms: float = Field(ge=0)
    error: str | None = Field(None, description="The failure's kind, never its internals.")
    critical: bool = Field(True, description="Whether its failure makes the service unready.")


class LiveReport(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable", "draining"]
    # Left out of the answer when not set (the route excludes unset fields).
    checks: dict[str, CheckResult] = Field(
        default_factory=dict, description="Each dependency's check; not shown in production."
    )
    circuit_breakers: dict[str, BreakerState] = Field(
        default_factory=dict,
        description="Each outbound dependency's circuit breaker; not shown in production.",
    )


class HealthRegistry:
    """The dependency checks readiness runs; each resource registers its own at start-up."""

    def __init__(
        self,
        *,
        max_age_seconds: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self._critical: dict[str, bool] = {}
        self._breaker_sources: list[BreakerStates] = []
        self._max_age_seconds = max_age_seconds
        self._clock = clock
        # The latest results and when their run started; the run in progress, if any.
        self._latest: tuple[float, dict[str, CheckResult]] | None = None
        self._running: asyncio.Task[dict[str, CheckResult]] | None = None
        self._generation = 0
        self._failing: dict[str, str | None] = {}

    def register(self, name: str, check: HealthCheck, *, critical: bool = True) -> None:
        self._checks[name] = check
        self._critical[name] = critical
        # The next answer includes the new check.
        self._generation += 1
        self._latest = None

    def register_breakers(self, states: BreakerStates) -> None:
        """Show these circuit breakers in the report (informational: they never fail it)."""
        self._breaker_sources.append(states)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: state for source in self._breaker_sources for name, state in source().items()}

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def recent(self, *, deadline_seconds: float) -> dict[str, CheckResult]:
        """The checks' results from a run that started at most `max_age_seconds` ago.

        Callers that arrive while the checks run wait for that run; the run itself is shielded,
        so a probe that gives up does not cancel it for the others.
        """
        latest = self._latest
        if latest is not None and self._clock() - latest[0] < self._max_age_seconds:
            return latest[1]
        if self._running is None:
            self._running = asyncio.create_task(self._refresh(deadline_seconds))
        return await asyncio.shield(self._running)

    async def _refresh(self, deadline_seconds: float) -> dict[str, CheckResult]:
        generation, started = self._generation, self._clock()
        try:
            results = await self.run(deadline_seconds=deadline_seconds)
        finally:
            self._running = None
        if generation == self._generation:
            self._latest = (started, results)
        self._report_changes(results)
        return results

    def _report_changes(self, results: Mapping[str, CheckResult]) -> None:
        failing = {name: r.error for name, r in results.items() if r.status == "failing"}
        if failing == self._failing:
            return
        self._failing = failing
        # What the public answer no longer shows in production, for operators: once per change.
        if failing:
            _log.warning("readiness_checks_changed", failing=failing)
        else:
            _log.info("readiness_checks_changed", failing=failing)

    async def run(self, *, deadline_seconds: float) -> dict[str, CheckResult]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_one(name, deadline_seconds) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run_one(self, name: str, deadline_seconds: float) -> CheckResult:
        check = self._checks[name]
        started = time.perf_counter()
        error: str | None = None
        try:
            async with asyncio.timeout(deadline_seconds):
                await check()
        except TimeoutError:
            error = "timeout"
        except Exception as exc:  # a failing dependency is a report, never a 500
            error = type(exc).__name__
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return CheckResult(
            status="failing" if error else "ok",
            latency_ms=latency_ms,
            error=error,
            critical=self._critical[name],
        )


async def get_health_registry(request: Request) -> HealthRegistry:
    return request_chassis(request).instruments.health


async def get_lifecycle(request: Request) -> Lifecycle:
    return request_chassis(request).instruments.lifecycle


# Probes come from the orchestrator, which holds no credentials: deliberately public (SEC-3).
router = APIRouter(prefix="/health", tags=["health"], dependencies=[Public])


@router.get("/live", summary="Liveness: the process is up", response_model=LiveReport)
async def live() -> LiveReport:
    return LiveReport()


@router.get(
    "/ready",
    summary="Readiness: every dependency answers and the process is not draining",
    description="Answers from a result at most a second old. Outside production the answer "
    "also reports each dependency's check and circuit breaker.",
    response_model=ReadinessReport,
    # Only what was set: the status alone in production and while draining.
    response_model_exclude_unset=True,
    responses={503: {"model": ReadinessReport, "description": "Not ready."}},
)
async def ready(
    request: Request,
    response: Response,
    registry: Annotated[HealthRegistry, Depends(get_health_registry)],
    lifecycle: Annotated[Lifecycle, Depends(get_lifecycle)],
) -> ReadinessReport:
    if lifecycle.draining:
        # Answer at once: the point is to be taken out of rotation, not to test dependencies.
        response.status_code = 503
        return ReadinessReport(status="draining")
    chassis = request_chassis(request)
    deadline = chassis.settings.health.timeout_seconds
    # Probes are not traced (tracing.py), and neither are the queries they make.
    with chassis.instruments.tracing.untraced():
        checks = await registry.recent(deadline_seconds=deadline)
    failing = [result for result in checks.values() if result.status == "failing"]
    status: Literal["ok", "degraded", "unavailable"] = (
        "unavailable"
        if any(result.critical for result in failing)
        else "degraded"
        if failing
        else "ok"
    )
    if status == "unavailable":
        response.status_code = 503
    if chassis.settings.is_production:
        return ReadinessReport(status=status)
    return ReadinessReport(status=status, checks=checks, circuit_breakers=registry.breaker_states())
