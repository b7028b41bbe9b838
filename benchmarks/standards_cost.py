"""Benchmark: the cost of the standards, against a bare FastAPI service in the same run.

A generated service (the defaults project) runs as in production: APP_ENV=production on
PostgreSQL and Redis, JWTs verified against a key pair made for the run, rate limiting on (with
limits too high to throttle), metrics, tracing exported to a loopback OTLP receiver with the
documented default sampling, JSON logs at INFO. Beside it, a bare FastAPI app on the same uvicorn
(same venv, uvloop and httptools) returns the same payloads with nothing else. wrk drives both
on loopback, runs alternating (generated, bare, generated, bare...), medians reported, for:

- an authenticated, cached GET of one item (`/v1/items/{id}`, bearer token with items:read);
- an authenticated list (`/v1/items`, one full page);
- `/health/live`.

For the cached GET, a third app sets the scale: the floor, bare FastAPI plus the one redis-py
GET a read through a shared cache needs, and nothing else (`--no-floor` skips it).

It also measures start-up to `/health/ready` 200 (production settings), resident memory after
the load, `copier copy --defaults` time (rendering only: no `uv lock`, no install) and reads the
image size if an image was built (`--image` builds one, slowly). Each figure is printed beside
its target with PASS or MISS. It is a benchmark, not a test: it fails nothing.

Run it from the template repository:
`uv run python benchmarks/standards_cost.py [--rounds N] [--duration S] [--project PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# `python benchmarks/standards_cost.py` puts benchmarks/ first on sys.path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.startup import time_generation
from tests.support.commands import (
    pin_python_for_generated_projects,
    run,
    uv_executable,
)
from tests.support.projects import DEFAULTS, generate
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
# Bare FastAPI plus the one Redis read a shared cache needs: the least any cached GET can cost.
FLOOR = "floor"
# Apps that run the first endpoint (the cached GET) only.
CACHED_GET_ONLY = (SAMPLED, FLOOR)

# The targets of issue 10.
THROUGHPUT_SHARE_TARGET = 0.60  # authenticated cached GET: >= 60% of bare req/s
P99_RATIO_TARGET = 2.0  # ... and <= 2x bare p99
STARTUP_TARGET_SECONDS = 2.0
RSS_TARGET_MB = 150.0
IMAGE_TARGET_MB = 120.0

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

# Run in the generated project's venv: a key pair, its public half and two tokens.
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
    }}))
    """
)

# Run in the generated project's venv: the OTLP/HTTP receiver of its own tests, until stdin closes.
RECEIVER = textwrap.dedent(
    """
    import sys
    try:
        from goldenpath_chassis.testing.otlp import otlp_receiver
    except ImportError:  # a service generated before 0.4.0
        from tests.support.otlp import otlp_receiver

    with otlp_receiver() as receiver:
        print(receiver.endpoint, flush=True)
        sys.stdin.read()
        print(f"{len(receiver.received())} spans in {receiver.requests} exports", flush=True)
    """
)

