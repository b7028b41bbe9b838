"""`python -m <package> worker`: the job worker process, on the same resources as the API.

Beside the claim loop it serves its own HTTP listener (worker_http.py): `/metrics`, so what the
worker records (job runs, outbound calls, breakers, the pool) is scraped, and the probes.
"""

from __future__ import annotations

import asyncio

from .attached_resources import attached_resources
from .logging import get_logger
from .resources import Instruments, open_resources
from .service import Service
from .settings import ChassisSettings
from .webhooks import webhook_handlers
from .worker import Worker, install_signal_handlers
from .worker_http import ListenerNotStartedError, build_worker_app, serving


async def run_worker(service: Service, settings: ChassisSettings) -> None:
    instruments = Instruments.build(settings, service_version=service.version)
    async with open_resources(
        settings, service_version=service.version, instruments=instruments
    ) as resources:
        worker = Worker(
            resources.database,
            {**service.jobs, **webhook_handlers(resources.http, settings)},
            concurrency=settings.worker.concurrency,
            poll_seconds=settings.worker.poll_seconds,
            lease_seconds=settings.jobs.lease_seconds,
            max_run_seconds=settings.jobs.max_run_seconds,
            shutdown_grace_seconds=settings.worker.shutdown_grace_seconds,
            cache=resources.cache,
            tracer=resources.tracing.tracer(__name__),
            metrics=resources.metrics,
        )
        app = build_worker_app(service, settings, instruments, worker)
        # Jobs must not wait on the listener's key: a read-only root has no var/.
        async with attached_resources(app, settings, resources, development_key_on_first_use=True):
            install_signal_handlers(worker)
            async with serving(app, settings):
                await worker.run()


# uvicorn's exit code when the API's own port is taken (its STARTUP_FAILURE, which uvicorn
# 0.34, the chassis's floor, does not export).
STARTUP_FAILURE = 3


def main(service: Service, settings: ChassisSettings) -> int:
    try:
        asyncio.run(run_worker(service, settings))
    except ListenerNotStartedError as error:
        # One line, no traceback; no job was claimed: a worker without its probes would run
        # unwatched. The API's exit code when its own port is taken.
        get_logger(__name__).error(
            "worker_listener_not_started",
            setting="WORKER_HTTP_PORT",
            host=error.host,
            port=error.port,
            error=str(error),
            code=STARTUP_FAILURE,
        )
        return STARTUP_FAILURE
    return 0
