"""A reverse proxy (nginx) in front of service replicas, and the orchestrator's part of routing.

nginx runs as a real process on loopback, with its prefix, configuration and logs in a folder
of the test's own. Its upstream list lives in a file of its own: `set_upstreams()` rewrites it
and reloads nginx gracefully (`nginx -s reload`: new workers take the new list, old ones
finish their requests), then waits until the new configuration answers.

`ReadinessRouter` is what Kubernetes' endpoints controller does for a Service: it polls each
replica's `/health/ready` and keeps the proxy pointed at exactly the ready ones, so a replica
that starts draining (readiness 503) is taken out before its listener closes, and a restarted
one is put back once it is ready.

The proxy hides nothing: it never retries a failed request on another replica
(`proxy_next_upstream off`) and never takes a replica out by itself (`max_fails=0`), so a
request sent to a replica that is gone fails visibly (502). It reports which replica answered
in `X-Upstream`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

NGINX_HINTS = (
    "install nginx (Debian/Ubuntu: `apt-get install nginx-light`, macOS: `brew install nginx`), "
    "or point NGINX_BINARY at one"
)

_CONFIG = """\
<user>worker_processes 1;
daemon off;
pid <root>/nginx.pid;
error_log <root>/error.log notice;
events { worker_connections 1024; }
http {
    access_log <root>/access.log;
    client_body_temp_path <root>/client_body;
    proxy_temp_path <root>/proxy;
    fastcgi_temp_path <root>/fastcgi;
    uwsgi_temp_path <root>/uwsgi;
    scgi_temp_path <root>/scgi;
    include <root>/routing.conf;
    server {
        listen 127.0.0.1:<port>;
        location = /_proxy/generation { return 200 $routing_generation; }
        location / {
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            add_header X-Upstream $upstream_addr always;
        }
    }
}
"""


def nginx_binary() -> Path | None:
    """NGINX_BINARY, nginx on PATH, or where Debian and Homebrew put it."""
    candidates = [
        os.environ.get("NGINX_BINARY", ""),
        shutil.which("nginx") or "",
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/opt/homebrew/bin/nginx",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


@dataclass
class NginxProxy:
    binary: Path
    root: Path
    port: int
    generation: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, *args: str) -> list[str]:
        return [
            str(self.binary), "-p", f"{self.root}/", "-c", str(self.root / "nginx.conf"),
            "-e", str(self.root / "error.log"), *args,
        ]  # fmt: skip

    def _write_routing(self, upstreams: Sequence[str]) -> None:
        # An upstream block needs a server: with no replica ready, a placeholder marked down
        # makes nginx answer 502, as a Service without endpoints does.
        servers = [f"    server {address} max_fails=0;" for address in upstreams] or [
            "    server 127.0.0.1:9 down;"
        ]
        routing = "\n".join(
            [
                "upstream replicas {",
                *servers,
                "    keepalive 16;",
                "}",
                "map $host $routing_generation { default " + f'"{self.generation}"; ' + "}",
                "",
            ]
        )
        staged = self.root / "routing.conf.new"
        staged.write_text(routing)
        staged.replace(self.root / "routing.conf")

    def start(self, upstreams: Sequence[str], *, timeout: float = 10) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # As root, workers would run as `nobody` and could not use the test's folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        config = (
            _CONFIG.replace("<user>", user)
            .replace("<root>", str(self.root))
            .replace("<port>", str(self.port))
        )
        (self.root / "nginx.conf").write_text(config)
        self._write_routing(upstreams)
        log = (self.root / "nginx.out").open("wb")
        self.process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_for_generation(timeout)

    def set_upstreams(self, upstreams: Sequence[str], *, timeout: float = 10) -> None:
        """Route to exactly these replicas. Returns once no worker of the previous
        configuration is left: from then on, every new request goes to this list."""
        previous_workers = self._workers()
        self.generation += 1
        self._write_routing(upstreams)
        reload = subprocess.run(
            self._command("-s", "reload"), capture_output=True, text=True, check=False
        )
        if reload.returncode != 0:
            raise RuntimeError(f"nginx -s reload failed:\n{reload.stderr}\n{self.errors()}")
        self._wait_for_generation(timeout, retired=previous_workers)

    def _workers(self) -> set[int]:
        """The worker processes of the nginx master (Linux: /proc; elsewhere: pgrep)."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            return {int(child) for child in children.read_text().split()}
        listed = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        )
        return {int(child) for child in listed.stdout.split()}

    def _wait_for_generation(self, timeout: float, *, retired: set[int] | None = None) -> None:
        """Until the current configuration answers and the `retired` workers have exited
        (they stop accepting at once, but finish their requests first)."""
        deadline = time.monotonic() + timeout
        expected = str(self.generation)
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.errors()}")
            try:
                answer = httpx.get(f"{self.url}/_proxy/generation", timeout=1)
                if answer.text == expected and not (retired or set()) & self._workers():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"nginx did not serve routing generation {expected}:\n{self.errors()}")

    def errors(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class RoutingChange:
    at: float
    replica: str
    ready: bool


@dataclass
class ReadinessRouter:
    """Keep the proxy routed to the replicas whose `/health/ready` answers 200.

    A replica that answers anything but 200 (a draining one answers 503 at once) is taken out
    on that answer. One that does not answer (a timeout, a refused connection) is taken out
    after `failure_threshold` such probes in a row, so one slow answer from a busy replica does
    not take it out. A single 200 puts a replica back.
    """

    proxy: NginxProxy
    replicas: dict[str, str]  # name -> "127.0.0.1:port"; add and remove as replicas come and go
    routed: frozenset[str] = frozenset()
    interval: float = 0.05
    timeout: float = 1.0
    failure_threshold: int = 3
    changes: list[RoutingChange] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)

    async def _probe(self, client: httpx.AsyncClient, name: str, address: str) -> None:
        try:
            response = await client.get(f"http://{address}/health/ready")
        except httpx.TransportError:
            failures = self._failures.get(name, 0) + 1  # no answer: maybe busy, maybe gone
        else:
            # An answer other than 200 is the replica saying "take me out": believe it at once.
            failures = 0 if response.status_code == 200 else self.failure_threshold
        if name in self.replicas:
            self._failures[name] = failures

    def _ready(self) -> frozenset[str]:
        ready = set()
        for name in list(self.replicas):
            failures = self._failures.get(name)
            if failures is None:  # not probed yet: as it was
                if name in self.routed:
                    ready.add(name)
            elif failures == 0 or (name in self.routed and failures < self.failure_threshold):
                ready.add(name)
        return frozenset(ready)

    def add(self, name: str, address: str) -> None:
        """A new replica: routed once its readiness answers 200."""
        self.replicas[name] = address

    def forget(self, name: str) -> None:
        """A replica that is gone for good: routed no more, probed no more."""
        self.replicas.pop(name, None)
        self._failures.pop(name, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Probe every replica, each on its own schedule (a slow one delays no other), and
        reload the proxy whenever the set of ready replicas changes."""
        limits = httpx.Limits(max_keepalive_connections=0)
        probes: dict[str, asyncio.Task[None]] = {}
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            while not stop.is_set():
                for name, address in list(self.replicas.items()):
                    if name not in probes or probes[name].done():
                        probes[name] = asyncio.create_task(self._probe(client, name, address))
                ready = self._ready()
                if ready != self.routed:
                    addresses = [self.replicas[name] for name in sorted(ready)]
                    await asyncio.to_thread(self.proxy.set_upstreams, addresses)
                    now = time.monotonic()
                    self.changes += [RoutingChange(now, n, True) for n in ready - self.routed]
                    self.changes += [RoutingChange(now, n, False) for n in self.routed - ready]
                    self.routed = ready
                await asyncio.sleep(self.interval)
            for probe in probes.values():
                probe.cancel()
            await asyncio.gather(*probes.values(), return_exceptions=True)

    async def change(self, replica: str, *, ready: bool, after: float) -> RoutingChange:
        """The first routing change of `replica` to `ready` after `after`, once it happens."""
        while True:
            for change in self.changes:
                if change.replica == replica and change.ready is ready and change.at > after:
                    return change
            await asyncio.sleep(self.interval)
