"""INF-3 and SEC-4 beyond one machine, simulated on one: two replicas behind a reverse proxy.

Two replicas of the service run as processes on loopback, sharing the session's PostgreSQL and
Redis, behind nginx (a real process, with its own configuration in the test's folder). The test
plays the orchestrator's part: `ReadinessRouter` (tests/support/proxy.py) keeps nginx routed to
the replicas whose readiness answers 200, as Kubernetes' endpoints controller does for a
Service. nginx neither retries on another replica nor takes one out by itself, so a request
sent to a replica that has stopped listening fails visibly.

SQLite services run one replica by design (one file, one writer): this module runs only when
the example service is on PostgreSQL (the default; not with EXAMPLE_BACKEND=sqlite).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from redis.asyncio import Redis

from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import ServiceProcess, free_port, start_service

from tests.example.service import BACKEND
from tests.support.example_process import EXAMPLE_COMMAND, importable
from tests.support.proxy import NGINX_HINTS, NginxProxy, ReadinessRouter, nginx_binary
from tests.support.traffic import Traffic, stored_widget_names

if TYPE_CHECKING:
    from goldenpath_chassis.testing.figures import Figures

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        BACKEND == "sqlite", reason="SQLite runs one replica (one file, one writer)"
    ),
]

# Long enough for the router to see readiness turn 503 (it polls every 50 ms) and reload nginx
# before the listener closes; production sets it from the load balancer's probe period.
DRAIN_SECONDS = 3.0
GRACE_SECONDS = 10.0
CLIENTS = 8
# Steady load that leaves the CPU to the replicas: on a 2-core machine, clients that never
# pause starve the replica being started, and the test then measures the load generator.
THINK_SECONDS = 0.05
FIRST_INSTANCES = ("a1", "b1")
REPLACEMENTS = {"a1": "a2", "b1": "b2"}
PROBLEM = "application/problem+json"
RATE_LIMIT = 20


@pytest.fixture(scope="module")
def nginx() -> Path:
    binary = nginx_binary()
    if binary is None:
        pytest.skip(
            "NGINX IS MISSING, so the tests of two replicas behind a reverse proxy did not run: "
            + NGINX_HINTS
        )
    return binary


ClusterStarter = Callable[[dict[str, str]], AbstractContextManager["Cluster"]]


@pytest.fixture
def start_cluster(nginx: Path, tmp_path: Path) -> ClusterStarter:
    """`with start_cluster(env) as running:` two replicas with `env`, behind nginx."""
    return lambda env: cluster(nginx, tmp_path, env)


@dataclass
class Cluster:
    """Replicas of the service behind nginx. A restarted replica is a new instance on a new
    port, as a new pod gets a new address: "a1" is replaced by "a2"."""

    env: dict[str, str]
    logs: Path
    proxy: NginxProxy
    instances: dict[str, ServiceProcess] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def start_instance(self, name: str) -> ServiceProcess:
        port = free_port()
        self.addresses[name] = f"127.0.0.1:{port}"
        self.instances[name] = start_service(
            EXAMPLE_COMMAND,
            env=importable() | self.env,
            port=port,
            log_path=self.logs / f"replica-{name}.log",
            wait_path=None,
        )
        return self.instances[name]


@contextmanager
def cluster(nginx: Path, folder: Path, env: dict[str, str]) -> Iterator[Cluster]:
    running = Cluster(env, folder, NginxProxy(nginx, folder / "nginx", free_port()))
    try:
        for name in FIRST_INSTANCES:  # start together, then wait for each
            running.start_instance(name)
        for name in FIRST_INSTANCES:
            running.instances[name].wait_until_answers("/health/ready")
        running.proxy.start([running.addresses[name] for name in FIRST_INSTANCES])
        yield running
    finally:
        running.proxy.stop()
        # All at once, twice (the second SIGTERM skips the drain: the test is over), then wait.
        for _ in range(2):
            for instance in running.instances.values():
                if instance.process.poll() is None:
                    instance.signal(signal.SIGTERM)
            time.sleep(0.1)
        for instance in running.instances.values():
            instance.stop()


@dataclass(frozen=True)
class Replacement:
    old: str
    new: str
    signalled: float
    removed: float
    added: float
    exit: asyncio.Task[tuple[int, float]]  # the old instance's exit code, and when it came


async def replace(running: Cluster, router: ReadinessRouter, old: str, new: str) -> Replacement:
    """SIGTERM one instance and start its replacement; return once the old one is out of
    rotation and the new one in. As in a Kubernetes rolling update, the next replica's turn
    does not wait for the old process to be gone, only for the new one to be ready."""
    signalled = time.monotonic()
    running.instances[old].signal(signal.SIGTERM)
    exit_ = asyncio.create_task(
        asyncio.to_thread(running.instances[old].wait_timed, DRAIN_SECONDS + GRACE_SECONDS + 10)
    )
    running.start_instance(new)
    router.add(new, running.addresses[new])
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            removed = await router.change(old, ready=False, after=signalled)
    except TimeoutError:
        pytest.fail(f"replica {old} was still routed when its drain ended")
    async with asyncio.timeout(60):
        added = await router.change(new, ready=True, after=signalled)
    return Replacement(old, new, signalled, removed.at, added.at, exit_)


async def served_by(traffic: Traffic, address: str, *, after: float, count: int) -> None:
    """Wait until `address` has answered `count` requests sent after `after`."""
    while True:
        served = [a for a in traffic.attempts if a.upstream == address and a.started > after]
        if len(served) >= count:
            return
        await asyncio.sleep(0.05)


def describe(replacement: Replacement, exit_code: int, exited: float) -> str:
    since = replacement.signalled
    return (
        f"{replacement.old}: out of rotation {replacement.removed - since:.2f} s after SIGTERM "
        f"(drain {DRAIN_SECONDS:.0f} s), exit code {exit_code} after {exited - since:.1f} s; "
        f"{replacement.new} in rotation {replacement.added - since:.1f} s after that SIGTERM"
    )


async def test_inf3_rolling_restart_behind_a_proxy_loses_no_request(
    start_cluster: ClusterStarter,
    service_env: dict[str, str],
    service_credentials: ServiceCredentials,
    emptied_database: str,
    figures: Figures,
) -> None:
    env = service_env | {
        "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "TRUSTED_PROXIES": "127.0.0.1/32",
    }
    # Each request on a connection of its own: a proxy's reload closes its idle client
    # connections (an HTTP/1.1 race clients absorb by retrying); this test measures the
    # replicas, so nothing but the replicas may lose a request.
    limits = httpx.Limits(max_keepalive_connections=0)
    headers = dict(service_credentials.headers)
    with start_cluster(env) as running:
        router = ReadinessRouter(
            running.proxy, dict(running.addresses), routed=frozenset(FIRST_INSTANCES)
        )
        stop_routing = asyncio.Event()
        routing = asyncio.create_task(router.run(stop_routing))
        async with httpx.AsyncClient(
            base_url=running.proxy.url, limits=limits, headers=headers, timeout=30
        ) as client:
            traffic = Traffic(client, "rolling", warm_up_requests=60, think_seconds=THINK_SECONDS)
            loops = traffic.run(CLIENTS)
            async with asyncio.timeout(30):
                await traffic.warmed_up.wait()
            replacements = [
                await replace(running, router, old, new) for old, new in REPLACEMENTS.items()
            ]
            exits = await asyncio.gather(*(replacement.exit for replacement in replacements))
            for replacement in replacements:
                router.forget(replacement.old)
            async with asyncio.timeout(30):  # both new replicas take traffic
                for replacement in replacements:
                    await served_by(
                        traffic,
                        running.addresses[replacement.new],
                        after=replacement.added,
                        count=10,
                    )
            traffic.stop.set()
            await asyncio.gather(*loops)

            # Control: without the orchestrator, an abrupt stop (a second SIGTERM skips the
            # drain) does lose requests, so the zero above is the orchestration's doing.
            stop_routing.set()
            await routing
            control = Traffic(client, "control", warm_up_requests=1, think_seconds=THINK_SECONDS)
            control_loops = control.run(CLIENTS)
            await control.warmed_up.wait()
            victim = running.instances["b2"]
            victim.signal(signal.SIGTERM)
            await asyncio.sleep(0.05)
            victim.signal(signal.SIGTERM)
            control_exit, _ = await asyncio.to_thread(victim.wait_timed, GRACE_SECONDS + 10)
            await asyncio.sleep(0.5)
            control.stop.set()
            await asyncio.gather(*control_loops)
    names_in_database = await stored_widget_names(emptied_database, "rolling")

    failed = [a for a in traffic.attempts if not a.ok]
    assert not failed, f"{len(failed)} requests failed during the rolling restart: {failed[:5]}"
    for replacement, (exit_code, exited) in zip(replacements, exits, strict=True):
        assert exit_code == 0
        # Out of rotation while still serving, well before the listener closed.
        assert replacement.removed - replacement.signalled < DRAIN_SECONDS
        assert replacement.removed < exited
        # Once out of rotation, it got no new request.
        address = running.addresses[replacement.old]
        stray = [
            a for a in traffic.attempts if a.upstream == address and a.started > replacement.removed
        ]
        assert not stray, f"routed to {replacement.old} after it was out of rotation: {stray[:3]}"
    # Every write answered 201 is stored, and nothing else.
    assert names_in_database == traffic.created_names()
    lost_in_control = [a for a in control.attempts if a.status == 502]
    assert lost_in_control, "the control lost nothing: the test could not see a lost request"
    assert control_exit == 0

    writes = sum(a.kind == "create" for a in traffic.attempts)
    figures.add(
        "Rolling restart behind nginx (INF-3)",
        f"2 replicas, {len(traffic.attempts)} requests ({writes} writes) from {CLIENTS} clients "
        "during the restart of both: 0 failed",
    )
    for replacement, (exit_code, exited) in zip(replacements, exits, strict=True):
        figures.add(
            "Rolling restart behind nginx (INF-3)", "  " + describe(replacement, exit_code, exited)
        )
    figures.add(
        "Rolling restart behind nginx (INF-3)",
        f"  control, an abrupt stop without readiness routing: {len(lost_in_control)} of "
        f"{len(control.attempts)} requests failed with 502",
    )


async def forget_rate_limit_counters(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match="*ratelimit*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def test_sec4_rate_limits_hold_across_replicas(
    start_cluster: ClusterStarter,
    service_env: dict[str, str],
    service_credentials: ServiceCredentials,
    redis_url: str,
) -> None:
    """Both replicas count in the same Redis: together they admit the limit, not twice it."""
    await forget_rate_limit_counters(redis_url)
    env = service_env | {
        # An hour's window: the test never straddles two windows.
        "RATE_LIMIT_PER_IP": f"{RATE_LIMIT}/hour",
        "TRUSTED_PROXIES": "127.0.0.1/32",
        # A busy machine must not turn a slow Redis reply into a storage error, which the
        # default policy answers from each replica's own memory: that would hide the shared count.
        "REDIS_TIMEOUT_SECONDS": "5",
        "RATE_LIMIT_ON_STORAGE_ERROR": "deny",
    }
    limits = httpx.Limits(max_keepalive_connections=0)
    headers = dict(service_credentials.headers)
    with start_cluster(env) as running:
        async with httpx.AsyncClient(
            base_url=running.proxy.url, limits=limits, headers=headers
        ) as client:
            # Concurrently, ten at a time: both replicas count at the same moments.
            gate = asyncio.Semaphore(10)

            async def get() -> httpx.Response:
                async with gate:
                    return await client.get("/v1/widgets")

            responses = await asyncio.gather(*(get() for _ in range(3 * RATE_LIMIT)))

    assert {r.status_code for r in responses} <= {200, 429}, [r.text for r in responses]
    admitted = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    by_replica = {r.headers.get("x-upstream") for r in admitted}
    assert len({r.headers.get("x-upstream") for r in responses}) == 2, "nginx used one replica"
    assert len(by_replica) == 2, "one replica admitted nothing"
    assert len(admitted) == RATE_LIMIT, f"{len(admitted)} admitted by two replicas together"
    for response in limited:
        assert response.headers["content-type"] == PROBLEM
        assert int(response.headers["retry-after"]) >= 1
    await forget_rate_limit_counters(redis_url)
