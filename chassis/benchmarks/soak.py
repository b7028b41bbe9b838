"""Benchmark: does the service's memory grow under sustained, varied traffic (a slow leak that
would restart pods after hours)?

The example service runs as a process with production settings on a private PostgreSQL and
Redis: APP_ENV=production, JSON logs at INFO, JWTs verified, rate limits on (too high to
throttle), every request traced and exported to a loopback OTLP sink that drops what it
gets, and loopback trusted as the proxy, so that X-Forwarded-For names the client. For
`--minutes`, `--connections` clients send a mix of what a public service sees: reads of
existing widgets (cached) and of random ids (404), lists, creates (some names taken: 409),
updates, bad inputs (422), unknown paths (404), missing and forged tokens (401), each from a
random client address (IPv4, and IPv6 in many /64s) and, one request in five, with a token
minted for a new principal.

Every `--interval` seconds it samples the process's resident memory (with its children) and
the number of series /metrics exposes. Printed: the series, the slope of RSS after
`--warm-up` (least squares, MB per 10 minutes), the series at the start and the end, each
beside its target. It fails nothing.
`uv run python benchmarks/soak.py [--minutes 5] [--interval 5] [--warm-up 60]` (in `chassis/`).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx

# `python benchmarks/soak.py` puts benchmarks/ first on sys.path, not chassis/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from goldenpath_chassis._core.security.dev_keys import generate_signing_key
from goldenpath_chassis.testing.auth import TokenFactory, auth_environment
from goldenpath_chassis.testing.databases import create_postgres_database, migrate
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from goldenpath_chassis.testing.servers import PostgresServer, RedisServer

from tests.example.service import SERVICE
from tests.support.example_process import running_example

UNLIMITED = "100000000/minute"
RSS_SLOPE_TARGET_MB = 5.0  # per 10 minutes, after the warm-up
SCOPES = ("widgets:read", "widgets:write")
NEW_PRINCIPAL_SHARE = 0.2


class DroppingSink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that answers every export and keeps nothing (the benchmark's own
    memory stays flat however long it runs)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _own_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):  # the task ended meanwhile
            for child in (int(c) for c in (task / "children").read_text().split()):
                found += [child, *_descendants(child)]
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its descendants (what a pod's limit holds)."""
    total = _own_rss_mb(pid)
    for child in _descendants(pid):
        with suppress(OSError, RuntimeError):
            total += _own_rss_mb(child)
    return total


def series_count(scrape: str) -> int:
    return sum(1 for line in scrape.splitlines() if line and not line.startswith("#"))


