"""Distributed tracing (OBS-2) with OpenTelemetry, and trace IDs on every log line (OBS-3).

Configured only by the standard `OTEL_*` variables (validated in `core/settings.py`). With no
OTLP endpoint there is no provider, no exporter and no instrumentation at all, and the request
layer records no span.

With an endpoint, one `TracerProvider` per app (not the process-global one: two apps in one
process, as in tests, keep their spans apart) feeds the SDK's batch processor and the OTLP/HTTP
exporter, each span encoded where it ends (`core/span_encoding.py`). Spans come from:
- incoming requests: `ServerSpans`, called by the request layer (`request_context.py`): one
  server span a request, named by its route template, continuing the W3C `traceparent` (and
  whatever else `OTEL_PROPAGATORS` reads), with the attributes the HTTP semantic conventions
  require and no others;
- outbound HTTP (httpx) and Redis: the OpenTelemetry instrumentations, per client; httpx
  injects `traceparent` into every outbound request. A read served from the near cache makes
  no Redis call, so no span;
- in both HTTP spans, the value of a query parameter that may carry a credential is replaced
  by `REDACTED` (`core/url_redaction.py`), as is an outbound URL's user information;
- the database and the job queue: see `core/database.py` and the worker.
The provider is shut down, flushing the buffered spans for `SHUTDOWN_TRACE_FLUSH_SECONDS` at
most, when the app's lifespan ends; a collector that is down or hangs costs what
`core/span_encoding.py` and `core/otlp.py` say (requests never wait for it).
"""

# The SDK, the exporter and the instrumentations are imported only when tracing is on, so a
# service without an endpoint does not even pay for loading them at start-up.
# ruff: noqa: PLC0415

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode
from structlog.typing import EventDict, WrappedLogger

from .logging import get_logger
from .request_context import PROBE_AND_SCRAPE_PREFIXES
from .settings import ChassisSettings
from .url_redaction import redacted_query, redacted_url

if TYPE_CHECKING:
    import httpx
    from opentelemetry.instrumentation.httpx import RequestInfo
    from opentelemetry.sdk.trace import TracerProvider
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .span_encoding import EncodeOnEnd

_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
# Where the httpx instrumentation records an outbound request's URL: the old conventions' key,
# the new one, or both (`OTEL_SEMCONV_STABILITY_OPT_IN`).
_OUTBOUND_URL_ATTRIBUTES = ("http.url", "url.full")
_EMPTY_CONTEXT = Context()
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"

_log = get_logger(__name__)


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    path = scope.get("path", "")
    return isinstance(path, str) and path.startswith(PROBE_AND_SCRAPE_PREFIXES)


