"""The worker process: every domain's job handlers, and the command that runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from . import models  # noqa: F401 - every table registered, so foreign keys resolve
from .core.database import open_database
from .core.health import HealthRegistry
from .core.settings import Settings
from .core.worker import JobHandler, Worker, install_signal_handlers
from .items.jobs import HANDLERS as ITEM_HANDLERS

HANDLERS: Mapping[str, JobHandler] = {**ITEM_HANDLERS}


async def run_worker(settings: Settings) -> None:
    async with open_database(settings, HealthRegistry()) as database:
        worker = Worker(
            database,
            HANDLERS,
            concurrency=settings.worker_concurrency,
            poll_seconds=settings.worker_poll_seconds,
            lease_seconds=settings.job_lease_seconds,
            shutdown_grace_seconds=settings.worker_shutdown_grace_seconds,
        )
        install_signal_handlers(worker)
        await worker.run()


def main(settings: Settings) -> int:
    asyncio.run(run_worker(settings))
    return 0
