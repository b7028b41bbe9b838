"""Probe a running service (opt-in, `--url`): what it really answers, beside what the code says.

Only GET requests, each with a short timeout, to paths the service serves anyway: its health
endpoints, a path that does not exist (for the error format), /metrics and the OpenAPI
document. Nothing is written. Provoking a 429 needs more traffic than that, so it only happens
with `--probe-burst N` (at most N requests to the non-existent path, stopping at the first 429):
use it against your own staging or a local instance, never against someone else's service.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import Message

from .checks.infrastructure import LIVENESS, READINESS
from .facts import Facts
from .model import Evidence, Outcome, Requirement

MAX_BODY = 1_000_000
SECURITY_HEADERS = {
    "HSTS": "strict-transport-security",
    "nosniff": "x-content-type-options",
    "CSP": "content-security-policy",
    "referrer policy": "referrer-policy",
}
RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-policy", "x-ratelimit-limit", "ratelimit")


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = 5.0
    burst: int = 0  # requests allowed to provoke a 429; 0 never provokes one


@dataclass
class ProbeFindings:
    requirements: dict[str, list[Requirement]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, standard: str, requirement: Requirement) -> None:
        self.requirements.setdefault(standard, []).append(requirement)


@dataclass(frozen=True)
class Answer:
    url: str
    status: int | None  # None: no HTTP answer at all
    headers: dict[str, str]
    body: bytes
    error: str = ""

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        if self.status is None:
            return f"GET {self.url}: {self.error}"
        return f"GET {self.url}: {self.status} {self.media_type}".strip()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def get(url: str, *, timeout: float) -> Answer:
    if not url.startswith(("http://", "https://")):
        return Answer(url, None, {}, b"", "only http:// and https:// URLs are probed")
    headers = {"User-Agent": "goldenpath-audit", "Accept": "*/*"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s), checked above
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(url, response.status, _headers(response.headers), response.read(MAX_BODY))
    except urllib.error.HTTPError as error:
        return Answer(url, error.code, _headers(error.headers), error.read(MAX_BODY))
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Answer(url, None, {}, b"", str(getattr(error, "reason", error)))


def _headers(headers: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _requirement(name: str, ok: bool, detail: str, answer: Answer, fix: str) -> Requirement:
    return Requirement(
        f"live: {name}",
        Outcome.MET if ok else Outcome.MISSING,
        detail,
        (Evidence(answer.url, None, answer.describe()),),
        "" if ok else fix,
        source="probe",
    )


def _path(facts: Facts, pattern: str, fallback: str) -> str:
    for route in facts.routes.with_path(pattern):
        if "{" not in route.path and "<" not in route.path:
            return route.path
    return fallback


def probe(base_url: str, facts: Facts, options: ProbeOptions) -> ProbeFindings:
    base = base_url.rstrip("/")
    findings = ProbeFindings()
    answers: list[Answer] = []

    def fetch(path: str) -> Answer:
        answer = get(base + path, timeout=options.timeout)
        answers.append(answer)
        return answer

    live = fetch(_path(facts, LIVENESS, "/health/live"))
    if live.status is None:
        findings.notes.append(
            f"the service at {base} did not answer ({live.error}): no live checks"
        )
        return findings
    findings.add(
        "INF-2",
        _requirement(
            "liveness answers 200",
            live.status == 200,
            f"liveness answered {live.status}",
            live,
            "serve GET /health/live answering 200 while the process is up",
        ),
    )
    ready = fetch(_path(facts, READINESS, "/health/ready"))
    reports = ready.status in {200, 503} and isinstance(ready.json(), dict)
    findings.add(
        "INF-2",
        _requirement(
            "readiness answers with a report",
            reports,
            f"readiness answered {ready.status} with a JSON report"
            if reports
            else f"readiness answered {ready.status} {ready.media_type}",
            ready,
            "serve GET /health/ready: 200 or 503 with a per-dependency JSON report",
        ),
    )
    absent = [label for label, header in SECURITY_HEADERS.items() if header not in live.headers]
    framed = "x-frame-options" in live.headers or "frame-ancestors" in live.headers.get(
        "content-security-policy", ""
    )
    if not framed:
        absent.append("frame protection")
    findings.add(
        "SEC-5",
        _requirement(
            "security headers on responses",
            not absent,
            "HSTS, CSP, nosniff, frame protection and referrer policy are sent"
            if not absent
            else f"responses lack: {', '.join(absent)}",
            live,
            "send the security headers on every response",
        ),
    )
    missing_path = f"/goldenpath-audit-{uuid.uuid4().hex[:12]}"
    not_found = fetch(missing_path)
    problem = not_found.status == 404 and not_found.media_type == "application/problem+json"
    leak = b"Traceback" in not_found.body
    findings.add(
        "OBS-4",
        _requirement(
            "errors are problem documents",
            problem and not leak,
            "an unknown path answers 404 application/problem+json"
            if problem and not leak
            else f"an unknown path answers {not_found.status} {not_found.media_type or '(no type)'}"
            + (" with a traceback" if leak else ""),
            not_found,
            "answer every error with application/problem+json",
        ),
    )
    metrics = fetch(_path(facts, r"^/metrics/?$", "/metrics"))
    text = metrics.body.decode("utf-8", "replace") if metrics.status == 200 else ""
    request_metric = next(
        (
            name
            for name in (
                "http_server_request_duration_seconds",
                "http_request_duration_seconds",
                "http_requests_total",
                "http_request_duration",
            )
            if name in text
        ),
        None,
    )
    # A deliberate refusal (401/403 with a problem document or a WWW-Authenticate challenge) is
    # an endpoint that exists and is protected, as a service that denies by default should be:
    # evidence of metrics, whose names the probe cannot read without credentials.
    protected = metrics.status in {401, 403} and (
        metrics.media_type == "application/problem+json" or "www-authenticate" in metrics.headers
    )
    if protected:
        findings.notes.append(
            f"/metrics needs credentials (it answered {metrics.status}): the probe counts it as "
            "served and protected, and cannot read its metric names"
        )
    findings.add(
        "OBS-1",
        _requirement(
            "/metrics serves request metrics",
            request_metric is not None or protected,
            f"/metrics serves {request_metric}"
            if request_metric
            else f"/metrics is protected: {metrics.status} {metrics.media_type} without credentials"
            if protected
            else f"/metrics answered {metrics.status} without request metrics",
            metrics,
            "serve Prometheus metrics with http_server_request_duration_seconds",
        ),
    )
    document = fetch("/openapi.json")
    spec = document.json()
    valid = (
        document.status == 200 and isinstance(spec, dict) and "openapi" in spec and "paths" in spec
    )
    docs = fetch("/docs")
    findings.add(
        "API-2",
        _requirement(
            "OpenAPI document and docs served",
            valid and docs.status == 200,
            f"/openapi.json ({len(spec.get('paths', {})) if isinstance(spec, dict) else 0} paths) "
            f"and /docs answer"
            if valid and docs.status == 200
            else f"/openapi.json answered {document.status}, /docs answered {docs.status}",
            document,
            "serve the OpenAPI document and Swagger UI",
        ),
    )
    _rate_limits(base + missing_path, answers, findings, options)
    return findings


def _rate_limits(
    url: str, answers: list[Answer], findings: ProbeFindings, options: ProbeOptions
) -> None:
    with_headers = [a for a in answers if any(h in a.headers for h in RATE_LIMIT_HEADERS)]
    if options.burst <= 0:
        if with_headers:
            findings.add(
                "SEC-4",
                _requirement(
                    "rate-limit headers",
                    True,
                    "responses carry rate-limit headers",
                    with_headers[0],
                    "",
                ),
            )
        else:
            findings.notes.append(
                "no rate-limit headers on admitted responses (many limiters only send them with a "
                "429); --probe-burst N checks for a 429 with Retry-After"
            )
        return
    last = answers[-1]
    for _ in range(options.burst):
        last = get(url, timeout=options.timeout)
        if last.status == 429 or last.status is None:
            break
    limited = last.status == 429 and "retry-after" in last.headers
    findings.add(
        "SEC-4",
        _requirement(
            "429 with Retry-After under a burst",
            limited,
            f"a burst was refused with 429, Retry-After {last.headers.get('retry-after')}"
            if limited
            else f"{options.burst} requests in a burst were never refused with a 429 and "
            "Retry-After",
            last,
            "rate limit per client IP and answer 429 with Retry-After",
        ),
    )
