"""Prometheus metrics (OBS-1), served at `/metrics` on the service's own port.

One `Metrics` object per app (its `Instruments`), with its own registry, so two apps in one
process (tests) never share counts. Names follow the OpenTelemetry semantic conventions as the
OpenTelemetry Prometheus exporter would write them (`http.server.request.duration` in seconds is
`http_server_request_duration_seconds`, attribute `http.route` is label `http_route`), so
dashboards built for OpenTelemetry-instrumented services work unchanged.

The request path is the hot one, so its two metrics are plain Python counters that the
collector turns into a histogram and a gauge at scrape time: about 0.5 µs a request, where
prometheus_client's own metric objects, which take a mutex per update so that threads can share
them, cost 5 µs. Only the event loop's thread ever touches them (ASGI middleware and the
/metrics handler both run there), so no lock is needed. Everything that can be read at scrape
time instead (pool usage, breaker states, queue depth) is collected then.

Other concerns record through the methods here, for example the rate limiter:
`metrics.rate_limit_rejected(limiter="ip")`.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import platform
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from . import queue
from .database import Database, add_query_observer, remove_query_observer
from .logging import get_logger
from .state import request_chassis
from .url_redaction import redacted_text

# The OpenTelemetry semantic conventions' advisory buckets for db.client.operation.duration.
DB_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
# The OpenTelemetry semantic conventions' advisory buckets for http.server.request.duration.
HTTP_DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
# From a webhook delivery's tenth of a second to JOB_MAX_RUN_SECONDS's default (900).
JOB_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
# A scrape must answer even when a refresher (a database query) hangs.
_REFRESH_TIMEOUT_SECONDS = 2.0

_log = get_logger(__name__)

Refresher = Callable[[], Awaitable[None]]
"""Updates gauges that need I/O (queue depth); runs before each scrape."""


class _CollectFunction(Collector):
    """Adapts a function returning metric families into a registry collector."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class LoopHistogram:
    """A histogram updated from one thread only: plain counters, exported at scrape time."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self._bounds = tuple(buckets)
        self._le = [repr(float(bound)) for bound in self._bounds] + ["+Inf"]
        # Per label values: one count per bucket (not cumulative), then the sum.
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [0.0] * (len(self._bounds) + 2)
        # Bucket `le=b` counts values <= b: the first bound not below the value.
        series[bisect_left(self._bounds, value)] += 1
        series[-1] += value

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, series in list(self._series.items()):
            cumulative = itertools.accumulate(series[:-1])
            family.add_metric(
                list(labels), list(zip(self._le, cumulative, strict=True)), sum_value=series[-1]
            )
        yield family


class Metrics:
    """Every metric the service exports, in one registry."""

    def __init__(self, *, service_name: str, service_version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

        build_info = Gauge(
            "service_build_info",
            "Always 1; the labels say which build is running.",
            ["service_name", "service_version", "python_version"],
            registry=registry,
        )
        build_info.labels(service_name, service_version, platform.python_version()).set(1)

        self.http_server_request_duration = LoopHistogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            ["http_request_method", "http_route", "http_response_status_code"],
            HTTP_DURATION_BUCKETS,
        )
        self.add_collector(self.http_server_request_duration.collect)
        self.active_requests: dict[str, int] = {}
        self.add_collector(self._collect_active_requests)
        self.db_client_operation_duration = LoopHistogram(
            "db_client_operation_duration_seconds",
            "Duration of database statements.",
            ["db_operation_name"],
            DB_DURATION_BUCKETS,
        )
        self.add_collector(self.db_client_operation_duration.collect)
        self.cache_hits = Counter(
            "cache_hits", "Reads answered from the cache.", ["cache"], registry=registry
        )
        self.cache_misses = Counter(
            "cache_misses", "Reads the cache could not answer.", ["cache"], registry=registry
        )
        self.cache_errors = Counter(
            "cache_errors",
            "Cache operations that failed; the read went to the source instead.",
            ["cache"],
            registry=registry,
        )
        self.cache_invalidations = Counter(
            "cache_invalidations",
            "Cache keys invalidated after a write: in the writer's own version of the resource, "
            "or in another live one (during a rolling deployment that changes its shape).",
            ["cache", "reach"],
            registry=registry,
        )
        self.http_server_shed_requests = Counter(
            "http_server_shed_requests",
            "Requests refused with 503 because the process had MAX_CONCURRENT_REQUESTS in flight "
            "(load shedding).",
            registry=registry,
        )
        # Its `reason` series are made by the server's protocol (`head_deadline.CLOSE_REASONS`).
        self.http_server_connections_closed = Counter(
            "http_server_connections_closed",
            "Connections the server closed on a slow or abusive client: a request head not whole "
            "within REQUEST_HEADER_TIMEOUT_SECONDS (head_timeout) or endless (head_too_large), a "
            "body below REQUEST_BODY_MIN_BYTES_PER_SECOND (body_too_slow), a response not read "
            "for RESPONSE_SEND_TIMEOUT_SECONDS (response_unread).",
            ["reason"],
            registry=registry,
        )
        self.http_server_max_concurrent_requests = Gauge(
            "http_server_max_concurrent_requests",
            "MAX_CONCURRENT_REQUESTS: past this many in flight (http_server_active_requests), "
            "requests are shed.",
            registry=registry,
        )
        self.rate_limit_rejections = Counter(
            "rate_limit_rejections",
            "Requests refused with 429 by a rate limiter.",
            ["limiter"],
            registry=registry,
        )
        self.rate_limit_storage_errors = Counter(
            "rate_limit_storage_errors",
            "Rate-limit checks that could not reach their counters, by the policy that answered "
            "them instead (RATE_LIMIT_ON_STORAGE_ERROR).",
            ["limiter", "policy"],
            registry=registry,
        )
        self.http_client_request_duration = Histogram(
            "http_client_request_duration_seconds",
            "Duration of outbound HTTP requests, each attempt on its own.",
            ["dependency", "http_request_method", "http_response_status_code"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=registry,
        )
        self.http_client_retries = Counter(
            "http_client_retries",
            "Outbound HTTP attempts that were retried after a transient failure.",
            ["dependency"],
            registry=registry,
        )
        self.circuit_breaker_opened = Counter(
            "circuit_breaker_opened",
            "Times a dependency's circuit breaker opened.",
            ["dependency"],
            registry=registry,
        )
        self.job_queue_depth = Gauge(
            "job_queue_depth",
            "Jobs in the queue by state, read from the database at scrape time.",
            ["state"],
            registry=registry,
        )
        self.job_queue_oldest_due_age = Gauge(
            "job_queue_oldest_due_age_seconds",
            "How long the longest-waiting claimable job has been due (0 when none waits), read "
            "from the database at scrape time. It grows only while no worker claims it.",
            registry=registry,
        )
        # Recorded by the worker process (worker.py), served on its own port (worker_http.py).
        self.job_runs = Counter(
            "job_runs",
            "Job runs the worker finished, by kind and outcome: succeeded, retried (failed, "
            "to be tried again), failed (no attempt left, or a permanent error), abandoned (the "
            "failure could not be recorded, or another worker claimed the job again) or "
            "cancelled (at shutdown).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.job_run_duration = Histogram(
            "job_run_duration_seconds",
            "How long a job run took, whatever its outcome.",
            ["kind"],
            buckets=JOB_DURATION_BUCKETS,
            registry=registry,
        )
        self._refreshers: list[Refresher] = []

    # --- API for other concerns -----------------------------------------------------------------
    def rate_limit_rejected(self, *, limiter: str) -> None:
        """Count one request refused by `limiter` (a small, fixed set: 'ip', 'principal')."""
        self.rate_limit_rejections.labels(limiter).inc()

    def add_collector(self, collect: Callable[[], Iterable[Metric]]) -> Collector:
        """Register a function that yields metric families at scrape time (pool, breakers).

        Returns the registered collector, for `registry.unregister` when its source closes.
        """
        collector = _CollectFunction(collect)
        self.registry.register(collector)
        return collector

    def add_refresher(self, refresher: Refresher) -> None:
        """Run `refresher` before each scrape, for values that need I/O (queue depth)."""
        self._refreshers.append(refresher)

    def remove_refresher(self, refresher: Refresher) -> None:
        if refresher in self._refreshers:
            self._refreshers.remove(refresher)

    def observe_query(self, operation: str, seconds: float) -> None:
        """A `core.database` query observer: one statement's duration, by its kind (SELECT...)."""
        self.db_client_operation_duration.observe((operation,), seconds)

    def _collect_active_requests(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            labels=["http_request_method"],
        )
        for method, active in sorted(self.active_requests.items()):
            family.add_metric([method], active)
        yield family

    async def refresh(self) -> None:
        for refresher in self._refreshers:
            try:
                async with asyncio.timeout(_REFRESH_TIMEOUT_SECONDS):
                    await refresher()
            except Exception as exc:  # a failing refresher leaves its last value, never a 500
                _log.warning(
                    "metrics_refresh_failed",
                    refresher=repr(refresher),
                    error=redacted_text(repr(exc)),  # a URL in it may carry a credential
                )