# Run in the generated project's venv: the same payloads from FastAPI alone, on the same uvicorn
# configuration the service's server.py uses (uvloop and httptools picked the same way).
# With REDIS_URL set it is the floor: the item route reads the item's JSON from Redis
# (redis-py as the service configures it) and returns those bytes, nothing else: no
# authentication, decoding, validation, tracing, metrics or logs. The least a read through a
# cache shared by replicas (PERF-1) can cost, so the cached GET's target can be set against it.
BARE = textwrap.dedent(
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
    # The server process's own CPU time (user + system) per request: steadier than req/s on a
    # shared machine, where throughput also depends on how much CPU the process was given.
    cpu_ms: float


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    headers: Mapping[str, str]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


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


def runtime_environment(project: Path, workdir: Path) -> Path:
    """The project's runtime dependencies only, as the image has them; returns its python.

    The project's own `.venv` also holds the development tools, and some change what the service
    imports (schemathesis brings rich, which structlog then loads at start-up).
    """
    venv = workdir / "runtime-venv"
    run(
        [uv_executable(), "sync", "--locked", "--no-dev", "--quiet"],
        cwd=project,
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    return venv / "bin" / "python"


@dataclass
class Bench:
    project: Path
    workdir: Path
    env: dict[str, str]
    credentials: dict[str, str]
    sampled_env: dict[str, str]
    # The service and bare FastAPI run on the runtime dependencies only (`runtime_environment`).
    python: Path | None = None
    # The Redis the floor app reads from (none: no floor run).
    floor_redis: str | None = None

    def _start(self, label: str, command: list[str], env: dict[str, str]) -> RunningService:
        return start(
            self.project,
            command,
            env=env,
            log_path=self.workdir / f"{label}.log",
            wait_path="/health/ready",
            python=self.python,
        )

    def start_service(self, label: str) -> RunningService:
        return self._start(label, ["-m", PACKAGE], self.env)

    def start_sampled(self, label: str) -> RunningService:
        return self._start(label, ["-m", PACKAGE], self.env | self.sampled_env)

    def start_floor(self, label: str) -> RunningService:
        assert self.floor_redis is not None
        return self._start(label, self._bare_app(), {"REDIS_URL": self.floor_redis})

    def start_bare(self, label: str) -> RunningService:
        return self._start(label, self._bare_app(), {})

    def _bare_app(self) -> list[str]:
        return [str(self.workdir / "bare.py"), str(self.workdir / "payloads.json")]


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


def measure_load(
    bench: Bench, endpoints: Sequence[Endpoint], *, rounds: int, duration: float, connections: int
) -> tuple[dict[str, dict[str, list[WrkResult]]], dict[str, list[float]]]:
    """Alternate the apps for each endpoint; keep every run's figures and the RSS.

    The sampled variant (the service with 10% of traces kept) and the floor run the first
    endpoint only: they answer "what would the documented alternative to the default sampler
    buy" and "what does the one Redis read of a shared cache cost by itself".
    """
    script = bench.workdir / "report.lua"
    script.write_text(WRK_SCRIPT)
    results: dict[str, dict[str, list[WrkResult]]] = {endpoint.name: {} for endpoint in endpoints}
    rss: dict[str, list[float]] = {}
    starters: dict[str, Callable[[str], RunningService]] = {
        "generated": bench.start_service,
        "bare": bench.start_bare,
    }
    if bench.sampled_env:
        starters[SAMPLED] = bench.start_sampled
    if bench.floor_redis is not None:
        starters[FLOOR] = bench.start_floor
    services = {kind: starter(f"load-{kind}") for kind, starter in starters.items()}

    def kinds_for(endpoint: Endpoint, round_number: int) -> list[str]:
        kinds = [
            kind for kind in services if kind not in CACHED_GET_ONLY or endpoint is endpoints[0]
        ]
        return kinds if round_number % 2 == 0 else kinds[::-1]

    try:
        for endpoint in endpoints:  # warm-up: lazy imports, caches, pools
            for kind in kinds_for(endpoint, 0):
                wrk(
                    services[kind],
                    endpoint,
                    script=script,
                    duration=min(duration, 3),
                    connections=connections,
                )
        for round_number in range(rounds):
            for endpoint in endpoints:
                for kind in kinds_for(endpoint, round_number):
                    results[endpoint.name].setdefault(kind, []).append(
                        wrk(
                            services[kind],
                            endpoint,
                            script=script,
                            duration=duration,
                            connections=connections,
                        )
                    )
            for kind, service in services.items():
                rss.setdefault(kind, []).append(rss_mb(service.process.pid))
            print(f"  round {round_number + 1}/{rounds} done", flush=True)
    finally:
        for service in services.values():
            service.stop()
    return results, rss


def measure_startup(bench: Bench, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"generated": [], "bare": []}
    for index in range(runs):
        for kind, starter in (("generated", bench.start_service), ("bare", bench.start_bare)):
            service = starter(f"startup-{kind}-{index}")
            timings[kind].append(time.perf_counter() - service.started_at)
            service.stop()
    return timings


def image_size_mb(build: bool, project: Path) -> tuple[float | None, str]:
    """The size of an image built from the project, if one is built here (`--image`)."""
    if not build:
        return None, (
            "not built in this run: `--image` builds one here (minutes), or "
            "`uv run pytest tests/test_image.py -m image` prints `[image] ...: N MB`"
        )
    from tests.support.images import (  # noqa: PLC0415
        ContainerTools,
        build_image,
        ensure_stand_ins,
        missing_tools,
    )

    missing = missing_tools()
    if missing:
        return None, f"not built: {', '.join(missing)} missing"
    print("image ...", flush=True)
    tools = ContainerTools.create()
    stand_ins = ensure_stand_ins(tools)
    reference = f"localhost/goldenpath-bench-{PACKAGE}:latest"
    started = time.perf_counter()
    try:
        build_image(tools, project, reference, build_args=stand_ins.build_args())
    except Exception as error:  # a failed build is a figure missing, not a failed benchmark
        return None, f"the build failed: {str(error).splitlines()[0]}"
    built_in = time.perf_counter() - started
    try:
        size = int(str(tools.image_inspect(reference)["Size"])) / 1e6
    finally:
        tools.run("podman", "rmi", "--force", reference, check=False)
    return size, f"built in {built_in:.0f} s on stand-in base images (tests/support/images.py)"


def print_load(results: Mapping[str, Mapping[str, Sequence[WrkResult]]], rounds: int) -> bool:
    print(f"\nLoad: wrk on loopback, medians of {rounds} alternating runs; ratio = generated/bare")
    header = (
        f"{'endpoint':<42} {'app':<10} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'CPU ms/req':>11}"
    )
    print(header)
    print("-" * len(header))
    passed = True
    for name, by_kind in results.items():
        medians = {kind: median_result(runs) for kind, runs in by_kind.items()}
        bare = medians["bare"]
        for kind, result in medians.items():
            print(
                f"{name:<42} {kind:<10} {result.requests_per_second:8.0f} {result.p50_ms:8.2f}"
                f" {result.p95_ms:8.2f} {result.p99_ms:8.2f} {result.cpu_ms:11.3f}"
            )
        for kind, result in medians.items():
            if kind == "bare":
                continue
            print(
                f"{'':<42} {'ratio' if kind == 'generated' else kind + '/b':<10}"
                f" {result.requests_per_second / bare.requests_per_second:8.0%}"
                f" {result.p50_ms / bare.p50_ms:7.2f}x {result.p95_ms / bare.p95_ms:7.2f}x"
                f" {result.p99_ms / bare.p99_ms:7.2f}x {result.cpu_ms / bare.cpu_ms:10.2f}x"
            )
        if name.startswith("authenticated cached GET"):
            generated = medians["generated"]
            share = generated.requests_per_second / bare.requests_per_second
            p99_ratio = generated.p99_ms / bare.p99_ms
            throughput_ok = share >= THROUGHPUT_SHARE_TARGET
            latency_ok = p99_ratio <= P99_RATIO_TARGET
            passed = throughput_ok and latency_ok
            print(
                f"  target: >= {THROUGHPUT_SHARE_TARGET:.0%} of bare req/s: {share:.0%} "
                f"{verdict(throughput_ok)}; p99 <= {P99_RATIO_TARGET:g}x bare: "
                f"{p99_ratio:.2f}x {verdict(latency_ok)}"
            )
            if FLOOR in medians:
                floor = medians[FLOOR]
                print(
                    f"  floor (bare FastAPI + one redis-py GET, nothing else): "
                    f"{floor.requests_per_second / bare.requests_per_second:.0%} of bare req/s, "
                    f"p99 {floor.p99_ms / bare.p99_ms:.2f}x; the service reaches "
                    f"{generated.requests_per_second / floor.requests_per_second:.0%} of the floor"
                )
    return passed


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


def print_process(
    startup: Mapping[str, Sequence[float]],
    rss: Mapping[str, Sequence[float]],
    generation: Sequence[float],
    image_mb: float | None,
    image_note: str,
) -> str:
    """The process and project figures beside their targets; returns the verdicts."""
    print("\nProcess and project")
    startup_s = statistics.median(startup["generated"])
    startup_ok = startup_s < STARTUP_TARGET_SECONDS
    print(
        f"start-up to /health/ready 200       {startup_s:6.2f} s   (bare FastAPI "
        f"{statistics.median(startup['bare']):.2f} s; medians of {len(startup['generated'])})"
        f"   target < {STARTUP_TARGET_SECONDS:g} s: {verdict(startup_ok)}"
    )
    memory = max(rss["generated"])  # the highest reading, taken after each round of load
    memory_ok = memory < RSS_TARGET_MB
    print(
        f"RSS after warm-up and load          {memory:6.1f} MB  (bare FastAPI "
        f"{max(rss['bare']):.1f} MB)   target < {RSS_TARGET_MB:g} MB: {verdict(memory_ok)}"
    )
    image = "image not built"
    if image_mb is None:
        print(f"image size                          {image_note}   target < {IMAGE_TARGET_MB:g} MB")
    else:
        image = f"image {verdict(image_mb < IMAGE_TARGET_MB)}"
        print(
            f"image size                          {image_mb:6.1f} MB  ({image_note})   "
            f"target < {IMAGE_TARGET_MB:g} MB: {verdict(image_mb < IMAGE_TARGET_MB)}"
        )
    print(
        f"copier copy --defaults (no tasks)   {statistics.median(generation):6.2f} s   "
        f"(median of {len(generation)}, min {min(generation):.2f} s; no `uv lock`, no install)"
    )
    return f"start-up {verdict(startup_ok)}, RSS {verdict(memory_ok)}, {image}"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="alternating wrk runs per endpoint")
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--project", type=Path, help="an already generated, synced project")
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
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    if shutil.which("wrk") is None:
        print("wrk is needed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`")
        return 1
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory(prefix="goldenpath-bench-") as tmp:
        workdir = Path(tmp)
        print("copier copy --defaults ...", flush=True)
        generation = time_generation(workdir, args.generations)
        project = args.project
        if project is None:
            project = generate(workdir / "project", DEFAULTS)
            run([uv_executable(), "sync", "--locked", "--quiet"], cwd=project)
        python = str(project / ".venv/bin/python")
        credentials = json.loads(run([python, "-c", CREDENTIALS], cwd=project).stdout)
        (workdir / "bare.py").write_text(BARE)
        postgres = PostgresServer.create()
        redis = RedisServer.create()
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
                sampled = {} if args.no_sampled else SAMPLED_ENV
                runtime = runtime_environment(project, workdir)
                bench = Bench(
                    project,
                    workdir,
                    env,
                    credentials,
                    sampled,
                    runtime,
                    floor_redis=None if args.no_floor else redis.url,
                )
                service = bench.start_service("seed")
                try:
                    payloads = seed(service, credentials)
                finally:
                    service.stop()
                (workdir / "payloads.json").write_text(json.dumps(payloads))
                bearer = {"Authorization": f"Bearer {credentials['read']}"}
                endpoints = [
                    Endpoint("authenticated cached GET /v1/items/{id}", "/v1/items/"
                             + str(payloads["id"]), bearer),
                    Endpoint("authenticated list /v1/items", "/v1/items", bearer),
                    Endpoint("/health/live", "/health/live", {}),
                ]  # fmt: skip
                print("start-up ...", flush=True)
                startup = measure_startup(bench, args.startups)
                print("load ...", flush=True)
                results, rss = measure_load(
                    bench,
                    endpoints,
                    rounds=args.rounds,
                    duration=args.duration,
                    connections=args.connections,
                )
        finally:
            redis.destroy()
            postgres.destroy()
        load_ok = print_load(results, args.rounds)  # before the image build, which may fail
        image_mb, image_note = image_size_mb(args.image, project)

    process_ok = print_process(startup, rss, generation, image_mb, image_note)
    print(f"\nSummary: cached GET {verdict(load_ok)}, {process_ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
