"""Benchmark: where an authenticated, cached GET's CPU goes, standard by standard.

`standards_cost.py` says how far the production-configured service is from bare FastAPI under
load; this one says why. It drives the generated app's ASGI callable in-process (no sockets, no
load generator) with the production environment of `standards_cost.py` (PostgreSQL, Redis,
JWT, rate limits, tracing to a loopback OTLP receiver, JSON logs at INFO), then again with one
standard switched off at a time, and bare FastAPI serving the same payload. For each it prints:

- CPU time per request: the whole process's (the span exporter's thread included, the spans
  flushed at the end of the run) and the event loop thread's alone, the best of interleaved
  rounds, each round a fresh process; they move with the machine's load;
- Python function calls per request (cProfile's count, every thread: the export of the
  requests' spans is flushed inside the count): steady on a busy machine, so a change to the
  code shows here even when the timings are noise.

The difference to "production" is what the switched-off standard costs. Prints figures; fails
nothing. `uv run python benchmarks/cached_get_breakdown.py [--rounds N] [--project PATH]`;
`--before PROJECT` adds another generated project's production configuration to every round
(the service as it was before a change, on the same database and credentials); `--profile DIR`
also saves each configuration's cProfile statistics (read them with `pstats`;
cProfile counts each resumption of a coroutine as a call, so read call counts, not cumulative
times, across an `await`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.standards_cost import (
    CREDENTIALS,
    PACKAGE,
    ServiceSide,
    otlp_receiver,
    production_environment,
    seed,
)
from tests.support.commands import pin_python_for_generated_projects, run
from tests.support.projects import synced_defaults
from tests.support.servers import PostgresServer, RedisServer

# Run in the generated project's venv, one configuration per process: prints one JSON line.
DRIVER = textwrap.dedent(
    f"""
    import asyncio, cProfile, json, os, pstats, sys, time

    from fastapi import FastAPI

    from {PACKAGE}.app import create_app
    try:  # 0.4.0 and later: the platform code is the chassis's
        from goldenpath_chassis._core.garbage_collection import tune_for_serving
        from goldenpath_chassis._core.logging import configure_logging
        from {PACKAGE}.settings import load_settings
    except ImportError:  # a service generated before 0.4.0: the platform code is its own
        from {PACKAGE}.core.logging import configure_logging
        from {PACKAGE}.core.settings import load_settings
        try:
            from {PACKAGE}.core.garbage_collection import tune_for_serving
        except ImportError:  # before 0.3.0: nothing tuned
            def tune_for_serving():
                pass

    PATH, TOKEN, PAYLOAD, REQUESTS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    PROFILED = 200
    SCOPE = {{
        "type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench"),
                    (b"authorization", b"Bearer " + TOKEN.encode())],
    }}

    def bare_app():
        app = FastAPI()
        payload = json.loads(open(PAYLOAD).read())

        @app.get("/v1/items/{{item_id}}")
        async def item(item_id: str) -> dict:
            return payload

        @app.get("/v1/items")
        async def items() -> dict:
            return payload

        return app

    def flush(app):
        # Export every span made so far (building the exporter the first time), now.
        chassis = getattr(app.state, "chassis", None)
        tracing = chassis.instruments.tracing if chassis else getattr(app.state, "tracing", None)
        if tracing is not None and tracing.provider is not None:
            tracing.provider.force_flush()

    async def receive():
        return {{"type": "http.request", "body": b"", "more_body": False}}

    async def one(app):
        statuses = []

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(SCOPE, state={{}}), receive, send)
        if statuses != [200]:
            raise SystemExit(f"{{PATH}} answered {{statuses}}")

    async def main():
        settings = load_settings()
        if hasattr(settings, "logging"):
            configure_logging(level=settings.logging.level, fmt=settings.logging.format)
        else:
            configure_logging(level=settings.log_level, fmt=settings.log_format)
        app = bare_app() if os.environ.get("BENCH_BARE") else create_app(settings)
        async with app.router.lifespan_context(app):
            for _ in range(300):  # warm-up: pools, caches, leases, lazy imports
                await one(app)
            tune_for_serving()  # as the server does once started (server.py)
            flush(app)
            started, started_main = time.process_time(), time.thread_time()
            for _ in range(REQUESTS):
                await one(app)
            flush(app)  # the spans these requests made are exported on their account
            cpu = (time.process_time() - started) / REQUESTS
            cpu_main = (time.thread_time() - started_main) / REQUESTS
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(PROFILED):
                await one(app)
            flush(app)
            profile.disable()
        calls = pstats.Stats(profile).total_calls / PROFILED
        if os.environ.get("BENCH_PROFILE_OUT"):
            profile.dump_stats(os.environ["BENCH_PROFILE_OUT"])
        print(json.dumps({{"cpu_us": cpu * 1e6, "main_us": cpu_main * 1e6, "calls": calls}}))

    asyncio.run(main())
    """
)

PRODUCTION = "production (as standards_cost.py)"
BEFORE = "  --before project, production"
BARE = "bare FastAPI, same payload"
# Each configuration is the production environment with these variables changed.
CONFIGURATIONS: dict[str, dict[str, str]] = {
    PRODUCTION: {},
    "  without tracing": {"OTEL_SDK_DISABLED": "true"},
    "  tracing 10% sampled": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
    "  without rate limiting": {"RATE_LIMIT_ENABLED": "false"},
    "  reading Redis every time": {"CACHE_NEAR_MAX_STALENESS_MS": "0"},
    "  without the access log": {"LOG_LEVEL": "WARNING"},
    "  without all three": {
        "OTEL_SDK_DISABLED": "true",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    },
    BARE: {"BENCH_BARE": "1"},
}


def measure(
    project: Path, driver: Path, env: dict[str, str], arguments: list[str]
) -> dict[str, float]:
    completed = subprocess.run(
        [str(project / ".venv/bin/python"), str(driver), *arguments],
        cwd=project,
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the driver failed:\n{completed.stderr[-3000:]}")
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def profile_path(folder: Path | None, configuration: str) -> dict[str, str]:
    """The driver's variable that makes it save its profile, for `pstats` or snakeviz."""
    if folder is None:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", configuration.lower()).strip("-")
    return {"BENCH_PROFILE_OUT": str((folder / f"{name}.pstats").resolve())}