class Tracing:
    """The app's tracer provider, or nothing when tracing is off."""

    def __init__(self, settings: ChassisSettings, *, service_version: str) -> None:
        self.endpoint = settings.telemetry.traces_endpoint
        self._telemetry = settings.telemetry
        self._flush_seconds = settings.server.shutdown_trace_flush_seconds
        self.provider: TracerProvider | None = None
        self.span_export: EncodeOnEnd | None = None  # while `exporting`
        if self.endpoint is not None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            from .span_resource import hashed_once

            resource = Resource.create(
                {
                    "service.name": settings.telemetry_service_name,
                    "service.version": service_version,
                    "deployment.environment.name": settings.app_env,
                }
            )
            # The sampler comes from OTEL_TRACES_SAMPLER(_ARG), parent-based always-on by default.
            self.provider = TracerProvider(resource=hashed_once(resource), shutdown_on_exit=False)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def fastapi_telemetry(self) -> TelemetryConfig:
        """The `FastAPI(telemetry=...)` configuration: all of it off.

        Request spans come from the request layer (`server_spans`), which already watches every
        request: FastAPI's native telemetry is a second wrapper around each one, with more
        attributes than the conventions require. Metrics are Prometheus's job (core/metrics.py)
        and exceptions are logged by core/errors.py.
        """
        return {
            "metrics": False,
            "logs": False,
            "auto_configure": False,
            "operation_spans": False,
            "tracing": False,
            "exclude": _untraced,
        }

    def server_spans(self) -> ServerSpans | None:
        """What the request layer records each request's span with; None when tracing is off."""
        return None if self.provider is None else ServerSpans(self.provider)

    def tracer(self, name: str) -> trace.Tracer:
        """A tracer for hand-made spans (the job queue); a no-op one when tracing is off."""
        provider = self.provider or trace.NoOpTracerProvider()
        return provider.get_tracer(name)

    @contextmanager
    def untraced(self) -> Iterator[None]:
        """No spans from the instrumentations inside (readiness checks' `SELECT 1` and `PING`,
        which would otherwise be root spans exported on every probe)."""
        if self.provider is None:
            yield
            return
        from opentelemetry.instrumentation.utils import suppress_instrumentation

        with suppress_instrumentation():
            yield

    def instrument_httpx(self, client: httpx.AsyncClient) -> None:
        if self.provider is not None:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor.instrument_client(
                client, tracer_provider=self.provider, request_hook=_redact_outbound_url
            )

    def instrument_redis(self, client: Redis) -> None:
        if self.provider is not None:
            from opentelemetry.instrumentation.redis import RedisInstrumentor

            RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A span per SQL statement (the statement's shape, never its parameters)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__ as version
        from opentelemetry.metrics import NoOpMeterProvider

        # EngineTracer is what `SQLAlchemyInstrumentor().instrument(engine=...)` builds; used
        # directly because the instrumentor is a process-wide singleton that instruments one
        # provider only, and it would also patch `create_engine` for the whole process.
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", version)
        usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("unused")
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]

    @asynccontextmanager
    async def exporting(self) -> AsyncIterator[None]:
        """Export spans while the app runs; flush and stop the exporter when it stops."""
        if self.provider is None or self.endpoint is None:
            yield
            return
        from .otlp import DeferredOtlpExporter
        from .span_encoding import EncodeOnEnd

        # Built on the first export, off the start-up path (core/otlp.py); from then on each
        # span is encoded as it ends (core/span_encoding.py).
        exporter = DeferredOtlpExporter(
            self.endpoint, timeout_seconds=self._telemetry.traces_timeout
        )
        self.span_export = EncodeOnEnd(
            exporter,
            lambda: exporter.span_encoder,
            max_queue_size=self._telemetry.bsp_max_queue_size,
            max_export_batch_size=self._telemetry.bsp_max_export_batch_size,
            schedule_delay_millis=self._telemetry.bsp_schedule_delay,
            flush_seconds=self._flush_seconds,
        )
        self.provider.add_span_processor(self.span_export)
        _log.info("tracing_enabled", endpoint=redacted_url(self.endpoint))
        if self._telemetry.bsp_export_timeout is not None:
            self._say_export_timeout_ignored()
        try:
            yield
        finally:
            # shutdown() flushes what is buffered, for SHUTDOWN_TRACE_FLUSH_SECONDS at most; it
            # blocks on the network, so not on the loop.
            await anyio.to_thread.run_sync(self.provider.shutdown)
            self.span_export = None

    def _say_export_timeout_ignored(self) -> None:
        """OTEL_BSP_EXPORT_TIMEOUT is read by the SDK and ignored (core/settings/groups.py): a
        deployment that set it, expecting it to bound an export, is told what does."""
        _log.warning(
            "otel_bsp_export_timeout_ignored",
            reason="the OpenTelemetry SDK does not apply it",
            export_bounded_by=self._telemetry.traces_timeout_variable,
            export_timeout_seconds=self._telemetry.traces_timeout,
            final_flush_bounded_by="SHUTDOWN_TRACE_FLUSH_SECONDS",
            flush_seconds=self._flush_seconds,
        )