class HttpServerMetrics:
    """Records `http_server_request_duration_seconds` and active requests.

    Called by the request layer (`request_context.py`), which already watches every response.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.active = metrics.active_requests
        self.durations = metrics.http_server_request_duration

    def request_started(self, scope: Scope) -> None:
        method = _method_label(scope)
        self.active[method] = self.active.get(method, 0) + 1

    def request_finished(
        self, scope: Scope, status: int, seconds: float, route: str | None
    ) -> None:
        """`route`: the matched route's template (`path_redaction.route_and_path`), None when
        no route matched (one series for all of those, `""`)."""
        method = _method_label(scope)
        self.active[method] -= 1
        template = route or ""
        self.durations.observe((method, template, str(status)), seconds)


def _method_label(scope: Scope) -> str:
    method: str = scope["method"]
    return method if method in _KNOWN_METHODS else "_OTHER"  # bounded, as the conventions say


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition (text or OpenMetrics, gzip when asked)."""
    metrics = request_chassis(request).instruments.metrics
    await metrics.refresh()
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encoder(metrics.registry)
    headers = {"Cache-Control": "no-store"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=content_type, headers=headers)


def watch_database(metrics: Metrics, database: Database) -> Callable[[], None]:
    """Export the pool's usage, statement durations and the job queue's depth.

    Returns the function that stops the statement timing (call it when the engine closes).
    """
    pool = database.engine.sync_engine.pool

    def collect_pool() -> Iterable[Metric]:
        labels = ["db_client_connection_pool_name", "db_client_connection_state"]
        count = GaugeMetricFamily(
            "db_client_connection_count", "Connections in the pool, by state.", labels=labels
        )
        maximum = GaugeMetricFamily(
            "db_client_connection_max",
            "The most connections the pool may open.",
            labels=labels[:1],
        )
        if isinstance(pool, QueuePool):
            count.add_metric(["default", "used"], pool.checkedout())
            count.add_metric(["default", "idle"], pool.checkedin())
            maximum.add_metric(["default"], pool.size() + max(0, pool._max_overflow))
        yield count
        yield maximum

    async def refresh_queue_depth() -> None:
        async with database.sessionmaker() as session:
            for state, jobs in (await queue.depth(session)).items():
                metrics.job_queue_depth.labels(state).set(jobs)
            due_since = await queue.oldest_due_since(session)
        waited = 0.0 if due_since is None else (queue.utc_now() - due_since).total_seconds()
        metrics.job_queue_oldest_due_age.set(max(0.0, waited))

    pool_collector = metrics.add_collector(collect_pool)
    metrics.add_refresher(refresh_queue_depth)
    add_query_observer(metrics.observe_query)

    def uninstall() -> None:
        # The engine closes with the lifespan; a later lifespan of the same app installs anew.
        remove_query_observer(metrics.observe_query)
        metrics.registry.unregister(pool_collector)
        metrics.remove_refresher(refresh_queue_depth)

    return uninstall


class RateLimitMetrics:
    """The rate limiter's observer (core/security/rate_limit.py): rejections by layer, storage
    errors by layer and the policy that answered instead."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def rejected(self, layer: str) -> None:
        self._metrics.rate_limit_rejected(limiter=layer)

    def storage_failed(self, layer: str, policy: str) -> None:
        self._metrics.rate_limit_storage_errors.labels(layer, policy).inc()