# What `--endpoint` drives: a description, and the path and payload (from `seed`) for each.
ENDPOINTS = {
    "item": "Authenticated cached GET /v1/items/{id}",
    "list": "Authenticated list GET /v1/items (a page of 20)",
}


def endpoint_path(endpoint: str, payloads: dict[str, object]) -> tuple[str, object]:
    if endpoint == "list":
        return "/v1/items", payloads["list"]
    return f"/v1/items/{payloads['id']}", payloads["item"]


def print_table(
    results: dict[str, list[dict[str, float]]], rounds: int, endpoint: str = "item"
) -> None:
    best = {name: min(r["cpu_us"] for r in runs) for name, runs in results.items()}
    main_thread = {name: min(r["main_us"] for r in runs) for name, runs in results.items()}
    calls = {name: runs[0]["calls"] for name, runs in results.items()}
    production_cpu, production_calls = best[PRODUCTION], calls[PRODUCTION]
    print(f"\n{ENDPOINTS[endpoint]}, in-process; CPU: best of {rounds} interleaved rounds")
    header = (
        f"{'configuration':<36} {'CPU µs/req':>11} {'loop thread':>12} {'calls/req':>10}"
        f" {'vs production':>22}"
    )
    print(header)
    print("-" * len(header))
    for name in results:
        saved = ""
        if name != PRODUCTION:
            saved = (
                f"{best[name] - production_cpu:+7.0f} µs {calls[name] - production_calls:+6.0f} c"
            )
        print(
            f"{name:<36} {best[name]:11.0f} {main_thread[name]:12.0f} {calls[name]:10.0f}"
            f" {saved:>22}"
        )
    print(
        f"production costs {production_cpu / best[BARE]:.1f}x bare FastAPI's CPU and "
        f"{production_calls / calls[BARE]:.1f}x its function calls per request"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (min kept)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per run")
    parser.add_argument("--project", type=Path, help="an already generated, synced project")
    parser.add_argument(
        "--endpoint", choices=sorted(ENDPOINTS), default="item", help="the request to break down"
    )
    parser.add_argument(
        "--before", type=Path, help="another generated, synced project to run beside it"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder: write each configuration's cProfile statistics there (NAME.pstats)",
    )
    args = parser.parse_args()
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory(prefix="goldenpath-breakdown-") as tmp:
        workdir = Path(tmp)
        project = args.project or synced_defaults(workdir / "project")
        python = str(project / ".venv/bin/python")
        credentials = json.loads(run([python, "-c", CREDENTIALS], cwd=project).stdout)
        driver = workdir / "driver.py"
        driver.write_text(DRIVER)
        postgres, redis = PostgresServer.create(), RedisServer.create()
        postgres.start()
        redis.start()
        try:
            with otlp_receiver(project) as endpoint:
                env = production_environment(
                    database=postgres.url,
                    redis=redis.url,
                    public_key=credentials["public_pem"],
                    otlp_endpoint=endpoint,
                )
                run([python, "-m", PACKAGE, "migrate"], cwd=project, env=env)
                side = ServiceSide("seed", project, project / ".venv/bin/python", env, workdir)
                service = side.start("seed")
                try:
                    payloads = seed(service, credentials)
                finally:
                    service.stop()
                path, payload = endpoint_path(args.endpoint, payloads)
                (workdir / "payload.json").write_text(json.dumps(payload))
                arguments = [
                    path,
                    credentials["read"],
                    str(workdir / "payload.json"),
                    str(args.requests),
                ]
                # Each configuration: the project it runs in, and its changes to the environment.
                configurations = {
                    name: (project, changes) for name, changes in CONFIGURATIONS.items()
                }
                if args.before is not None:
                    configurations[BEFORE] = (args.before.resolve(), {})
                results: dict[str, list[dict[str, float]]] = {name: [] for name in configurations}
                for round_number in range(args.rounds):
                    for name, (where, changes) in configurations.items():
                        profile = profile_path(args.profile, name)
                        results[name].append(
                            measure(where, driver, {**env, **changes, **profile}, arguments)
                        )
                    print(f"  round {round_number + 1}/{args.rounds} done", flush=True)
        finally:
            redis.destroy()
            postgres.destroy()
    print_table(results, args.rounds, args.endpoint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
