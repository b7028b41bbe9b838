"""`/metrics` on each app the chassis serves (OBS-1): the API's port and the worker's listener.

One registration for both, so they stay protected alike: Prometheus scrapes them with an API
key (or token) holding the `metrics:read` scope.
"""

from __future__ import annotations

from fastapi import FastAPI

from .metrics import metrics_endpoint
from .security.scopes import METRICS_SCOPE, RequireScopes


def add_metrics_route(app: FastAPI) -> None:
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[RequireScopes(METRICS_SCOPE)],
    )
