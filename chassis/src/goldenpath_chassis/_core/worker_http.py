"""The worker's own HTTP listener (OBS-1, ARCH-3): `/metrics` and its probes, on WORKER_HTTP_PORT.

uvicorn serves it in the worker's own event loop, beside the claim loop. So a handler that
blocks the loop (time.sleep, CPU-bound work) blocks the probes too: they get no answer, which
the kubelet counts as a failure, as it counts a 503. `/health/live` answers 503 when the claim
loop stopped going round while the loop runs (its task dead or stuck): restarting the pod is
what mends both. `/health/ready` says whether the worker claims: 503 while a claim fails (the
database down) or once it stops; no traffic depends on it, it shows in `kubectl get pods`.

`/metrics` is the API's own endpoint on the worker's registry, behind the same check: an API key
(or token) holding `metrics:read`, so one Prometheus credential scrapes both. A database that
cannot serve the key's lookup answers the API's 503 problem, counted in `database_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from .admission import Admission
from .database import install_database_error_handlers
from .errors import install_error_handlers
from .metrics_route import add_metrics_route
from .resources import Instruments
from .security.install import RequestGuards
from .security.scopes import Public
from .server import build_config
from .service import Service
from .settings import ChassisSettings
from .state import ChassisState
from .worker import Worker


def liveness_bound_seconds(settings: ChassisSettings) -> float:
    """How long the claim loop may go without a round before it counts as wedged: twice the
    longest a healthy round takes (a poll, then a claim waiting out the pool, the connection
    and the statement timeouts of a database that does not answer)."""
    database = settings.database
    longest_round = (
        settings.worker.poll_seconds
        + database.pool_timeout_seconds
        + database.connect_timeout_seconds
        + database.statement_timeout_ms / 1000
    )
    return 2 * longest_round


def build_worker_app(
    service: Service, settings: ChassisSettings, instruments: Instruments, worker: Worker
) -> FastAPI:
    """The listener's app; its chassis state takes the resources and the authenticator once
    they are open (worker_process.py)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.chassis = ChassisState(
        service=service,
        settings=settings,
        instruments=instruments,
        guards=RequestGuards.build(settings),
        admission=Admission(
            settings.server.max_concurrent_requests,
            shed_counter=instruments.metrics.http_server_shed_requests,
        ),
    )
    install_error_handlers(app)
    # A scrape's API key is looked up in the database: its outage is a 503, as on the API.
    install_database_error_handlers(app)
    stale_after = liveness_bound_seconds(settings)

    async def live() -> JSONResponse:
        if worker.is_live(stale_after):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "stalled"}, status_code=503)

    async def ready() -> JSONResponse:
        if worker.is_ready() and worker.is_live(stale_after):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    app.add_api_route("/health/live", live, methods=["GET"], dependencies=[Public])
    app.add_api_route("/health/ready", ready, methods=["GET"], dependencies=[Public])
    add_metrics_route(app)
    return app


class ListenerNotStartedError(Exception):
    """The worker's listener could not start: its port taken, most often (another worker on the
    host's network, or the API in the same pod on the same port)."""

    def __init__(self, host: str, port: int, reason: BaseException | None) -> None:
        super().__init__(f"{reason}" if reason is not None else "the listener did not start")
        self.host = host
        self.port = port


class _ListenerServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        # The worker's own handlers stop it (install_signal_handlers), then the listener.
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, settings: ChassisSettings) -> AsyncIterator[None]:
    """Serve `app` on WORKER_HTTP_PORT while the block runs; it starts listening first."""
    config = build_config(app, settings, port=settings.worker.http_port, lifespan="off")
    server = _ListenerServer(config)
    task = asyncio.create_task(_serve(server), name="worker-http")
    while not server.started:
        if task.done():
            await task  # raises why
            raise ListenerNotStartedError(config.host, config.port, None)
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn calls sys.exit when it cannot bind, for its own process: in a task, that
    # SystemExit would leave the event loop past this module, a stray traceback in the log.
    try:
        await server.serve()
    except SystemExit as exited:
        config = server.config
        raise ListenerNotStartedError(config.host, config.port, exited.__context__) from None
