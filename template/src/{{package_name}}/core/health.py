"""Health endpoints (INF-2).

`/health/live` says the process is up and touches nothing else: restarting the pod would not fix
a database outage. `/health/ready` runs every registered dependency check concurrently, each with
a short timeout, and answers 503 with a per-dependency report when one fails or while the
process drains, so the orchestrator routes traffic elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from .lifecycle import Lifecycle
from .security.scopes import Public

HealthCheck = Callable[[], Awaitable[object]]
"""Returns when the dependency answers; raises (or times out) when it does not."""


class CheckResult(BaseModel):
    status: Literal["ok", "failing"]
    latency_ms: float = Field(ge=0)
    error: str | None = Field(None, description="The failure's kind, never its internals.")


class LiveReport(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessReport(BaseModel):
    status: Literal["ok", "unavailable", "draining"]
    checks: dict[str, CheckResult]


class HealthRegistry:
    """The dependency checks readiness runs; each resource registers its own at start-up."""

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}

    def register(self, name: str, check: HealthCheck) -> None:
        self._checks[name] = check

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self, *, deadline_seconds: float) -> dict[str, CheckResult]:
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run_one(self._checks[name], deadline_seconds) for name in names)
        )
        return dict(zip(names, results, strict=True))

    @staticmethod
    async def _run_one(check: HealthCheck, deadline_seconds: float) -> CheckResult:
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
        return CheckResult(status="failing" if error else "ok", latency_ms=latency_ms, error=error)


def get_health_registry(request: Request) -> HealthRegistry:
    registry: HealthRegistry = request.app.state.health
    return registry


def get_lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


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
    deadline: float = request.app.state.settings.readiness_timeout_seconds
    checks = await registry.run(deadline_seconds=deadline)
    if any(result.status == "failing" for result in checks.values()):
        response.status_code = 503
        return ReadinessReport(status="unavailable", checks=checks)
    return ReadinessReport(status="ok", checks=checks)
