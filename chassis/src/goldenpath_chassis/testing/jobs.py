"""Run a service's queued jobs inside a test, as its worker process would (ARCH-3).

    item = (await client.post("/v1/items", json={...})).json()
    assert await run_due_jobs(app) == 1

The worker is built on the running app's resources (database, cache, outbound HTTP) with the
handlers `python -m <package> worker` registers: the service's domains' jobs and the chassis's
webhook delivery. It claims and runs batches until nothing is due; a job that fails is retried
later (its backoff puts it in the future), so it is not run again here.
"""

from __future__ import annotations

from fastapi import FastAPI

from .._core.state import chassis_of
from .._core.webhooks import webhook_handlers
from .._core.worker import Worker


async def run_due_jobs(app: FastAPI) -> int:
    """Run every job that is due now, to the end; return how many were claimed."""
    chassis = chassis_of(app)
    resources = chassis.resources
    settings = chassis.settings
    worker = Worker(
        resources.database,
        {**chassis.service.jobs, **webhook_handlers(resources.http, settings)},
        concurrency=settings.worker.concurrency,
        lease_seconds=settings.jobs.lease_seconds,
        max_run_seconds=settings.jobs.max_run_seconds,
        cache=resources.cache,
        tracer=resources.tracing.tracer(__name__),
    )
    ran = 0
    while claimed := await worker.run_once():
        ran += claimed
    return ran
