"""`python -m <package> worker`: the job worker process, on the same resources as the API."""

from __future__ import annotations

import asyncio

from .resources import open_resources
from .service import Service
from .settings import ChassisSettings
from .webhooks import webhook_handlers
from .worker import Worker, install_signal_handlers


async def run_worker(service: Service, settings: ChassisSettings) -> None:
    async with open_resources(settings, service_version=service.version) as resources:
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
        )
        install_signal_handlers(worker)
        await worker.run()


def main(service: Service, settings: ChassisSettings) -> int:
    asyncio.run(run_worker(service, settings))
    return 0
