"""Benchmark: the cost of the standards, side by side in one run with what sets the scale.

A generated service (the defaults project) runs as in production: APP_ENV=production on
PostgreSQL and Redis, JWTs verified against a key pair made for the run, rate limiting on (with
limits too high to throttle), metrics, every request traced and exported to a loopback OTLP
receiver (the documented default sampler), JSON logs at INFO. Beside it, in the same run, on
the same uvicorn (uvloop and httptools) and the project's runtime dependencies only:

- the floor: bare FastAPI plus the one redis-py GET a read through a shared cache needs, and
  nothing else; the cached GET's target is set against it;
- bare FastAPI returning the same payloads;
- the service with 10% of traces sampled (the documented alternative to the default sampler),
  for the cached GET;
- with `--before PROJECT`, another generated service (an earlier chassis, say), on a database of
  its own: a before-and-after comparison from one sitting;
- with `--peer PATH`, fastapi/full-stack-fastapi-template's backend (`benchmarks/peer.py`), as
  its Dockerfile runs it with one worker, on a PostgreSQL of its own, signed in as its API
  requires, on its equivalent endpoints (one item, the list).

wrk drives them on loopback, one app at a time, in alternating order, for three endpoints: an
authenticated, cached GET of one item, an authenticated list (one full page) and
`/health/live`. Then: what each side does per request (counted where it can be), start-up to
readiness (production settings, the median of five), resident memory after the load,
`copier copy --defaults` time (rendering only), with `--image` the image: its size and its
start-up to readiness in a read-only container (benchmarks/image_figures.py), and with
`--suite` the project's own test suite (benchmarks/own_suite.py). Each figure
is printed beside its target with PASS or MISS, with the machine's load before and after; it
is a benchmark, not a test: it fails nothing.

Run it from the template repository:
`uv run python benchmarks/standards_cost.py [--rounds N] [--duration S] [--project PATH]
[--before PATH] [--peer PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# `python benchmarks/standards_cost.py` puts benchmarks/ first on sys.path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import peer as peer_side
from benchmarks.image_figures import ImageFigures, ImageSide, measure_images
from benchmarks.own_suite import OwnSuite, describe, time_own_suite
from benchmarks.startup import time_generation
from tests.support.commands import (
    pin_python_for_generated_projects,
    run,
    uv_executable,
)
from tests.support.projects import synced_defaults
from tests.support.servers import PostgresServer, RedisServer
from tests.support.service import RunningService, start

PACKAGE = "acme_orders"
ISSUER = "https://issuer.bench.invalid"
AUDIENCE = "acme-orders-bench"
UNLIMITED = "100000000/minute"
ITEMS = 20  # one full default page for the list
# The documented alternative to the default sampler (docs/observability.md of a service).
SAMPLED = "gen. 10%"
SAMPLED_ENV = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
GENERATED = "generated"
BARE = "bare"
# Bare FastAPI plus the one Redis read a shared cache needs: the least any cached GET can cost.
FLOOR = "floor"
BEFORE = "before"
PEER = "peer"

# The endpoints, by the name each app serves them under.
ITEM, LIST, LIVE = "item", "list", "live"
ENDPOINT_TITLES = {
    ITEM: "authenticated cached GET /v1/items/{id}",
    LIST: "authenticated list /v1/items",
    LIVE: "/health/live",
}

# The targets of issue 18.
FLOOR_THROUGHPUT_TARGET = 0.35  # the cached GET: >= 0.35 of the floor's req/s ...
FLOOR_P99_TARGET = 3.0  # ... and a p99 <= 3x the floor's
PEER_TARGET = 4.0  # >= 4x the peer's req/s on its equivalent endpoints
STARTUP_TARGET_SECONDS = 1.0
RSS_TARGET_MB = 150.0
IMAGE_TARGET_MB = 100.0
# Sequential requests per endpoint for the count of what each does per request, after a
# warm-up: the rate limiter's leases start at one token in a fresh process and double each time
# one is spent in time, so its first requests renew them more often than it ever will again.
CENSUS_WARM_UP = 200
CENSUS_REQUESTS = 100

# Printed by wrk's done() callback: one line a run, latencies in microseconds.
WRK_SCRIPT = textwrap.dedent(
    """
    done = function(summary, latency, requests)
      local errors = summary.errors
      io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d non2xx=%d socket=%d\\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(95), latency:percentile(99),
        errors.status, errors.connect + errors.read + errors.write + errors.timeout))
    end
    """
)

# Run in the generated project's venv: a key pair, its public half and tokens.
CREDENTIALS = textwrap.dedent(
    f"""
    import json
    try:
        from goldenpath_chassis._core.security.dev_keys import generate_signing_key
    except ImportError:  # a service generated before 0.4.0
        from {PACKAGE}.core.security.dev_keys import generate_signing_key

    key = generate_signing_key()
    mint = lambda *scopes: key.mint(
        subject="bench", scopes=scopes, issuer="{ISSUER}", audience="{AUDIENCE}",
        ttl_seconds=24 * 3600,
    )
    print(json.dumps({{
        "public_pem": key.public_pem,
        "read": mint("items:read"),
        "write": mint("items:read", "items:write"),
        "metrics": mint("metrics:read"),
    }}))
    """
)

# Run in the generated project's venv: an OTLP/HTTP sink, until stdin closes. It answers each
# export at once and keeps its body; the spans are decoded and counted only at the end, so the
# sink takes as little CPU from the machine as a collector elsewhere would.
RECEIVER = textwrap.dedent(
    """
    import asyncio, sys, threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    bodies = []
    OK = (
        b"HTTP/1.1 200 OK\\r\\nContent-Type: application/x-protobuf\\r\\n"
        b"Content-Length: 0\\r\\n\\r\\n"
    )

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                length = 0
                for line in head.split(b"\\r\\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                bodies.append(await reader.readexactly(length))
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"http://127.0.0.1:{port}", flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)), daemon=True
        ).start()
        await done.wait()
        server.close()

    asyncio.run(main())
    spans = 0
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        spans += sum(
            len(scope.spans) for resource in request.resource_spans
            for scope in resource.scope_spans
        )
    print(f"{spans} spans in {len(bodies)} exports", flush=True)
    """
)

# Run in the generated project's venv: the same payloads from FastAPI alone, on the same uvicorn
# configuration the service's server.py uses (uvloop and httptools picked the same way).
# With REDIS_URL set it is the floor: the item route reads the item's JSON from Redis
# (redis-py as the service configures it) and returns those bytes, nothing else: no
# authentication, decoding, validation, tracing, metrics or logs. The least a read through a
# cache shared by replicas (PERF-1) can cost, so the cached GET's target can be set against it.
BARE_APP = textwrap.dedent(
    """
    import json, os, sys
    from contextlib import asynccontextmanager
    from typing import Any

    import uvicorn
    from fastapi import FastAPI, Response

    payloads = json.loads(open(sys.argv[1]).read())
    FLOOR = bool(os.environ.get("REDIS_URL"))
    if FLOOR:
        from redis.asyncio import Redis

        redis = Redis.from_url(
            os.environ["REDIS_URL"], socket_connect_timeout=0.5, socket_timeout=0.5,
            health_check_interval=30,
        )
    KEY = "bench:floor:item"

    @asynccontextmanager
    async def lifespan(app):
        if not FLOOR:
            yield
            return
        await redis.set(KEY, json.dumps(payloads["item"]).encode())
        yield
        await redis.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/live")
    async def live() -> dict[str, Any]:
        return payloads["live"]

    @app.get("/health/ready")
    async def ready() -> dict[str, Any]:
        return payloads["live"]

    @app.get("/v1/items")
    async def items() -> dict[str, Any]:
        return payloads["list"]

    if FLOOR:
        @app.get("/v1/items/{item_id}")
        async def item(item_id: str) -> Response:
            return Response(await redis.get(KEY), media_type="application/json")
    else:
        @app.get("/v1/items/{item_id}")
        async def item(item_id: str) -> dict[str, Any]:
            return payloads["item"]

    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None,
        access_log=False, server_header=False, lifespan="on",
    )
    """
)


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # The server's CPU time per request (user + system, every thread, its child processes too):
    # steadier than requests/s on a shared machine, where throughput also depends on how much
    # CPU the process was given.
    cpu_ms: float


@dataclass(frozen=True)
class Endpoint:
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class App:
    """One process under load: how to start it, and the endpoints it serves, by name."""

    label: str
    start: Callable[[str], RunningService]
    endpoints: Mapping[str, Endpoint]


def descendants(pid: int) -> list[int]:
    """The processes a process started, and theirs (Linux: /proc/<pid>/task/*/children); a
    helper process a service spawns costs CPU and memory like the service itself."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the task ended meanwhile
            continue
        for child in children:
            found.append(child)
            with suppress(OSError):  # it ended meanwhile
                found += descendants(child)
    return found


def _own_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime, stime, and cutime, cstime: the CPU of children that have ended and been waited for.
    return sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its descendants so far (Linux: /proc)."""
    total = _own_cpu_seconds(pid)
    for child in descendants(pid):
        # One that ended meanwhile: its CPU is in its parent's cutime and cstime once waited for.
        with suppress(OSError):
            total += _own_cpu_seconds(child)
    return total


def wrk(
    service: RunningService,
    endpoint: Endpoint,
    *,
    script: Path,
    duration: float,
    connections: int,
) -> WrkResult:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "5s",
        "-s", str(script),
    ]  # fmt: skip
    for name, value in endpoint.headers.items():
        command += ["-H", f"{name}: {value}"]
    url = service.base_url + endpoint.path
    cpu_before = cpu_seconds(service.process.pid)
    output = run([*command, url], cwd=script.parent).stdout
    cpu = cpu_seconds(service.process.pid) - cpu_before
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    fields = {key: int(value) for key, value in (part.split("=") for part in line.split()[1:])}
    if fields["non2xx"] or fields["socket"]:
        state = "running" if service.process.poll() is None else f"exited {service.process.poll()}"
        raise RuntimeError(
            f"wrk saw errors against {url} (server {state}): {line}\n"
            f"last lines of its output:\n{service.output()[-3000:]}"
        )
    return WrkResult(
        requests_per_second=fields["requests"] / (fields["duration_us"] / 1e6),
        p50_ms=fields["p50_us"] / 1000,
        p95_ms=fields["p95_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        cpu_ms=cpu / fields["requests"] * 1000,
    )


def median_result(results: Sequence[WrkResult]) -> WrkResult:
    return WrkResult(
        requests_per_second=statistics.median(r.requests_per_second for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p95_ms=statistics.median(r.p95_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        cpu_ms=statistics.median(r.cpu_ms for r in results),
    )


def _own_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (what a pod's limit holds them to)."""
    total = _own_rss_mb(pid)
    for child in descendants(pid):
        with suppress(OSError, RuntimeError):  # it ended meanwhile, or is ending (no VmRSS)
            total += _own_rss_mb(child)
    return total


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    busy = " (busy: other work shares the cores)" if five > cores * 0.5 else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cores} cores{busy}"


@contextmanager
def otlp_receiver(project: Path) -> Iterator[str]:
    """The generated project's OTLP receiver in its own process; yields the endpoint."""
    process = subprocess.Popen(
        [str(project / ".venv/bin/python"), "-c", RECEIVER],
        cwd=project,
        env=os.environ | {"PYTHONPATH": str(project)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        summary = process.stdout.read().strip()
        process.wait(timeout=30)
        print(f"OTLP receiver: {summary}")


def runtime_environment(project: Path, venv: Path) -> Path:
    """The project's runtime dependencies only, compiled to bytecode, as the image has them;
    returns its python.

    The project's own `.venv` also holds the development tools, and some change what the service
    imports (schemathesis brings rich, which structlog then loads at start-up).
    """
    run(
        [uv_executable(), "sync", "--locked", "--no-dev", "--compile-bytecode", "--quiet"],
        cwd=project,
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    return venv / "bin" / "python"


@dataclass
class ServiceSide:
    """A generated service: its project, its runtime environment and its production settings."""

    label: str
    project: Path
    python: Path
    env: dict[str, str]
    workdir: Path

    def start(self, label: str, extra: Mapping[str, str] | None = None) -> RunningService:
        return start(
            self.project,
            ["-m", PACKAGE],
            env=self.env | dict(extra or {}),
            log_path=self.workdir / f"{label}.log",
            wait_path="/health/ready",
            python=self.python,
            log_through_pipe=True,
        )


def start_bare(
    workdir: Path, python: Path, project: Path, label: str, redis: str | None = None
) -> RunningService:
    """Bare FastAPI (or, given Redis, the floor) on the generated service's environment."""
    return start(
        project,
        [str(workdir / "bare.py"), str(workdir / "payloads.json")],
        env={"REDIS_URL": redis} if redis else {},
        log_path=workdir / f"{label}.log",
        wait_path="/health/ready",
        python=python,
        log_through_pipe=True,
    )


def seed(service: RunningService, credentials: Mapping[str, str]) -> dict[str, object]:
    """Create a page of items through the API; return the payloads the bare app will serve."""
    writer = {"Authorization": f"Bearer {credentials['write']}"}
    reader = {"Authorization": f"Bearer {credentials['read']}"}
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        ids = []
        for number in range(ITEMS):
            response = client.post(
                "/v1/items",
                json={
                    "name": f"Benchmark widget {number}",
                    "description": "A widget, <em>in blue</em>.",
                    "price_cents": 1999 + number,
                },
                headers=writer,
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        item = client.get(f"/v1/items/{ids[0]}", headers=reader)
        item.raise_for_status()
        listing = client.get("/v1/items", headers=reader)
        listing.raise_for_status()
        live = client.get("/health/live")
        live.raise_for_status()
    return {"item": item.json(), "list": listing.json(), "live": live.json(), "id": ids[0]}


def service_endpoints(item_id: object, credentials: Mapping[str, str]) -> dict[str, Endpoint]:
    bearer = {"Authorization": f"Bearer {credentials['read']}"}
    return {
        ITEM: Endpoint(f"/v1/items/{item_id}", bearer),
        LIST: Endpoint("/v1/items", bearer),
        LIVE: Endpoint("/health/live"),
    }


def measure_load(
    apps: Sequence[App], workdir: Path, *, rounds: int, duration: float, connections: int
) -> tuple[dict[str, dict[str, list[WrkResult]]], dict[str, list[float]]]:
    """Each endpoint, app after app in alternating order, `rounds` times; and the RSS after each
    round. Every app runs for the whole measurement, so all share the machine alike."""
    script = workdir / "report.lua"
    script.write_text(WRK_SCRIPT)
    results: dict[str, dict[str, list[WrkResult]]] = {name: {} for name in ENDPOINT_TITLES}
    rss: dict[str, list[float]] = {}
    services: dict[str, RunningService] = {}
    try:
        for app in apps:
            services[app.label] = app.start(f"load-{app.label}")

        def serving(name: str, round_number: int) -> list[App]:
            found = [app for app in apps if name in app.endpoints]
            return found if round_number % 2 == 0 else found[::-1]

        for name in ENDPOINT_TITLES:  # warm-up: lazy imports, caches, pools, leases
            for app in serving(name, 0):
                wrk(
                    services[app.label],
                    app.endpoints[name],
                    script=script,
                    duration=min(duration, 3),
                    connections=connections,
                )
        for round_number in range(rounds):
            for name in ENDPOINT_TITLES:
                for app in serving(name, round_number):
                    results[name].setdefault(app.label, []).append(
                        wrk(
                            services[app.label],
                            app.endpoints[name],
                            script=script,
                            duration=duration,
                            connections=connections,
                        )
                    )
            for label, service in services.items():
                rss.setdefault(label, []).append(rss_mb(service.process.pid))
            print(f"  round {round_number + 1}/{rounds} done", flush=True)
    finally:
        for service in services.values():
            service.stop()
    return results, rss


def redis_commands(port: int) -> int:
    """Commands Redis has answered, but for PING (the near cache's listener pings on a clock,
    not per request) and INFO (this count's own). One inline command, read as RESP: the
    template repository's environment has no Redis client."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"INFO commandstats\r\n")
        reader = connection.makefile("rb")
        size = int(reader.readline()[1:])
        text = reader.read(size).decode()
    calls = 0
    for line in text.splitlines():
        name, _, values = line.partition(":")
        if name.startswith("cmdstat_") and name not in {"cmdstat_ping", "cmdstat_info"}:
            calls += int(values.split(",")[0].removeprefix("calls="))
    return calls


def sql_statements(service: RunningService, token: str) -> float:
    """Statements the service has run, from its own metrics (`/metrics`, OBS-1)."""
    response = httpx.get(
        service.base_url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    return sum(
        float(line.rpartition(" ")[2])
        for line in response.text.splitlines()
        if line.startswith("db_client_operation_duration_seconds_count")
    )


@dataclass(frozen=True)
class Census:
    redis_commands: float | None
    sql_statements: float | None
    log_lines: float


def census(
    app: App, workdir: Path, *, redis_port: int, metrics_token: str | None
) -> dict[str, Census]:
    """What one request to each endpoint costs the app in round trips and log lines, counted
    over `CENSUS_REQUESTS` sequential requests after `CENSUS_WARM_UP` (the app alone on the
    machine's Redis)."""
    service = app.start(f"census-{app.label}")
    counted: dict[str, Census] = {}
    try:
        with httpx.Client(base_url=service.base_url, timeout=30) as client:
            for name, endpoint in app.endpoints.items():
                for _ in range(CENSUS_WARM_UP):
                    client.get(endpoint.path, headers=dict(endpoint.headers)).raise_for_status()
                lines = service.output().count("\n")
                commands = redis_commands(redis_port)
                statements = sql_statements(service, metrics_token) if metrics_token else None
                for _ in range(CENSUS_REQUESTS):
                    client.get(endpoint.path, headers=dict(endpoint.headers)).raise_for_status()
                per = 1 / CENSUS_REQUESTS
                counted[name] = Census(
                    redis_commands=(redis_commands(redis_port) - commands) * per
                    if app.label != PEER
                    else None,
                    sql_statements=(sql_statements(service, metrics_token) - statements) * per
                    if metrics_token and statements is not None
                    else None,
                    log_lines=(service.output().count("\n") - lines) * per,
                )
    finally:
        service.stop()
    return counted


def measure_startup(apps: Sequence[App], runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {app.label: [] for app in apps}
    for index in range(runs):
        for app in apps:
            service = app.start(f"startup-{app.label}-{index}")
            timings[app.label].append(time.perf_counter() - service.started_at)
            service.stop()
    return timings


def _row(name: str, label: str, result: WrkResult) -> str:
    return (
        f"{name:<42} {label:<10} {result.requests_per_second:8.0f} {result.p50_ms:8.2f}"
        f" {result.p95_ms:8.2f} {result.p99_ms:8.2f} {result.cpu_ms:11.3f}"
    )


def _ratio(label: str, result: WrkResult, reference: WrkResult) -> str:
    return (
        f"{'':<42} {label:<10} {result.requests_per_second / reference.requests_per_second:7.2f}x"
        f" {result.p50_ms / reference.p50_ms:7.2f}x {result.p95_ms / reference.p95_ms:7.2f}x"
        f" {result.p99_ms / reference.p99_ms:7.2f}x {result.cpu_ms / reference.cpu_ms:10.2f}x"
    )


def floor_verdicts(
    runs: Mapping[str, Sequence[WrkResult]],
    medians: Mapping[str, WrkResult],
    verdicts: dict[str, bool],
) -> None:
    """The cached GET against the floor, for each sampler setting measured; the p99 ratio of
    each round too (the two sides ran in the same round), which says how near its target the
    median's verdict is."""
    floor = medians.get(FLOOR)
    if floor is None:
        return
    for label, setting in ((GENERATED, "every request traced (the default)"),
                           (SAMPLED, "10% of traces sampled")):  # fmt: skip
        result = medians.get(label)
        if result is None:
            continue
        share = result.requests_per_second / floor.requests_per_second
        p99 = result.p99_ms / floor.p99_ms
        verdicts[f"cached GET vs floor, {setting}: throughput"] = share >= FLOOR_THROUGHPUT_TARGET
        verdicts[f"cached GET vs floor, {setting}: p99"] = p99 <= FLOOR_P99_TARGET
        each = " ".join(
            f"{own.p99_ms / reference.p99_ms:.2f}x"
            for own, reference in zip(runs[label], runs[FLOOR], strict=True)
        )
        print(
            f"  target, {setting}: >= {FLOOR_THROUGHPUT_TARGET:.2f} of the floor's req/s: "
            f"{share:.2f} {verdict(share >= FLOOR_THROUGHPUT_TARGET)}; p99 <= "
            f"{FLOOR_P99_TARGET:g}x the floor's: {p99:.2f}x {verdict(p99 <= FLOOR_P99_TARGET)} "
            f"(each round: {each})"
        )


def peer_verdict(name: str, medians: Mapping[str, WrkResult], verdicts: dict[str, bool]) -> None:
    peer, generated = medians.get(PEER), medians.get(GENERATED)
    if generated is None:
        return
    if peer is None:
        print(
            f"  target: >= {PEER_TARGET:g}x the peer's req/s: not measured in this run "
            f"(`--peer PATH`, a clone of {peer_side.PEER_REPOSITORY})"
        )
        return
    times = generated.requests_per_second / peer.requests_per_second
    verdicts[f"{name} vs the peer"] = times >= PEER_TARGET
    print(
        f"  target: >= {PEER_TARGET:g}x the peer's req/s: {times:.2f}x "
        f"{verdict(times >= PEER_TARGET)} (CPU a request: {peer.cpu_ms / generated.cpu_ms:.2f}x "
        "less than the peer's)"
    )


def print_load(
    results: Mapping[str, Mapping[str, Sequence[WrkResult]]], rounds: int
) -> dict[str, bool]:
    print(
        f"\nLoad: wrk on loopback, medians of {rounds} alternating runs; under each endpoint, "
        "the generated service over each other app"
    )
    header = (
        f"{'endpoint':<42} {'app':<10} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'CPU ms/req':>11}"
    )
    print(header)
    print("-" * len(header))
    verdicts: dict[str, bool] = {}
    for name, by_label in results.items():
        medians = {label: median_result(runs) for label, runs in by_label.items()}
        title = ENDPOINT_TITLES[name]
        for label, result in medians.items():
            print(_row(title, label, result))
        generated = medians.get(GENERATED)
        if generated is None:
            continue
        for label, result in medians.items():
            if label != GENERATED:
                print(_ratio(f"/{label}", generated, result))
        if name == ITEM:
            floor_verdicts(by_label, medians, verdicts)
        if name in {ITEM, LIST}:
            peer_verdict(title, medians, verdicts)
    return verdicts


def print_census(counted: Mapping[str, Mapping[str, Census]], with_peer: bool) -> None:
    print(
        f"\nWhat each request does, counted over {CENSUS_REQUESTS} sequential requests after "
        f"{CENSUS_WARM_UP} (Redis: commands answered; SQL: statements, from the service's own "
        "metrics)"
    )
    for label, by_endpoint in counted.items():
        for name, found in by_endpoint.items():
            redis = "-" if found.redis_commands is None else f"{found.redis_commands:.2f}"
            sql = "-" if found.sql_statements is None else f"{found.sql_statements:.2f}"
            print(
                f"  {ENDPOINT_TITLES[name]:<42} {label:<10} Redis {redis:>5}  SQL {sql:>5}  "
                f"log lines {found.log_lines:.2f}"
            )
    if with_peer:
        print(f"\n  {'per request':<16} {'generated (production settings)':<62} peer")
        for concern, ours, theirs in peer_side.PER_REQUEST:
            print(f"  {concern:<16} {ours:<62} {theirs}")


def print_process(
    startup: Mapping[str, Sequence[float]],
    rss: Mapping[str, Sequence[float]],
    generation: Sequence[float],
    images: Mapping[str, ImageFigures],
    verdicts: dict[str, bool],
    *,
    suite: OwnSuite | None,
) -> None:
    """The process and project figures beside their targets."""
    print("\nProcess and project")
    startup_s = statistics.median(startup[GENERATED])
    verdicts["start-up"] = startup_s < STARTUP_TARGET_SECONDS
    others = ", ".join(
        f"{label} {statistics.median(values):.2f} s" for label, values in startup.items()
        if label != GENERATED
    )  # fmt: skip
    print(
        f"start-up to /health/ready 200       {startup_s:6.2f} s   ({others}; medians of "
        f"{len(startup[GENERATED])}, production settings, tracing configured)"
        f"   target < {STARTUP_TARGET_SECONDS:g} s: {verdict(verdicts['start-up'])}"
    )
    memory = max(rss[GENERATED])  # the highest reading, taken after each round of load
    verdicts["RSS"] = memory < RSS_TARGET_MB
    print(
        f"RSS after warm-up and load          {memory:6.1f} MB  (bare FastAPI "
        f"{max(rss[BARE]):.1f} MB)   target < {RSS_TARGET_MB:g} MB: {verdict(verdicts['RSS'])}"
    )
    image = images[GENERATED]
    others = "".join(
        f"; {label} {figures.size_mb:.1f} MB" for label, figures in images.items()
        if label != GENERATED and figures.size_mb is not None
    )  # fmt: skip
    if image.size_mb is None:
        print(f"image size                          {image.note}   target < {IMAGE_TARGET_MB:g} MB")
    else:
        verdicts["image"] = image.size_mb < IMAGE_TARGET_MB
        print(
            f"image size                          {image.size_mb:6.1f} MB  ({image.note}{others})"
            f"   target < {IMAGE_TARGET_MB:g} MB: {verdict(verdicts['image'])}"
        )
    if image.median_to_ready is not None:
        verdicts["start-up in the image"] = image.median_to_ready < STARTUP_TARGET_SECONDS
        others = "".join(
            f"; {label} {figures.median_to_ready:.2f} s" for label, figures in images.items()
            if label != GENERATED and figures.median_to_ready is not None
        )  # fmt: skip
        print(
            f"start-up in the image               {image.median_to_ready:6.2f} s   (the "
            f"container's process start to /health/ready 200, median of {len(image.to_ready)}, "
            f"read-only, the same settings{others})   target < {STARTUP_TARGET_SECONDS:g} s: "
            f"{verdict(verdicts['start-up in the image'])}"
        )
    line, suite_passed = describe(suite)
    print(line)
    if suite_passed is not None:
        verdicts["the project's own test suite"] = suite_passed
    print(
        f"copier copy --defaults (no tasks)   {statistics.median(generation):6.2f} s   "
        f"(median of {len(generation)}, min {min(generation):.2f} s; no `uv lock`, no install)"
    )


def production_environment(
    *, database: str, redis: str, public_key: str, otlp_endpoint: str
) -> dict[str, str]:
    """What a production deployment sets; every variable the service refuses to start without."""
    return {
        "APP_ENV": "production",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "AUTH_JWT_ISSUER": ISSUER,
        "AUTH_JWT_AUDIENCE": AUDIENCE,
        "AUTH_JWT_PUBLIC_KEY": public_key,
        "AUTH_SESSION_SECRET": "bench-" + "s" * 40,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_PER_IP": UNLIMITED,
        "RATE_LIMIT_PER_PRINCIPAL": UNLIMITED,
        # The documented default sampler applies: parent-based, always on.
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
    }


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating wrk runs per endpoint")
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--project", type=Path, help="an already generated, synced project")
    parser.add_argument(
        "--before",
        type=Path,
        help="another generated, synced project (an earlier chassis) to run beside it",
    )
    parser.add_argument(
        "--peer",
        type=Path,
        help="a checkout of fastapi/full-stack-fastapi-template to run beside it "
        f"(`git clone {peer_side.PEER_REPOSITORY}`)",
    )
    parser.add_argument(
        "--peer-online",
        action="store_true",
        help="let uv download the peer's dependencies (once; later runs read its cache)",
    )
    parser.add_argument("--image", action="store_true", help="build the image (minutes)")
    parser.add_argument(
        "--no-sampled",
        action="store_true",
        help="skip the extra run of the service with 10%% of traces sampled",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor: bare FastAPI plus one Redis GET, for the cached GET",
    )
    parser.add_argument("--no-census", action="store_true", help="skip the per-request counts")
    parser.add_argument(
        "--suite",
        action="store_true",
        help="time the project's own test suite (`uv run pytest` twice, about two minutes)",
    )
    return parser.parse_args()


def prepare_service(
    label: str,
    project: Path,
    *,
    workdir: Path,
    postgres: PostgresServer,
    env_for: Callable[[str], dict[str, str]],
    credentials: Mapping[str, str],
) -> tuple[ServiceSide, dict[str, object]]:
    """A generated service on a database of its own, migrated and seeded through its API."""
    database = postgres.url if label == GENERATED else postgres.create_database(label)
    env = env_for(database)
    run([str(project / ".venv/bin/python"), "-m", PACKAGE, "migrate"], cwd=project, env=env)
    python = runtime_environment(project, workdir / f"runtime-venv-{label}")
    side = ServiceSide(label, project, python, env, workdir)
    service = side.start(f"seed-{label}")
    try:
        payloads = seed(service, credentials)
    finally:
        service.stop()
    return side, payloads


def prepare_peer(args: argparse.Namespace, workdir: Path, postgres: PostgresServer) -> App | None:
    print("peer ...", flush=True)
    try:
        prepared = peer_side.prepare(args.peer, workdir, online=args.peer_online)
    except peer_side.PeerUnavailableError as error:
        print(f"\n{'!' * 80}\nTHE PEER DID NOT RUN: {error}\n{'!' * 80}\n")
        return None
    database = postgres.create_database("peer").replace("postgresql+asyncpg://", "postgresql://")
    env = peer_side.environment(database)
    peer_side.migrate(prepared, env)
    service = peer_side.start_peer(prepared, env, log_path=workdir / "seed-peer.log")
    try:
        seeded = peer_side.seed(service, ITEMS)
    finally:
        service.stop()
    print("The peer, fastapi/full-stack-fastapi-template's backend:")
    for note in prepared.notes:
        print(f"  - {note}")
    print(f"  - {seeded.items} items of one (non-superuser) user, signed in with its password")
    bearer = {"Authorization": f"Bearer {seeded.token}"}
    return App(
        PEER,
        lambda label: peer_side.start_peer(prepared, env, log_path=workdir / f"{label}.log"),
        {
            ITEM: Endpoint(f"{peer_side.API}/items/{seeded.item_id}", bearer),
            LIST: Endpoint(f"{peer_side.API}/items/", bearer),
        },
    )


def main() -> int:  # noqa: PLR0912, PLR0915 - one sitting, in order
    args = parse_arguments()
    if shutil.which("wrk") is None:
        print("wrk is needed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`")
        return 1
    pin_python_for_generated_projects()
    print(f"machine: {machine_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="goldenpath-bench-") as tmp:
        workdir = Path(tmp)
        print("copier copy --defaults ...", flush=True)
        generation = time_generation(workdir, args.generations)
        project = args.project or synced_defaults(workdir / "project")
        python = str(project / ".venv/bin/python")
        credentials = json.loads(run([python, "-c", CREDENTIALS], cwd=project).stdout)
        (workdir / "bare.py").write_text(BARE_APP)
        postgres = PostgresServer.create()
        redis = RedisServer.create()
        postgres.start()
        redis.start()
        try:
            with otlp_receiver(project) as endpoint:

                def env_for(database: str) -> dict[str, str]:
                    return production_environment(
                        database=database,
                        redis=redis.url,
                        public_key=credentials["public_pem"],
                        otlp_endpoint=endpoint,
                    )

                sides = [(GENERATED, project)] + ([(BEFORE, args.before)] if args.before else [])
                apps: list[App] = []
                payloads: dict[str, object] = {}
                generated: ServiceSide | None = None
                before: ServiceSide | None = None
                for label, side_project in sides:
                    side, seeded = prepare_service(
                        label,
                        side_project,
                        workdir=workdir,
                        postgres=postgres,
                        env_for=env_for,
                        credentials=credentials,
                    )
                    endpoints = service_endpoints(seeded["id"], credentials)
                    apps.append(App(label, side.start, endpoints))
                    if label == GENERATED:
                        generated, payloads = side, seeded
                    else:
                        before = side
                assert generated is not None
                (workdir / "payloads.json").write_text(json.dumps(payloads))
                item_only = {ITEM: apps[0].endpoints[ITEM]}
                if not args.no_sampled:
                    apps.append(
                        App(SAMPLED, lambda label: generated.start(label, SAMPLED_ENV), item_only)
                    )
                bare_endpoints = service_endpoints(payloads["id"], credentials)
                apps.append(
                    App(
                        BARE,
                        lambda label: start_bare(workdir, generated.python, project, label),
                        bare_endpoints,
                    )
                )
                if not args.no_floor:
                    apps.append(
                        App(
                            FLOOR,
                            lambda label: start_bare(
                                workdir, generated.python, project, label, redis.url
                            ),
                            {ITEM: bare_endpoints[ITEM]},
                        )
                    )
                if args.peer is not None:
                    peer = prepare_peer(args, workdir, postgres)
                    if peer is not None:
                        apps.append(peer)
                print("start-up ...", flush=True)
                startup = measure_startup(
                    [app for app in apps if app.label in {GENERATED, BEFORE, BARE}],
                    args.startups,
                )
                counted: dict[str, dict[str, Census]] = {}
                if not args.no_census:
                    print("per-request counts ...", flush=True)
                    for app in apps:
                        if app.label in {GENERATED, BEFORE, PEER}:
                            counted[app.label] = census(
                                app,
                                workdir,
                                redis_port=redis.port,
                                metrics_token=credentials["metrics"] if app.label != PEER else None,
                            )
                print("load ...", flush=True)
                results, rss = measure_load(
                    apps,
                    workdir,
                    rounds=args.rounds,
                    duration=args.duration,
                    connections=args.connections,
                )
                # While PostgreSQL, Redis and the OTLP receiver still run: its start-ups need them.
                image_sides = {GENERATED: ImageSide(project, generated.env)} | (
                    {BEFORE: ImageSide(args.before, before.env)} if before is not None else {}
                )
                images = measure_images(args.image, image_sides, PACKAGE, args.startups)
        finally:
            redis.destroy()
            postgres.destroy()
        # After the load, and with the benchmark's servers gone: the suite starts its own.
        suite = None
        if args.suite:
            print("the project's own test suite ...", flush=True)
            suite = time_own_suite(project)
        verdicts = print_load(results, args.rounds)
        if counted:
            print_census(counted, with_peer=PEER in counted)

    print_process(startup, rss, generation, images, verdicts, suite=suite)
    print(f"\nmachine: {machine_load()}")
    summary = ", ".join(f"{name} {verdict(passed)}" for name, passed in verdicts.items())
    print(f"\nSummary: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
