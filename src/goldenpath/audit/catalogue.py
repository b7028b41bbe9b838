"""The standards catalogue, as data: IDs, areas, titles and how to fix a missing standard.

The IDs and titles are the catalogue's (docs/standards/index.md); the audit reports every one of
them, so a dashboard can track each ID across services whatever the audit finds. The "template
itself" area (TPL) is about where a service came from, not about the service's own code: it is
reported but never scored (see docs/audit.md), so a service that never came from the template
can still score 100%.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    scored: bool = True


@dataclass(frozen=True)
class Standard:
    id: str
    area: str
    title: str
    summary: str
    docs: str  # the page of the template's docs site that explains it, with its anchor

    @property
    def slug(self) -> str:
        return self.id.lower()


AREAS: tuple[Area, ...] = (
    Area("INF", "Infrastructure and deployment"),
    Area("SEC", "Security"),
    Area("OBS", "Monitoring and observability"),
    Area("DB", "Database and data"),
    Area("PERF", "Performance and scalability"),
    Area("TEST", "Testing"),
    Area("CFG", "Configuration management"),
    Area("RES", "Error handling and resilience"),
    Area("API", "API design"),
    Area("OPS", "DevOps and CI/CD"),
    Area("ARCH", "Architecture"),
    Area("TPL", "Golden path (informational)", scored=False),
)


def _standard(id_: str, title: str, summary: str, page: str) -> Standard:
    return Standard(
        id_, id_.split("-", maxsplit=1)[0], title, summary, f"standards/{page}.md#{id_.lower()}"
    )


STANDARDS: tuple[Standard, ...] = (
    _standard(
        "INF-1",
        "Cloud-native single process",
        "One server process per container; scaling is left to the orchestrator.",
        "infrastructure",
    ),
    _standard(
        "INF-2",
        "Health endpoints",
        "A liveness endpoint that touches nothing, and a readiness endpoint that checks "
        "every dependency and answers 503 when one is down.",
        "infrastructure",
    ),
    _standard(
        "INF-3",
        "Graceful shutdown",
        "SIGTERM: stop taking traffic, finish in-flight requests within a grace period, "
        "close pools and flush exporters, exit 0.",
        "infrastructure",
    ),
    _standard(
        "SEC-1",
        "Input validation and sanitization",
        "Strict, bounded request schemas, a body size limit, HTML sanitized, "
        "parameterized queries only.",
        "security",
    ),
    _standard(
        "SEC-2",
        "CSRF protection",
        "Cookie-authenticated state changes need a CSRF token and a same-origin check.",
        "security",
    ),
    _standard(
        "SEC-3",
        "API authentication",
        "JWT bearer tokens (pinned algorithms, issuer, audience) and hashed API keys; every "
        "route authenticated unless explicitly public.",
        "security",
    ),
    _standard(
        "SEC-4",
        "Multi-layer rate limiting",
        "Per IP before authentication and per caller after it, in a store shared by all "
        "replicas; client IPs from trusted proxies only.",
        "security",
    ),
    _standard(
        "SEC-5",
        "Security headers and CORS",
        "HSTS, CSP, nosniff, frame protection and a referrer policy on every response; "
        "CORS with an explicit origin list.",
        "security",
    ),
    _standard(
        "SEC-6",
        "Object-level authorization",
        "Every object belongs to a principal or tenant; every read, list, update and delete is "
        "filtered by it in the repository, and only an explicit, logged admin scope crosses "
        "owners (OWASP API1).",
        "security",
    ),
    _standard(
        "OBS-1",
        "Metrics",
        "Prometheus /metrics with request rate, errors and duration by route, and the "
        "dependencies' metrics.",
        "observability",
    ),
    _standard(
        "OBS-2",
        "Distributed tracing",
        "OpenTelemetry traces of requests and outbound calls, exported over OTLP and "
        "configured by OTEL_* variables.",
        "observability",
    ),
    _standard(
        "OBS-3",
        "Structured logging with correlation IDs",
        "JSON logs to stdout; every line carries the request ID and the trace IDs.",
        "observability",
    ),
    _standard(
        "OBS-4",
        "Error handling",
        "Every error is an RFC 9457 problem; no stack trace reaches a client; unexpected "
        "errors are logged once.",
        "observability",
    ),
    _standard(
        "DB-1",
        "Connection pooling",
        "Pool size, overflow, timeouts, recycling, pre-ping and a statement timeout, from "
        "validated settings.",
        "data",
    ),
    _standard(
        "DB-2",
        "Migrations with a rollback strategy",
        "Versioned migrations, each with a downgrade, and a tested round trip.",
        "data",
    ),
    _standard(
        "DB-3",
        "Validation at the database level",
        "NOT NULL, CHECK, UNIQUE and foreign keys mirror the application's rules, with a "
        "test that the database rejects bad rows.",
        "data",
    ),
    _standard(
        "DB-4", "Schema design", "UUID primary keys, timestamps, indexes on foreign keys.", "data"
    ),
    _standard(
        "PERF-1",
        "Caching strategy",
        "Cache-aside with jittered TTLs, invalidation on writes, stampede protection and a "
        "bounded in-memory fallback.",
        "performance",
    ),
    _standard(
        "PERF-2",
        "Query performance monitoring",
        "Slow-query logging, query duration metrics and an N+1 guard in tests.",
        "performance",
    ),
    _standard(
        "PERF-3",
        "CDN-ready static assets",
        "Fingerprinted static files with immutable cache headers and a CDN base URL setting.",
        "performance",
    ),
    _standard(
        "TEST-1",
        "Integration tests",
        "API tests through the real application against real databases.",
        "testing",
    ),
    _standard(
        "TEST-2",
        "Load tests",
        "A load scenario run headless in CI that fails on latency and error-rate thresholds.",
        "testing",
    ),
    _standard(
        "TEST-3",
        "Contract tests",
        "Property-based tests over the OpenAPI document and a committed OpenAPI snapshot.",
        "testing",
    ),
    _standard(
        "CFG-1",
        "Environment validation",
        "Typed settings validated at start-up, read in one place; production refuses "
        "development defaults.",
        "configuration",
    ),
    _standard(
        "CFG-2",
        "Secrets management",
        "Secrets from mounted files, the environment or a secrets manager; never in the "
        "code, the repository or the image.",
        "configuration",
    ),
    _standard(
        "RES-1",
        "Circuit breaker",
        "Every outbound dependency behind a breaker whose state shows in metrics and readiness.",
        "resilience",
    ),
    _standard(
        "RES-2",
        "Retry with backoff",
        "Bounded retries with exponential backoff and jitter, for idempotent operations, "
        "under an overall deadline.",
        "resilience",
    ),
    _standard(
        "API-1",
        "Versioning",
        "Business routes under /v1, and documented rules for /v2 and deprecation.",
        "api",
    ),
    _standard(
        "API-2",
        "Documentation",
        "An OpenAPI document from the code, browsable docs, a summary and error "
        "responses on every route.",
        "api",
    ),
    _standard(
        "API-3",
        "Request and response schemas",
        "Every route declares its request and response models.",
        "api",
    ),
    _standard(
        "OPS-1",
        "Multi-stage distroless image",
        "A builder stage and a distroless, non-root runtime, base images pinned by "
        "digest, a .dockerignore, no secrets or build tools.",
        "devops",
    ),
    _standard(
        "OPS-2",
        "Security scanning",
        "Image and configuration scans with SARIF upload, a dependency audit, secret scanning.",
        "devops",
    ),
    _standard(
        "OPS-3",
        "CI/CD pipeline",
        "Lint, types and tests with real services, image build, release; actions pinned "
        "by SHA, least privilege.",
        "devops",
    ),
    _standard(
        "ARCH-1",
        "Layered design",
        "Routers, services and repositories, wired by dependency injection.",
        "architecture",
    ),
    _standard(
        "ARCH-2",
        "Stateless and horizontally scalable",
        "No state in the process; Kubernetes manifests with probes, resources, security "
        "context, autoscaler and disruption budget.",
        "architecture",
    ),
    _standard(
        "ARCH-3",
        "Queue-based processing",
        "Background work through a durable queue with a worker, retries and graceful "
        "shutdown, enqueued with the business write.",
        "architecture",
    ),
    _standard(
        "TPL-1",
        "Generated from the template",
        "The service records the template it came from (.copier-answers.yml).",
        "template",
    ),
    _standard(
        "TPL-2",
        "On a current template release",
        "The service takes the template's releases (`copier update`).",
        "template",
    ),
    _standard(
        "TPL-3",
        "Generated outputs tested",
        "About the template repository's own CI, not a service.",
        "template",
    ),
    _standard(
        "TPL-4", "Docs", "About the template's documentation site, not a service.", "template"
    ),
    _standard(
        "TPL-5",
        "On the service chassis",
        "The cross-cutting standards come from goldenpath-chassis, a versioned dependency, not "
        "from platform code copied into the service.",
        "template",
    ),
)

BY_ID: dict[str, Standard] = {standard.id: standard for standard in STANDARDS}
AREA_BY_KEY: dict[str, Area] = {area.key: area for area in AREAS}


def standards_of(area: Area) -> tuple[Standard, ...]:
    return tuple(standard for standard in STANDARDS if standard.area == area.key)