class ServerSpans:
    """The server span of each HTTP request (OBS-2), for the request layer.

    `start` continues the caller's trace (from the headers `OTEL_PROPAGATORS` reads, collected
    by the request layer's one pass over the headers) and makes the span current, so the
    Redis, SQL and outbound spans of the request are its children and its log lines carry its
    IDs; `finish` names it by route template, adds the status, and ends it.
    """

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer(__name__, schema_url=_SCHEMA_URL)
        self._propagator = propagate.get_global_textmap()
        # The request headers the propagators read (traceparent, tracestate, baggage).
        self.carrier_headers = frozenset(name.encode() for name in self._propagator.fields)

    @staticmethod
    def traced(scope: MutableMapping[str, Any]) -> bool:
        return not _untraced(scope)

    def start(
        self, scope: MutableMapping[str, Any], carrier: dict[str, str] | None
    ) -> tuple[trace.Span, object, str]:
        """Start the request's span and make it current: the span, the context's token and the
        span's name until the route is known."""
        method = scope["method"]
        known = method if method in _KNOWN_METHODS else "_OTHER"
        attributes: dict[str, str] = {
            "http.request.method": known,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if known != method:
            attributes["http.request.method_original"] = method
        query = scope.get("query_string")
        if query:
            attributes["url.query"] = redacted_query(query.decode("latin-1"))
        parent = self._propagator.extract(carrier) if carrier else _EMPTY_CONTEXT
        name = "HTTP" if known == "_OTHER" else known
        span = self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return span, token, name

    @staticmethod
    def finish(
        span: trace.Span,
        token: object,
        name: str,
        *,
        route: str | None,
        status: int | None,
        error: BaseException | None,
        redacted_path: str | None = None,
    ) -> None:
        """End the request's span. `redacted_path`, when the path held a credential
        (`path_redaction.py`), replaces the raw `url.path` before any processor reads it."""
        try:
            if span.is_recording():
                if route:
                    span.update_name(f"{name} {route}")
                    span.set_attribute("http.route", route)
                if redacted_path is not None:
                    span.set_attribute("url.path", redacted_path)
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                if error is not None or status is None or status >= 500:
                    span.set_attribute(
                        "error.type", type(error).__qualname__ if error else str(status or "500")
                    )
                    span.set_status(StatusCode.ERROR)
            span.end()
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]


async def _redact_outbound_url(span: trace.Span, request: RequestInfo) -> None:
    """httpx request hook: the instrumentation redacts only four signature parameters, and
    re-encodes the query to do so (a percent-encoded name is decoded, a repeated one merged):
    the span gets the request's own URL, redacted by `url_redaction.py`, before it ends."""
    import httpx

    url = request.url
    if not isinstance(url, httpx.URL) or not (url.query or url.fragment):
        return  # the instrumentation's own redaction of the user information is enough
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return  # not recording
    redacted = redacted_url(str(url))
    for key in _OUTBOUND_URL_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, redacted)


@contextmanager
def job_span(
    tracer: trace.Tracer, kind: str, job_id: str, carrier: Mapping[str, str] | None
) -> Iterator[trace.Span]:
    """The worker's span for one job: a consumer span in the enqueuing request's trace."""
    with tracer.start_as_current_span(
        f"process {kind}",
        context=context_from_carrier(carrier),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "jobs",
            "messaging.operation.type": "process",
            "messaging.destination.name": kind,
            "messaging.message.id": job_id,
        },
    ) as span:
        yield span


def mark_job_failed(span: trace.Span, error: BaseException) -> None:
    """A job's span whose handler raised: an error, with its exception as an event. The worker
    handles the exception inside the span (it records the failure and retries), so the span
    would otherwise end as a success. The event's text is redacted where spans are encoded."""
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(trace.StatusCode.ERROR, type(error).__qualname__)


def trace_carrier() -> dict[str, str]:
    """The current trace context as W3C headers, to store with work done later (jobs)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_carrier(carrier: Mapping[str, str] | None) -> Context:
    """The trace context saved by `trace_carrier`, to continue the trace in the worker."""
    return propagate.extract(dict(carrier or {}))


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current trace and span IDs, as the W3C hex strings."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