def slope_per_10_minutes(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per 10 minutes."""
    if len(points) < 2:
        return float("nan")
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return statistics.linear_regression(xs, ys).slope * 600


# Each kind of request, and its share of the traffic.
KINDS = {
    "read": 25,
    "read_missing": 10,
    "list": 10,
    "create": 10,
    "update": 7,
    "invalid_body": 8,
    "invalid_id": 5,
    "unknown_path": 10,
    "no_token": 5,
    "forged_token": 5,
    "probe": 5,
}


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    keep_for: str | None = None  # a create's token: the widget it makes is read later


@dataclass
class Traffic:
    """The varied requests; what it created, so that reads and updates find real widgets."""

    tokens: TokenFactory
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 - traffic
    regulars: list[str] = field(default_factory=list)  # a few principals' tokens, reused
    widgets: list[tuple[str, str]] = field(default_factory=list)  # (token, id)
    statuses: Counter[int] = field(default_factory=Counter)
    principals: int = 0

    def __post_init__(self) -> None:
        self.regulars = [self._new_token() for _ in range(20)]

    def _new_token(self) -> str:
        self.principals += 1
        return self.tokens(*SCOPES, subject=f"soak-{self.principals}-{uuid.uuid4().hex[:8]}")

    def _token(self) -> str:
        if self.rng.random() < NEW_PRINCIPAL_SHARE:
            return self._new_token()
        return self.rng.choice(self.regulars)

    def _client_address(self) -> str:
        if self.rng.random() < 0.5:
            return str(ipaddress.IPv4Address(self.rng.getrandbits(32)))
        return str(ipaddress.IPv6Address((0x2001_0DB8 << 96) | self.rng.getrandbits(96)))

    def request(self) -> Call:
        """One request, of a kind drawn by the weights of `KINDS`."""
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        token = self._token()
        call = getattr(self, f"_{kind}")(token)
        assert isinstance(call, Call)
        call.headers["X-Forwarded-For"] = self._client_address()
        return call

    def _known(self) -> tuple[str, str] | None:
        return self.rng.choice(self.widgets) if self.widgets else None

    def _read(self, token: str) -> Call:
        known = self._known()
        if known is None:
            return self._read_missing(token)
        owner, widget_id = known
        return Call("GET", f"/v1/widgets/{widget_id}", _bearer(owner))

    def _read_missing(self, token: str) -> Call:
        return Call("GET", f"/v1/widgets/{uuid.uuid4()}", _bearer(token))

    def _list(self, token: str) -> Call:
        return Call("GET", f"/v1/widgets?limit={self.rng.randint(1, 30)}", _bearer(token))

    def _create(self, token: str) -> Call:
        name = f"w-{self.rng.getrandbits(12)}"  # a few collide within an owner: 409
        body = {"name": name, "price_cents": self.rng.randint(0, 5000)}
        return Call("POST", "/v1/widgets", _bearer(token), body, keep_for=token)

    def _update(self, token: str) -> Call:
        known = self._known()
        if known is None:
            return self._create(token)
        owner, widget_id = known
        body = {"price_cents": self.rng.randint(0, 5000)}
        return Call("PATCH", f"/v1/widgets/{widget_id}", _bearer(owner), body)

    def _invalid_body(self, token: str) -> Call:
        bad = self.rng.choice(
            [{"name": ""}, {"name": "x", "price_cents": -1}, {"price_cents": "x"}]
        )
        return Call("POST", "/v1/widgets", _bearer(token), bad)

    def _invalid_id(self, token: str) -> Call:
        return Call("GET", f"/v1/widgets/not-an-id-{self.rng.getrandbits(20)}", _bearer(token))

    def _unknown_path(self, token: str) -> Call:
        return Call("GET", f"/{uuid.uuid4().hex[:8]}/{self.rng.getrandbits(30)}", {})

    def _no_token(self, token: str) -> Call:
        return Call("GET", "/v1/widgets", {})

    def _forged_token(self, token: str) -> Call:
        return Call("GET", "/v1/widgets", _bearer(token[:-6] + "AAAAAA"))

    def _probe(self, token: str) -> Call:
        return Call("GET", "/health/live", {})

    def keep(self, token: str, response: httpx.Response) -> None:
        if response.status_code == 201 and len(self.widgets) < 5000:
            self.widgets.append((token, response.json()["id"]))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    series: int
    requests: int


async def soak(
    base_url: str,
    pid: int,
    traffic: Traffic,
    *,
    metrics_token: str,
    options: argparse.Namespace,
    redis: RedisServer,
) -> list[Sample]:
    samples: list[Sample] = []
    deadline = time.monotonic() + options.minutes * 60
    started = time.monotonic()
    limits = httpx.Limits(max_connections=options.connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def sender() -> None:
            while time.monotonic() < deadline:
                call = traffic.request()
                try:
                    response = await client.request(
                        call.method, call.path, headers=call.headers, json=call.body
                    )
                except httpx.HTTPError:
                    traffic.statuses[-1] += 1
                    continue
                traffic.statuses[response.status_code] += 1
                if call.keep_for is not None:
                    traffic.keep(call.keep_for, response)

        async def sampler() -> None:
            while True:
                scrape = await client.get("/metrics", headers=_bearer(metrics_token))
                sample = Sample(
                    time.monotonic() - started,
                    rss_mb(pid),
                    series_count(scrape.text),
                    sum(traffic.statuses.values()),
                )
                samples.append(sample)
                print(
                    f"{sample.seconds:7.0f} s {sample.rss_mb:8.1f} MB {sample.series:7d} "
                    f"{sample.requests:9d}",
                    flush=True,
                )
                if time.monotonic() >= deadline:
                    return
                outage = options.stop_redis_after
                if outage is not None and redis.process is not None and sample.seconds >= outage:
                    redis.stop()  # the rest of the run without Redis
                    print(f"{sample.seconds:7.0f} s Redis stopped", flush=True)
                await asyncio.sleep(min(options.interval, max(0.0, deadline - time.monotonic())))

        await asyncio.gather(sampler(), *(sender() for _ in range(options.connections)))
    return samples


@contextmanager
def backing_services() -> Iterator[tuple[str, RedisServer]]:
    """(database URL, Redis): a private PostgreSQL, migrated, and a private Redis."""
    postgres = PostgresServer.create()
    redis = RedisServer.create()
    postgres.start()
    try:
        redis.start()
        try:
            database_url = create_postgres_database(postgres.url)
            migrate(SERVICE, database_url)
            yield database_url, redis
        finally:
            redis.destroy()
    finally:
        postgres.destroy()


def report(samples: list[Sample], traffic: Traffic, warm_up: float) -> None:
    after = [(s.seconds, s.rss_mb) for s in samples if s.seconds >= warm_up]
    slope = slope_per_10_minutes(after)
    first, last = samples[0], samples[-1]
    warm = next((s for s in samples if s.seconds >= warm_up), last)
    seconds = last.seconds or 1.0
    print(
        f"requests: {last.requests} in {seconds:.0f} s ({last.requests / seconds:.0f}/s), "
        f"{traffic.principals} principals, {len(traffic.widgets)} widgets kept; statuses "
        + ", ".join(f"{status}: {count}" for status, count in sorted(traffic.statuses.items()))
    )
    print(
        f"RSS: {first.rss_mb:.1f} MB at start, {warm.rss_mb:.1f} MB after the {warm_up:g} s "
        f"warm-up, {last.rss_mb:.1f} MB at the end (max {max(s.rss_mb for s in samples):.1f})"
    )
    verdict = "PASS" if slope < RSS_SLOPE_TARGET_MB else "MISS"
    print(
        f"RSS slope after warm-up: {slope:+.2f} MB per 10 minutes   "
        f"target < {RSS_SLOPE_TARGET_MB:g}: {verdict}"
    )
    bounded = warm.series == last.series
    print(
        f"/metrics series: {first.series} at start, {warm.series} after warm-up, "
        f"{last.series} at the end   target: none after warm-up: "
        f"{'PASS' if bounded else 'MISS'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, default=60.0, help="seconds left out of the slope")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--stop-redis-after",
        type=float,
        metavar="SECONDS",
        help="stop Redis this far into the run (an outage, for the degraded mode's memory)",
    )
    options = parser.parse_args()
    key = generate_signing_key()
    tokens = TokenFactory(key)
    metrics_token = tokens("metrics:read", subject="prometheus", ttl_seconds=86_400)
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    with backing_services() as (database_url, redis), loopback_http_server(DroppingSink) as sink:
        host, port = sink.server_address[:2]
        env = {
            "APP_ENV": "production",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            **auth_environment(key),
            "AUTH_SESSION_SECRET": "soak-" + "s" * 40,
            "RATE_LIMIT_PER_IP": UNLIMITED,
            "RATE_LIMIT_PER_PRINCIPAL": UNLIMITED,
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host!s}:{port}",
        }
        with running_example(env, log_path=folder / "service.log") as service:
            print(f"{'time':>9} {'RSS':>11} {'series':>7} {'requests':>9}")
            traffic = Traffic(tokens)
            samples = asyncio.run(
                soak(
                    service.base_url,
                    service.process.pid,
                    traffic,
                    metrics_token=metrics_token,
                    options=options,
                    redis=redis,
                )
            )
            redis_lived = redis.process is not None and redis.process.poll() is None
        report(samples, traffic, options.warm_up)
        if options.stop_redis_after is None and not redis_lived:
            print("Redis ended during the run (signalled from outside?): not a steady state")
        print(f"the service's log in {folder}")


if __name__ == "__main__":
    main()
