"""Benchmark: what the security layers cost per request, in-process, layer by layer.

Calls the generated app's ASGI callable directly (no sockets, no HTTP client), so the figures
are the application's own work: bare FastAPI, then the full stack on a public route, then
authenticated requests with each credential, with and without the rate limiter, in memory and
in Redis. Prints microseconds per request; fails nothing. Run it with
`uv run python -m benchmarks.security_overhead [--requests N]`.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import textwrap
from pathlib import Path

from tests.support.commands import pin_python_for_generated_projects, run
from tests.support.projects import synced_defaults
from tests.support.servers import RedisServer

MEASURE = textwrap.dedent(
    """
    import asyncio, contextlib, sys, time
    from asgi_lifespan import LifespanManager
    from fastapi import FastAPI
    from acme_orders.app import create_app
    from acme_orders.settings import load_settings
    from goldenpath_chassis._core.api_keys.service import ApiKeyService
    from goldenpath_chassis._core.logging import configure_logging
    from goldenpath_chassis._core.security.dev_keys import generate_signing_key
    from goldenpath_chassis._core.security.jwt import JwtVerifier, StaticKeySource

    REQUESTS, REDIS_URL, DATABASE = int(sys.argv[1]), sys.argv[2] or None, sys.argv[3]
    KEY = generate_signing_key()
    ISSUER, AUDIENCE = "https://issuer.bench", "bench"
    UNLIMITED = "100000000/minute"


    def scope(path, headers):
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"bench"), *headers],
            "client": ("127.0.0.1", 5000), "server": ("bench", 80),
        }


    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}


    async def batch(app, path, headers, expect, count):
        statuses = set()

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.add(message["status"])

        started = time.perf_counter()
        for _ in range(count):
            await app(scope(path, headers), receive, send)
        elapsed = time.perf_counter() - started
        assert statuses == {expect}, (path, statuses)
        return elapsed / count * 1e6


    def settings(**changes):
        return load_settings(**{
            "app_env": "test", "database_url": DATABASE, "log_level": "WARNING",
            "auth_jwt_issuer": ISSUER, "auth_jwt_audience": AUDIENCE,
            "auth_jwt_public_key": KEY.public_pem,
            "rate_limit_per_ip": UNLIMITED, "rate_limit_per_principal": UNLIMITED, **changes,
        })


    async def main():
        configure_logging(level="WARNING")
        token = KEY.mint(issuer=ISSUER, audience=AUDIENCE, scopes=["items:read"])
        bearer = [(b"authorization", f"Bearer {token}".encode())]
        bare = FastAPI()

        @bare.get("/ping")
        async def ping() -> dict[str, str]:
            return {"status": "ok"}

        scenarios = [("bare FastAPI, one route", bare, "/ping", [], 200)]
        async with contextlib.AsyncExitStack() as stack:
            variants = [("off", {"rate_limit_enabled": False}), ("memory", {})]
            if REDIS_URL:
                variants.append(("Redis", {"redis_url": REDIS_URL}))
            for label, changes in variants:
                app = create_app(settings(**changes))
                await stack.enter_async_context(LifespanManager(app))
                me = "/v1/auth/session"
                health = "/health/live"
                scenarios.append((f"public /health/live, limiter {label}", app, health, [], 200))
                scenarios.append((f"bearer (cached), limiter {label}", app, me, bearer, 200))
                if label == "memory":
                    database = app.state.chassis.resources.database
                    async with database.sessionmaker() as session:
                        service = ApiKeyService(session, declared_scopes=["items:read"])
                        _, key = await service.create(name="b", scopes=["items:read"])
                    api_key = [(b"x-api-key", key.encode())]
                    scenarios.append(("API key (cached), limiter memory", app, me, api_key, 200))
                    scenarios.append(("no credentials -> 401, limiter memory", app, me, [], 401))
            best = {}
            for scenario in scenarios:  # warm-up
                await batch(*scenario[1:], 200)
            # Interleaved rounds, best of each: other load on the machine hits all alike.
            for _ in range(7):
                for label, *rest in scenarios:
                    micros = await batch(*rest, REQUESTS // 7)
                    best[label] = min(best.get(label, micros), micros)

        verifier = JwtVerifier(
            StaticKeySource(KEY.public_pem, algorithms=("EdDSA",)), issuer=ISSUER, audience=AUDIENCE
        )
        fresh = [KEY.mint(issuer=ISSUER, audience=AUDIENCE, subject=f"u{n}") for n in range(500)]
        started = time.perf_counter()
        for item in fresh:
            await verifier.verify(item)
        first_use = (time.perf_counter() - started) / 500 * 1e6
        best["JWT verify, first use (EdDSA signature)"] = first_use
        started = time.perf_counter()
        for item in fresh:
            await verifier.verify(item)
        best["JWT verify, cached"] = (time.perf_counter() - started) / 500 * 1e6
        baseline = best["bare FastAPI, one route"]
        for label, micros in best.items():
            print(f"{label:<45} {micros:8.1f} us   {micros / baseline:5.2f} x bare")


    asyncio.run(main())
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        project = synced_defaults(workdir / "project")
        database = f"sqlite+aiosqlite:///{workdir}/bench.sqlite3"
        run(
            [str(project / ".venv/bin/python"), "-m", "acme_orders", "migrate"],
            cwd=project,
            env={"APP_ENV": "test", "DATABASE_URL": database},
        )
        redis = RedisServer.create()
        redis.start()
        try:
            script = workdir / "measure.py"
            script.write_text(MEASURE)
            completed = subprocess.run(
                [
                    str(project / ".venv/bin/python"),
                    str(script),
                    str(args.requests),
                    redis.url,
                    database,
                ],
                cwd=project,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            redis.destroy()
        print(completed.stdout)
        if completed.returncode != 0:
            print(completed.stderr[-4000:])


if __name__ == "__main__":
    main()
