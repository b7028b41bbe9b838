"""The chassis's own domains: health, metrics, browser sessions, API keys and the job queue."""

from __future__ import annotations

from .api_keys.cli import register_api_key_commands
from .api_keys.models import ApiKey
from .domain import Domain
from .health import router as health_router
from .job_commands import register_job_commands
from .queue import Job
from .security.commands import register_dev_token_command
from .security.scopes import METRICS_SCOPE
from .sessions.cli import register_session_commands
from .sessions.router import router as sessions_router


def chassis_domains() -> tuple[Domain, ...]:
    return (
        Domain(name="health", routers=(health_router,)),
        Domain(
            name="metrics",
            scopes={METRICS_SCOPE: "read /metrics (give Prometheus a key with only this scope)"},
        ),
        Domain(
            name="sessions",
            routers=(sessions_router,),
            commands=(register_dev_token_command, register_session_commands),
        ),
        Domain(name="api-keys", models=(ApiKey,), commands=(register_api_key_commands,)),
        Domain(name="jobs", models=(Job,), commands=(register_job_commands,)),
    )
