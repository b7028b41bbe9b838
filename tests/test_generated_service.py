"""INF-1/INF-2/CFG-1/SEC-3: the generated service, as a real process on loopback.

INF-3 under way (a request in flight when SIGTERM comes) is proven once, by the chassis's
suite (chassis/tests/process/test_server_process.py); the image tests stop the generated
service's container and read its exit code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.support.projects import GeneratedProject
from tests.support.service import start


def development_env(tmp_path: Path) -> dict[str, str]:
    return {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
    }


def test_inf2_both_health_endpoints_answer(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    service = start(
        default_project.path,
        ["-m", default_project.package],
        env=development_env(tmp_path),
        log_path=tmp_path / "service.log",
    )
    try:
        assert httpx.get(service.base_url + "/health/live").json() == {"status": "ok"}
        ready = httpx.get(service.base_url + "/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ok"
    finally:
        exit_code = service.stop()
    assert exit_code == 0, service.output()


def test_cfg1_production_without_database_url_exits_non_zero_naming_it(
    default_project: GeneratedProject,
) -> None:
    python = default_project.path / ".venv" / "bin" / "python"
    completed = subprocess.run(
        [str(python), "-m", default_project.package],
        env={"APP_ENV": "production", "REDIS_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "DATABASE_URL" in completed.stderr
    # Authentication has no development fallback in production (SEC-3, SEC-2).
    for variable in (
        "AUTH_JWT_ISSUER",
        "AUTH_JWT_AUDIENCE",
        "AUTH_JWT_JWKS_URL",
        "AUTH_SESSION_SECRET",
    ):
        assert variable in completed.stderr
    assert "Traceback" not in completed.stderr


def test_sec3_a_dev_token_opens_the_api_and_anonymous_calls_are_refused(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    """The README's first steps: mint a development token, call the API with it."""
    python = default_project.path / ".venv" / "bin" / "python"
    minted = subprocess.run(
        [str(python), "-m", default_project.package, "dev-token", "--scope", "items:read"],
        cwd=default_project.path,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    service = start(
        default_project.path,
        ["-m", default_project.package],
        env=development_env(tmp_path),
        log_path=tmp_path / "service.log",
    )
    try:
        me = httpx.get(
            service.base_url + "/v1/auth/session", headers={"Authorization": f"Bearer {token}"}
        )
        anonymous = httpx.get(service.base_url + "/v1/auth/session")
    finally:
        service.stop()
    assert me.status_code == 200, me.text
    assert me.json() == {"subject": "developer", "scopes": ["items:read"], "method": "bearer"}
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in anonymous.headers["content-security-policy"]
