"""Health endpoints (INF-2).

`/health/live` says the process is up and touches nothing else: restarting the pod would not fix
a database outage. `/health/ready` runs every registered dependency check concurrently, each with
a short timeout, and answers 503 with a per-dependency report when one fails or while the
process drains, so the orchestrator routes traffic elsewhere.

A dependency the service can work without (Redis: the cache is bypassed, the rate limiter fails
open) is registered with `critical=False`: its failure is reported (status "degraded") but keeps
the answer 200, since taking every replica out of rotation over a cache outage would turn a
slowdown into an outage. The report also shows each circuit breaker's state (RES-1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from .lifecycle import Lifecycle
from .security.scopes import Public
from .state import request_chassis

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
    checks: dict[str, CheckResult]
    circuit_breakers: dict[str, BreakerState] = Field(
        default_factory=dict, description="Each outbound dependency's circuit breaker."
    )


class HealthRegistry:
    """The dependency checks readiness runs; each resource registers its own at start-up."""

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self._critical: dict[str, bool] = {}
        self._breaker_sources: list[BreakerStates] = []

    def register(self, name: str, check: HealthCheck, *, critical: bool = True) -> None:
        self._checks[name] = check
        self._critical[name] = critical

    def register_breakers(self, states: BreakerStates) -> None:
        """Show these circuit breakers in the report (informational: they never fail it)."""
        self._breaker_sources.append(states)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: state for source in self._breaker_sources for name, state in source().items()}

    @property
    def names(self) -> list[str]:
        return list(self._checks)

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
    response_model=ReadinessReport,
    responses={503: {"model": ReadinessReport, "description": "Not ready; see `checks`."}},
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
        return ReadinessReport(status="draining", checks={})
    chassis = request_chassis(request)
    deadline = chassis.settings.health.timeout_seconds
    # Probes are not traced (tracing.py), and neither are the queries they make.
    with chassis.instruments.tracing.untraced():
        checks = await registry.run(deadline_seconds=deadline)
    breakers = registry.breaker_states()
    failing = [result for result in checks.values() if result.status == "failing"]
    if any(result.critical for result in failing):
        response.status_code = 503
        return ReadinessReport(status="unavailable", checks=checks, circuit_breakers=breakers)
    status: Literal["ok", "degraded"] = "degraded" if failing else "ok"
    return ReadinessReport(status=status, checks=checks, circuit_breakers=breakers)
