"""The example service's declaration, as a generated service's `service.py` would write it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis.logging import get_logger
from goldenpath_chassis.settings import DatabaseBackend

HERE = Path(__file__).resolve().parent
# The suite runs against PostgreSQL unless told otherwise; SQLite is the other backend.
BACKEND: DatabaseBackend = (
    "sqlite" if os.environ.get("EXAMPLE_BACKEND") == "sqlite" else "postgresql"
)


class ExampleSettings(ChassisSettings):
    service_name: ClassVar[str] = "example"
    database_backend: ClassVar[DatabaseBackend | None] = BACKEND


# Test-only routes, only in the processes the process-level tests start: a slow public route
# for the shutdown tests (tests/example/slow.py), a failing one for the logging tests
# (tests/example/failing.py), a large answer for the slow readers (tests/example/large.py) and
# one held until the test lets it go, for load shedding (tests/example/held.py).
# Everywhere else the example has exactly its widgets.
WITH_TEST_ROUTES = os.environ.get("EXAMPLE_TEST_ROUTES") == "1"
# A start-up held this long where an app or a worker loads the domains, for the tests of a
# SIGTERM during start-up (tests/process/test_startup_stop_process.py).
SLOW_STARTUP_SECONDS = float(os.environ.get("EXAMPLE_SLOW_STARTUP_SECONDS", "0"))


def domains() -> tuple[Domain, ...]:
    from . import failing, held, large, slow, widgets  # noqa: PLC0415

    if SLOW_STARTUP_SECONDS:
        # Said first, so that the test signals the process only once it is starting up.
        get_logger(__name__).info("slow_startup", seconds=SLOW_STARTUP_SECONDS)
        time.sleep(SLOW_STARTUP_SECONDS)

    if WITH_TEST_ROUTES:
        return (widgets.DOMAIN, slow.DOMAIN, failing.DOMAIN, large.DOMAIN, held.DOMAIN)
    return (widgets.DOMAIN,)


SERVICE = Service(
    title="Example",
    description="The chassis's test service.",
    version="1.2.3",
    package="tests.example",
    settings=ExampleSettings,
    domains=domains,
    migrations=HERE / "migrations",
    static=HERE / "static",
)
