"""Benchmark: the example service driven at about three times its capacity, with and without the
concurrency limit (`MAX_CONCURRENT_REQUESTS`, admission.py), side by side in one run.

The example runs as a process on a private PostgreSQL, as the process tests run it (JSON logs,
JWTs verified, rate limits too high to throttle); the request is an authenticated list of five
widgets from the database. First its capacity: a closed loop of `--connections` clients, back
to back. Then an open loop, as independent clients send: requests at `--load` times that rate
for `--seconds`, each on an idle connection or a new one, whether or not earlier ones were
answered, each given up after `--timeout` seconds (a client's or a load balancer's timeout).
Latency is counted from when a request was due, so a late generator does not flatter the
server. Once with the default limit, once with the limit out of reach (100,000), in
alternating order over `--rounds`.

Printed, for each: the accepted (200) requests' p50 and p99, the shed (503) and their p50,
those given up, and the goodput (200s a second).
The target: with the limit, the accepted requests' p99 stays
bounded (below the timeout, near the limit divided by the capacity, Little's law); without it,
latency climbs with the queue until requests are given up. It fails nothing.
`uv run python benchmarks/overload.py [--load 3] [--seconds 10] [--rounds 1]` (in `chassis/`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# `python benchmarks/overload.py` puts benchmarks/ first on sys.path, not chassis/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from goldenpath_chassis._core.settings.groups import ServerSettings
from goldenpath_chassis.testing.auth import fresh_service_credentials
from goldenpath_chassis.testing.databases import create_postgres_database, migrate
from goldenpath_chassis.testing.live import service_environment

from tests.example.service import SERVICE
from tests.support.example_process import running_example

PATH = "/v1/widgets?limit=5"
OUT_OF_REACH = 100_000
DEFAULT_LIMIT = ServerSettings().max_concurrent_requests
GIVEN_UP = -1


class _Exchange(asyncio.Protocol):
    """One keep-alive connection; one request at a time; the status of each answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[int] | None = None
        self._buffer = b""
        self._needed: int | None = None
        self._status = 0
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._needed is None:
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            lines = head.split(b"\r\n")
            self._status = int(lines[0].split()[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in lines[1:]
                if line.lower().startswith(b"content-length:")
            )
            self._buffer, self._needed = rest, length
        if len(self._buffer) >= self._needed and self.answer is not None:
            self._buffer, self._needed = b"", None
            if not self.answer.done():
                self.answer.set_result(self._status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("closed"))
        if not self.lost.done():
            self.lost.set_result(None)


@dataclass
class Outcome:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of the 200s
    shed_latencies: list[float] = field(default_factory=list)  # of the 503s
    statuses: Counter[int] = field(default_factory=Counter)

    def figures(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
        p99 = ordered[int(len(ordered) * 0.99)] * 1000 if ordered else float("nan")
        sent = sum(self.statuses.values())
        shed = self.shed_latencies
        shed_p50 = statistics.median(shed) * 1000 if shed else float("nan")
        return (
            f"{sent:6d} {self.statuses[200]:6d} {p50:8.1f} {p99:8.1f} "
            f"{self.statuses[503]:6d} {shed_p50:8.1f} {self.statuses[GIVEN_UP]:7d} "
            f"{self.statuses[200] / self.seconds:7.0f}"
        )


class Client:
    def __init__(self, port: int, headers: Mapping[str, str]) -> None:
        self._port = port
        lines = [f"GET {PATH} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._idle: list[_Exchange] = []
        self._all: list[_Exchange] = []

    async def _connection(self) -> _Exchange:
        if self._idle:
            return self._idle.pop()
        loop = asyncio.get_running_loop()
        _, exchange = await loop.create_connection(_Exchange, "127.0.0.1", self._port)
        self._all.append(exchange)
        return exchange

    async def one(self, give_up_after: float) -> int:
        """The answer's status, or GIVEN_UP (its connection closed, as a client's would be);
        the timeout counts the connecting too."""
        exchange: _Exchange | None = None

        async def exchanged() -> int:
            nonlocal exchange
            exchange = await self._connection()
            return await exchange.send(self._request)

        try:
            status = await asyncio.wait_for(exchanged(), max(give_up_after, 0.001))
        except (TimeoutError, OSError):
            if exchange is not None and exchange.transport is not None:
                exchange.transport.close()
            return GIVEN_UP
        assert exchange is not None
        self._idle.append(exchange)
        return status

    async def close(self) -> None:
        for exchange in self._all:
            if exchange.transport is not None:
                exchange.transport.close()
        for exchange in self._all:
            with contextlib.suppress(Exception):
                await exchange.lost


async def capacity(client: Client, *, connections: int, seconds: float) -> float:
    """Answers a second with `connections` clients sending back to back."""
    deadline = time.monotonic() + seconds
    answered = 0

    async def loop() -> None:
        nonlocal answered
        while time.monotonic() < deadline:
            if await client.one(give_up_after=30) == 200:
                answered += 1

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return answered / (time.monotonic() - started)


async def open_loop(
    client: Client, *, rate: float, seconds: float, give_up_after: float
) -> Outcome:
    outcome = Outcome(seconds)
    start = time.monotonic() + 0.1
    count = int(rate * seconds)

    async def at(due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        status = await client.one(give_up_after - max(0.0, time.monotonic() - due))
        outcome.statuses[status] += 1
        if status == 200:
            outcome.latencies.append(time.monotonic() - due)
        elif status == 503:
            outcome.shed_latencies.append(time.monotonic() - due)

    await asyncio.gather(*(at(start + number / rate) for number in range(count)))
    return outcome


async def drive(port: int, headers: Mapping[str, str], **options: float) -> Outcome:
    client = Client(port, headers)
    try:
        await capacity(client, connections=4, seconds=1.0)  # warm-up
        return await open_loop(client, **options)
    finally:
        await client.close()


async def measure_capacity(
    port: int, headers: Mapping[str, str], connections: int, seconds: float
) -> float:
    client = Client(port, headers)
    try:
        await capacity(client, connections=connections, seconds=1.0)  # warm-up
        return await capacity(client, connections=connections, seconds=seconds)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=float, default=3.0, help="times the measured capacity")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=2.0, help="a client gives up after")
    parser.add_argument("--connections", type=int, default=10, help="for the capacity")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--capacity-seconds", type=float, default=5.0)
    arguments = parser.parse_args()
    from goldenpath_chassis.testing.servers import PostgresServer  # noqa: PLC0415

    postgres = PostgresServer.create()
    postgres.start()
    try:
        database_url = create_postgres_database(postgres.url)
        migrate(SERVICE, database_url)
        credentials = fresh_service_credentials(["widgets:read"])
        env = service_environment(
            database_url=database_url, redis_url=None, credentials=credentials
        )
        headers = dict(credentials.headers)
        folder = Path(tempfile.mkdtemp(prefix="overload-"))
        with running_example(env, log_path=folder / "capacity.log") as service:
            rate = asyncio.run(
                measure_capacity(
                    service.port, headers, arguments.connections, arguments.capacity_seconds
                )
            )
        offered = rate * arguments.load
        print(
            f"capacity: {rate:.0f} answers/s ({arguments.connections} connections, back to "
            f"back); offered {offered:.0f}/s ({arguments.load:g}x) for {arguments.seconds:g} s, "
            f"clients give up after {arguments.timeout:g} s"
        )
        print(
            f"{'MAX_CONCURRENT_REQUESTS':>24} {'sent':>6} {'200':>6} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'503':>6} {'503 p50':>8} {'gave up':>7} {'200/s':>7}"
        )
        limits = [DEFAULT_LIMIT, OUT_OF_REACH]
        for round_number in range(arguments.rounds):
            for limit in limits if round_number % 2 == 0 else limits[::-1]:
                log = folder / f"limit-{limit}-{round_number}.log"
                with running_example(
                    env | {"MAX_CONCURRENT_REQUESTS": str(limit)}, log_path=log
                ) as service:
                    outcome = asyncio.run(
                        drive(
                            service.port,
                            headers,
                            rate=offered,
                            seconds=arguments.seconds,
                            give_up_after=arguments.timeout,
                        )
                    )
                label = f"{limit} (default)" if limit == DEFAULT_LIMIT else f"{limit} (off)"
                print(f"{label:>24} {outcome.figures()}", flush=True)
        bound = DEFAULT_LIMIT / rate * 1000
        print(
            f"target: with the limit, the accepted p99 bounded, near the limit / capacity "
            f"({bound:.0f} ms) and below the clients' {arguments.timeout:g} s; the service's "
            f"logs in {folder}"
        )
    finally:
        postgres.destroy()


if __name__ == "__main__":
    main()
