"""`goldenpath audit --url`: what the running service answers, beside what its code says.

Against the generated service started as a real process on loopback, and against a bare
standard-library server that answers 200 text to everything, which must pass almost nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from goldenpath.audit import Report, audit
from goldenpath.audit.model import Outcome
from goldenpath.audit.probe import ProbeOptions
from tests.support.ports import refusing_port
from tests.support.projects import GeneratedProject
from tests.support.samples import flask_service
from tests.support.service import start


def live(report: Report, standard: str) -> dict[str, Outcome]:
    return {r.name: r.outcome for r in report.result(standard).requirements if r.source == "probe"}


def test_audit_probes_the_running_generated_service(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    service = start(
        default_project.path,
        ["-m", default_project.package],
        env={
            "APP_ENV": "development",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
        },
        log_path=tmp_path / "service.log",
    )
    try:
        report = audit(default_project.path, url=service.base_url)
    finally:
        service.stop()
    assert report.probed_url == service.base_url
    assert live(report, "INF-2") == {
        "live: liveness answers 200": Outcome.MET,
        "live: readiness answers with a report": Outcome.MET,
    }
    assert live(report, "OBS-4") == {"live: errors are problem documents": Outcome.MET}
    # /metrics is closed by default (SEC-3): a 401 problem is a protected endpoint, not none.
    assert live(report, "OBS-1") == {"live: /metrics serves request metrics": Outcome.MET}
    assert "protected: 401" in _probe_detail(report, "OBS-1")
    assert any("/metrics needs credentials" in note for note in report.notes)
    assert live(report, "API-2") == {"live: OpenAPI document and docs served": Outcome.MET}
    assert live(report, "SEC-5") == {"live: security headers on responses": Outcome.MET}


def _probe_detail(report: Report, standard: str) -> str:
    return next(r.detail for r in report.result(standard).requirements if r.source == "probe")


class _PlainHandler(BaseHTTPRequestHandler):
    """Answers 200 text/plain to every GET, like a toy server with no standards at all."""

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def _refusing_metrics(status: int, *, challenge: bool) -> type[BaseHTTPRequestHandler]:
    """Like _PlainHandler, but /metrics answers `status` text, with or without a challenge."""

    class Handler(_PlainHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                super().do_GET()
                return
            body = b"no"
            self.send_response(status)
            if challenge:
                self.send_header("WWW-Authenticate", 'Bearer realm="api"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain_server() -> Iterator[str]:
    with _serve(_PlainHandler) as url:
        yield url


def test_audit_probe_of_a_bare_server_finds_what_is_missing(
    plain_server: str, tmp_path: Path
) -> None:
    service = flask_service(tmp_path / "flask")
    report = audit(service, url=plain_server, probe_options=ProbeOptions(timeout=2, burst=5))
    assert live(report, "INF-2") == {
        "live: liveness answers 200": Outcome.MET,
        "live: readiness answers with a report": Outcome.MISSING,
    }
    assert live(report, "OBS-4") == {"live: errors are problem documents": Outcome.MISSING}
    assert live(report, "SEC-5") == {"live: security headers on responses": Outcome.MISSING}
    assert live(report, "OBS-1") == {"live: /metrics serves request metrics": Outcome.MISSING}
    assert live(report, "SEC-4") == {"live: 429 with Retry-After under a burst": Outcome.MISSING}
    detail = next(r.detail for r in report.result("OBS-4").requirements if r.source == "probe")
    assert "200 text/plain" in detail


def test_audit_probe_of_nothing_listening_adds_a_note_not_verdicts(tmp_path: Path) -> None:
    service = flask_service(tmp_path / "flask")
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}"
        report = audit(service, url=url, probe_options=ProbeOptions(timeout=1))
    assert any("did not answer" in note for note in report.notes)
    assert all(r.source == "static" for result in report.results for r in result.requirements)


@pytest.mark.parametrize(
    ("status", "challenge", "outcome", "detail"),
    [
        (401, True, Outcome.MET, "protected: 401"),
        (403, False, Outcome.MISSING, "answered 403"),  # a refusal, but no authentication asked
    ],
)
def test_audit_probe_counts_an_authentication_challenge_as_protected_metrics(
    status: int, challenge: bool, outcome: Outcome, detail: str, tmp_path: Path
) -> None:
    service = flask_service(tmp_path / "flask")
    with _serve(_refusing_metrics(status, challenge=challenge)) as url:
        report = audit(service, url=url, probe_options=ProbeOptions(timeout=2))
    assert live(report, "OBS-1") == {"live: /metrics serves request metrics": outcome}
    assert detail in _probe_detail(report, "OBS-1")
