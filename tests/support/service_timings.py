"""The timings a generated service runs with, read by the service itself from an environment.

The delivery files (the Kubernetes ConfigMap, compose.yaml) set some settings and leave the rest
to the chassis's defaults; a grace period, a probe's timeout or a proxy's idle timeout must fit
what the process then does. The settings are loaded as the service loads them and the server's
configuration built as `serve` builds it, so a changed default or rounding is seen here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from tests.support.commands import uv_run
from tests.support.projects import GeneratedProject

# What a pod gets from its Secret, which no manifest holds: placeholders of the right form.
SECRET_PLACEHOLDERS = {
    "DATABASE_URL": "postgresql+asyncpg://app:app@postgres:5432/app",
    "REDIS_URL": "redis://redis:6379/0",
    "AUTH_SESSION_SECRET": "x" * 32,
}

_READ = """
import json, sys
from fastapi import FastAPI
from goldenpath_chassis._core.server import build_config
from goldenpath_chassis.settings import load_settings
from {package}.settings import Settings

settings = load_settings(Settings, environ=json.loads(sys.argv[1]))
config = build_config(FastAPI(), settings)
print(json.dumps({{
    "drain_seconds": settings.server.shutdown_drain_seconds,
    "grace_seconds": config.timeout_graceful_shutdown,
    "trace_flush_seconds": settings.server.shutdown_trace_flush_seconds,
    "worker_grace_seconds": settings.worker.shutdown_grace_seconds,
    "readiness_timeout_seconds": settings.health.timeout_seconds,
    "keep_alive_seconds": config.timeout_keep_alive,
    "worker_http_port": settings.worker.http_port,
}}))
"""


@dataclass(frozen=True)
class ServiceTimings:
    drain_seconds: float
    grace_seconds: float  # as uvicorn applies it (whole seconds)
    trace_flush_seconds: float
    worker_grace_seconds: float
    readiness_timeout_seconds: float
    keep_alive_seconds: float
    worker_http_port: int  # the worker's listener: its probes and /metrics

    @property
    def api_stop_seconds(self) -> float:
        """SIGTERM to exit for the API, at most: drain, in-flight requests (a client that stopped
        reading included: the grace period ends its wait, not its send timeout), then the
        spans' flush. The rest of the stop (closing pools) takes a fraction of a second."""
        return self.drain_seconds + self.grace_seconds + self.trace_flush_seconds

    @property
    def worker_stop_seconds(self) -> float:
        """SIGTERM to exit for the worker, at most: the jobs in hand, then the spans' flush."""
        return self.worker_grace_seconds + self.trace_flush_seconds


def service_timings(project: GeneratedProject, environ: Mapping[str, str]) -> ServiceTimings:
    """The timings of `project` (synced) run with `environ` and nothing else."""
    result = uv_run(
        project.path, "python", "-c", _READ.format(package=project.package), json.dumps(environ)
    )
    return ServiceTimings(**json.loads(result.stdout))
