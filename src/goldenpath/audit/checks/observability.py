"""OBS-1..4: metrics, tracing, structured logs with correlation IDs, one error format."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, dotted, keyword, last_name, literal
from goldenpath.audit.facts.symbols import Local
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, check, found, only_if, skipped, verdict
from ._log_trace_ids import trace_ids_on_log_lines
from ._signals import breakers, cache_layer, rate_limiter, task_queue
from .infrastructure import server_commands

METRICS_LIBRARIES = (
    "prometheus-client",
    "prometheus-fastapi-instrumentator",
    "starlette-exporter",
    "starlette-prometheus",
    "django-prometheus",
    "prometheus-flask-exporter",
    "opentelemetry-exporter-prometheus",
    "aioprometheus",
)
ROUTE_METRICS_LIBRARIES = METRICS_LIBRARIES[1:6]


def _metric_names(facts: Facts, pattern: str) -> list[Evidence]:
    """String literals that look like metric names and match `pattern`."""
    return [
        hit
        for hit in facts.code.find_tokens(pattern, kinds=("string",), limit=10)
        if re.fullmatch(r"[a-z_:][a-z0-9_:]*", hit.detail) and "_" in hit.detail
    ]


@check("OBS-1")
def metrics(facts: Facts) -> Assessment:
    library = facts.uses(*METRICS_LIBRARIES, modules=("prometheus_client",))
    requirements = [
        found(
            "Prometheus client",
            library,
            met="metrics in the Prometheus format",
            missing="no Prometheus metrics library",
            fix="add prometheus-client and expose the service's metrics",
        )
    ]
    endpoint = [route.evidence() for route in facts.routes.with_path(r"^/metrics/?$")]
    endpoint += [
        module.evidence(call, last_name(call.func))
        for module, call in facts.code.calls_named(
            "make_asgi_app", "make_wsgi_app", "start_http_server", "expose"
        )
    ]
    endpoint += facts.code.find_tokens(r"^django_prometheus\.urls$", kinds=("string",))
    requirements.append(
        found(
            "/metrics endpoint",
            endpoint,
            met="Prometheus can scrape the service",
            missing="no /metrics endpoint",
            fix="serve GET /metrics (prometheus_client's exposition) on the service's port",
        )
    )
    request_metrics = _metric_names(
        facts,
        r"(http_server_request_duration|http_request_duration|request_duration|"
        r"request_latency|http_requests_total|requests_total)",
    ) + facts.uses(*ROUTE_METRICS_LIBRARIES)
    requirements.append(
        found(
            "request metrics by route",
            request_metrics,
            met="request rate, errors and duration by route",
            missing="no request duration metric by route",
            fix="record http_server_request_duration_seconds labelled by route template, "
            "method and "
            "status (OpenTelemetry semantic-convention names)",
        )
    )
    wanted = {
        "database pool or queries": (bool(facts.has_database), r"(db_|database|pool|sql|query)"),
        "cache hits and misses": (bool(cache_layer(facts)), r"cache_?(hit|miss)"),
        "circuit breaker state": (bool(breakers(facts)), r"(circuit|breaker)"),
        "rate-limit rejections": (bool(rate_limiter(facts)), r"(rate_?limit|throttl)"),
        "queue depth": (bool(task_queue(facts)), r"(queue|jobs?_)"),
    }
    present = {label: pattern for label, (has, pattern) in wanted.items() if has}
    if not present:
        requirements.append(
            skipped("dependency metrics", "no database, cache, breaker, limiter or queue")
        )
        return requirements
    hits = {label: _metric_names(facts, pattern) for label, pattern in present.items()}
    absent = [label for label, evidence in hits.items() if not evidence]
    requirements.append(
        verdict(
            "dependency metrics",
            not absent,
            f"metrics for {', '.join(present)}"
            if not absent
            else f"no metrics for {', '.join(absent)}",
            [evidence[0] for evidence in hits.values() if evidence],
            fix="export a metric for each dependency the service has: pool usage, cache hits and "
            "misses, breaker state, rate-limit rejections, queue depth",
        )
    )
    return requirements


INSTRUMENTATIONS = {
    "database": (
        (
            "sqlalchemy",
            "sqlmodel",
            "psycopg",
            "psycopg2",
            "psycopg2-binary",
            "asyncpg",
            "pymongo",
            "motor",
            "django",
        ),
        (
            "opentelemetry-instrumentation-sqlalchemy",
            "opentelemetry-instrumentation-psycopg",
            "opentelemetry-instrumentation-psycopg2",
            "opentelemetry-instrumentation-asyncpg",
            "opentelemetry-instrumentation-pymongo",
            "opentelemetry-instrumentation-django",
            "opentelemetry-instrumentation-dbapi",
        ),
    ),
    "Redis": (("redis",), ("opentelemetry-instrumentation-redis",)),
    "outbound HTTP": (
        ("httpx", "requests", "aiohttp"),
        (
            "opentelemetry-instrumentation-httpx",
            "opentelemetry-instrumentation-requests",
            "opentelemetry-instrumentation-aiohttp-client",
            "opentelemetry-instrumentation-urllib3",
        ),
    ),
}


@check("OBS-2")
def tracing(facts: Facts) -> Assessment:
    auto = [
        evidence
        for evidence, words in server_commands(facts)
        if "opentelemetry-instrument" in " ".join(words)
    ]
    sdk = facts.uses("opentelemetry-sdk", "opentelemetry-distro") + auto
    exporter = facts.uses(
        "opentelemetry-exporter-otlp",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-exporter-otlp-proto-grpc",
    )
    # The distro's `otlp` extra installs the OTLP exporter and makes it the default.
    exporter += [
        declared.evidence()
        for declared in facts.dependencies.find("opentelemetry-distro", runtime_only=True)
        if re.search(r"\[[^\]]*\botlp\b", declared.spec)
    ]
    requirements = [
        verdict(
            "OpenTelemetry SDK with OTLP export",
            bool(sdk and exporter),
            "spans are exported over OTLP"
            if sdk and exporter
            else "no OpenTelemetry SDK"
            if not sdk
            else "no OTLP exporter",
            sdk + exporter,
            fix="add opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http",
        )
    ]
    incoming = facts.uses(
        "opentelemetry-instrumentation-fastapi",
        "opentelemetry-instrumentation-asgi",
        "opentelemetry-instrumentation-flask",
        "opentelemetry-instrumentation-django",
        "opentelemetry-instrumentation-starlette",
        "opentelemetry-instrumentation-wsgi",
    ) + facts.code.find_tokens(
        r"^(FastAPIInstrumentor|FlaskInstrumentor|DjangoInstrumentor|"
        r"OpenTelemetryMiddleware|instrument_app)$",
        kinds=("name",),
    )
    incoming += [
        module.evidence(call, "FastAPI(telemetry=...)")
        for module, call in facts.code.calls_named("FastAPI")
        if keyword(call, "telemetry") is not None
    ]
    # A server span the service starts itself for each request (its own middleware or view).
    incoming += [
        module.evidence(call, "span of kind SpanKind.SERVER")
        for module in facts.code.modules
        for call in module.calls()
        if dotted(keyword(call, "kind")).endswith("SpanKind.SERVER")
    ][:3]
    requirements.append(
        found(
            "incoming requests traced",
            incoming,
            met="every request starts or continues a trace (W3C traceparent)",
            missing="incoming requests are not traced",
            fix="instrument the app (opentelemetry-instrumentation-fastapi, or FastAPI's "
            "telemetry)",
        )
    )
    declared = facts.dependencies.names(runtime_only=True)
    uncovered: list[tuple[str, list[Evidence]]] = []
    covered: list[tuple[str, list[Evidence]]] = []
    for label, (clients, instrumentations) in INSTRUMENTATIONS.items():
        if not declared & set(clients):
            continue
        hits = facts.uses(*instrumentations)
        (covered if hits else uncovered).append((label, hits))
    if covered or uncovered:
        requirements.append(
            verdict(
                "outbound calls traced",
                not uncovered,
                "database, cache and HTTP calls are spans of the request's trace"
                if not uncovered
                else "not traced: " + ", ".join(label for label, _ in uncovered),
                [hits[0] for _, hits in covered],
                fix="add the OpenTelemetry instrumentation for each client library "
                "(sqlalchemy, redis, httpx)",
            )
        )
    else:
        requirements.append(skipped("outbound calls traced", "no database, Redis or HTTP client"))
    configured = facts.code.find_tokens(
        r"^(otel_exporter_otlp\w*|OTEL_EXPORTER_OTLP\w*|otel_service_name|OTEL_SERVICE_NAME)$"
    )
    configured += [
        module.evidence(call, "OTLPSpanExporter() reads OTEL_EXPORTER_OTLP_*")
        for module, call in facts.code.calls_named("OTLPSpanExporter")
        if keyword(call, "endpoint") is None
        or not isinstance(literal(keyword(call, "endpoint")), str)
    ]
    # The SDK's own configurator (what opentelemetry-instrument runs) reads OTEL_* variables.
    configured += [
        module.evidence(call, "_OTelSDKConfigurator reads OTEL_*")
        for module, call in facts.code.calls_named("_OTelSDKConfigurator")
    ]
    configured += auto
    requirements.append(
        found(
            "configured by OTEL_* variables",
            configured,
            met="export is configured by the standard OTEL_* variables",
            missing="tracing is not configured by the standard OTEL_* variables",
            fix="read OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME (no endpoint: tracing off)",
        )
    )
    return requirements


@check("OBS-3")
def structured_logs(facts: Facts) -> Assessment:
    json_logs = facts.code.find_tokens(
        r"^(JsonFormatter|jsonlogger|JSONFormatter|EcsFormatter|json_log_formatter)$",
        kinds=("name",),
    )
    # structlog's JSONRenderer, not Django REST framework's, which renders responses.
    json_logs += facts.code.find_tokens(
        r"^JSONRenderer$",
        kinds=("name",),
        modules=[m for m in facts.code.modules if "structlog" in m.imported_modules],
    )
    json_logs += facts.uses("python-json-logger", "ecs-logging", "json-log-formatter")
    for module in facts.code.modules:
        if "structlog" in module.imported_modules and module.imported_modules & {"orjson", "json"}:
            json_logs.append(Evidence(module.path, None, "structlog rendered as JSON"))
    json_logs += [
        module.evidence(call, "loguru serialize=True")
        for module, call in facts.code.calls_named("add")
        if literal(keyword(call, "serialize")) is True
    ]
    requirements = [
        found(
            "JSON logs",
            json_logs,
            met="one JSON object per log line",
            missing="logs are plain text",
            fix="log JSON lines to stdout (structlog with a JSON renderer)",
        )
    ]
    request_ids = facts.code.find_tokens(r"^x-(request|correlation)-id$", kinds=("string",))
    request_ids += facts.uses(
        "asgi-correlation-id",
        "django-guid",
        "django-request-id",
        "flask-request-id-header",
        "django-log-request-id",
    )
    requirements.append(
        found(
            "request ID on every line",
            request_ids,
            met="each request's lines carry its X-Request-ID",
            missing="no request ID: a request's log lines cannot be told apart",
            fix="accept or generate X-Request-ID, bind it to the logging context, echo it back",
        )
    )
    trace_ids = trace_ids_on_log_lines(facts)
    trace_ids += facts.uses("opentelemetry-instrumentation-logging")
    requirements.append(
        found(
            "trace IDs on log lines",
            trace_ids,
            met="log lines carry the trace and span IDs",
            missing="log lines do not carry trace IDs: logs and traces cannot be joined",
            fix="add the current span's trace_id and span_id to every log line",
        )
    )
    return requirements


_LOGS_AN_ERROR = re.compile(r"\.(exception|error|critical)\(")


def _is_asgi(node: ast.ClassDef) -> bool:
    """A class whose instances are ASGI apps: `__call__(self, scope, receive, send)`."""
    return any(
        isinstance(member, ast.AsyncFunctionDef)
        and member.name == "__call__"
        and [argument.arg for argument in member.args.args[1:4]] == ["scope", "receive", "send"]
        for member in node.body
    )


def _logs_errors(facts: Facts, module: PythonModule, node: ast.AST) -> bool:
    """The handler logs the error itself, or calls a function of the audited code (resolved as
    the interpreter would, not by its name) that does."""
    if _LOGS_AN_ERROR.search(ast.unparse(node)):
        return True
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        symbol = facts.symbols.resolve(module, call.func)
        if (
            isinstance(symbol, Local)
            and isinstance(symbol.node, ast.FunctionDef | ast.AsyncFunctionDef)
            and _LOGS_AN_ERROR.search(ast.unparse(symbol.node))
        ):
            return True
    return False


def _catch_all(facts: Facts) -> list[tuple[Evidence, ast.AST, PythonModule]]:
    """Each catch-all handler: its evidence, the code to look in for its logging, its module."""
    found_: list[tuple[Evidence, ast.AST, PythonModule]] = []
    for module, call in facts.code.calls_named(
        "exception_handler", "add_exception_handler", "errorhandler", "register_error_handler"
    ):
        if call.args and ast.unparse(call.args[0]) in {
            "Exception",
            "500",
            "BaseException",
            "HTTPStatus.INTERNAL_SERVER_ERROR",
        }:
            evidence = module.evidence(call, f"handler for {ast.unparse(call.args[0])}")
            found_.append((evidence, module.tree, module))
    for module in facts.code.modules:
        for node in module.classes():
            for item in ast.walk(node):
                if (
                    isinstance(item, ast.ExceptHandler)
                    and item.type is not None
                    and ast.unparse(item.type) in {"Exception", "BaseException"}
                    and "await" in ast.unparse(node)
                    and ("Middleware" in node.name or "Error" in node.name or _is_asgi(node))
                ):
                    found_.append((module.evidence(node, node.name), node, module))
                    break
        for assignment in module.tree.body:
            if isinstance(assignment, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "handler500" for t in assignment.targets
            ):
                found_.append((module.evidence(assignment, "handler500"), module.tree, module))
    return found_


@check("OBS-4")
def error_format(facts: Facts) -> Assessment:
    problem = facts.code.find_tokens(r"^application/problem\+json$", kinds=("string",))
    problem += facts.uses(
        "fastapi-problem",
        "fastapi-rfc7807",
        "drf-problems",
        "problem-details",
        "httpproblem",
        "rfc9457",
        "flask-problem",
    )
    requirements: list[Requirement] = [
        found(
            "RFC 9457 problem details",
            problem,
            met="errors are application/problem+json documents",
            missing="errors are not RFC 9457 problem documents",
            fix="answer every error with application/problem+json (type, title, status, detail)",
        )
    ]
    catch_all = _catch_all(facts)
    requirements.append(
        found(
            "catch-all handler",
            [evidence for evidence, _, _ in catch_all],
            met="unexpected errors are caught and answered as a bare 500",
            missing="no handler for unexpected exceptions: the framework's default page answers",
            fix="catch every unhandled exception in one place and answer a generic 500 problem",
        )
    )
    leaks = [
        module.evidence(call, "debug=True")
        for module, call in facts.code.calls_named("FastAPI", "Flask", "Starlette", "run")
        if literal(keyword(call, "debug")) is True
    ]
    debug = facts.django_settings.get("DEBUG")
    if debug is not None and debug[2] is True:
        leaks.append(Evidence(debug[0], debug[1], "DEBUG = True"))
    leaks += [
        module.evidence(call, "traceback sent in a response")
        for module, call in facts.code.calls_named("format_exc", "format_exception")
        if any(token.value.endswith("Response") for token in module.tokens)
    ][:3]
    requirements.append(
        verdict(
            "no stack traces to clients",
            not leaks,
            "debug mode is off and no traceback is sent"
            if not leaks
            else "debug mode or tracebacks reach clients",
            leaks,
            fix="never enable debug in deployed settings; log the traceback, answer a generic 500",
        )
    )
    requirements[-1] = only_if(
        facts.framework != "unknown", "no web framework found", requirements[-1]
    )
    logged = [evidence for evidence, node, module in catch_all if _logs_errors(facts, module, node)]
    if catch_all:
        requirements.append(
            found(
                "unexpected errors logged",
                logged,
                met="every unexpected error is logged with its traceback",
                missing="the catch-all handler does not log the error",
                fix="log the exception (logger.exception) with the request ID before answering",
                where=[evidence for evidence, _, _ in catch_all],
            )
        )
    return requirements
