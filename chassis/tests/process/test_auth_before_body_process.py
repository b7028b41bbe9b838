"""SEC-3 through a real server: an anonymous 1 MiB body costs the service next to nothing.

The in-process proof (tests/integration/test_auth_before_body.py) counts the reads; this one
measures what the reads would have cost. The service runs as a process behind uvicorn's own
HTTP parser; batches of 1 MiB JSON bodies that are expensive to parse (half a million numbers,
and objects nested 900 deep) are sent with and without credentials, and the service process's
own CPU time is read from /proc around each batch. Without credentials the body must cost a
small fraction of what parsing it costs an authenticated caller (once, it cost the same: 24 and
56 ms of CPU a request, in-process, before any 401).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis.testing.figures import Figures
from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import ServiceProcess

pytestmark = pytest.mark.process

MIB = 1024 * 1024
_NESTED_OBJECT = b'{"a":' * 900 + b"1" + b"}" * 900 + b","
BODIES = {
    "half a million numbers": (
        b'{"name":"n","extra":[' + b",".join([b"1"] * (MIB // 2 - 20)) + b"]}"
    ),
    "objects nested 900 deep": (
        b'{"name":"n","extra":[' + _NESTED_OBJECT * (MIB // len(_NESTED_OBJECT) - 1) + b"1]}"
    ),
}
REQUESTS = 12
# An anonymous request may cost at most this share of what an authenticated one spends parsing.
MAX_SHARE = 0.2


def cpu_seconds(pid: int) -> float:
    """The CPU time the process's main thread has run, from /proc (Linux): in nanoseconds from
    schedstat where the kernel keeps it, else user and system time in clock ticks."""
    schedstat = Path(f"/proc/{pid}/schedstat")
    if schedstat.exists():
        return int(schedstat.read_text().split()[0]) / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, utime and stime fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_cpu(
    live: ServiceProcess, http: httpx.Client, body: bytes, headers: Mapping[str, str], status: int
) -> float:
    """CPU seconds the service spends per request on `REQUESTS` of these."""
    before = cpu_seconds(live.process.pid)
    for _ in range(REQUESTS):
        response = http.post(
            "/v1/widgets", content=body, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status_code == status, response.text[:300]
    return (cpu_seconds(live.process.pid) - before) / REQUESTS


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")
def test_sec3_an_anonymous_1_mib_body_costs_a_fraction_of_parsing_it(
    live: ServiceProcess, service_credentials: ServiceCredentials, figures: Figures
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        for label, body in BODIES.items():
            assert MIB - 8192 < len(body) <= MIB
            # Alternate, best of three each: other load on the machine hits both alike.
            anonymous, parsed = [], []
            for _ in range(3):
                anonymous.append(batch_cpu(live, http, body, {}, 401))
                parsed.append(batch_cpu(live, http, body, service_credentials.headers, 422))
            cost, parse_cost = min(anonymous), min(parsed)
            figures.add(
                "Authentication before the body (SEC-3)",
                f"1 MiB, {label}: {cost * 1000:.1f} ms CPU a request without credentials (401), "
                f"{parse_cost * 1000:.1f} ms with them (read, parsed, 422)",
            )
            assert cost <= MAX_SHARE * parse_cost, (label, cost, parse_cost)
