"""INF-3 under load: SIGTERM while many clients keep sending, against the service as a process.

Accounting is by request ID: every request carries its own `X-Request-ID`, and the service's
access log says which requests it accepted and how it answered them. So "accepted" is what
the server did, not what the client guessed, and the test can prove that:

- every request sent before the signal got a successful answer;
- the service kept serving while draining (readiness already 503), for SHUTDOWN_DRAIN_SECONDS;
- a request still running when the listener closed finished within the grace period;
- once the listener closed, requests were refused at the connection (never reaching the
  application), and no request the service accepted went unanswered or got a 5xx;
- every widget whose creation was answered 201 is in the database, and no other;
- the process exited 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import free_port, start_service

from tests.support.example_process import EXAMPLE_COMMAND, importable
from tests.support.traffic import REFUSALS, Traffic, accepted_by_service, stored_widget_names

if TYPE_CHECKING:
    from goldenpath_chassis.testing.figures import Figures

pytestmark = pytest.mark.reliability

SLOW = "/v1/test/slow"  # the example's test-only slow route (tests/example/slow.py)
DRAIN_SECONDS = 1.0
GRACE_SECONDS = 10.0
CLIENTS = 16
# Long enough to outlast the drain even when the signal lands a second or two after they began
# (waiting for them to be in flight takes that long on a busy machine).
SLOW_SECONDS = 4.0
LABEL = "shutdown"


def shutdown_seconds(output: str) -> float:
    """From the signal to the end of the shutdown, by the service's own log."""
    moments = {}
    for line in output.splitlines():
        if '"shutdown_signal"' in line or '"shutdown_complete"' in line:
            record = json.loads(line)
            moments[record["event"]] = datetime.fromisoformat(record["timestamp"])
    return (moments["shutdown_complete"] - moments["shutdown_signal"]).total_seconds()


async def test_inf3_sigterm_under_load_loses_no_accepted_request_and_exits_0(
    tmp_path: Path,
    service_env: dict[str, str],
    service_credentials: ServiceCredentials,
    emptied_database: str,
    figures: Figures,
) -> None:
    env = (
        importable()
        | service_env
        | {
            "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        }
    )
    service = start_service(
        EXAMPLE_COMMAND, env=env, port=free_port(), log_path=tmp_path / "service.log"
    )
    limits = httpx.Limits(max_connections=CLIENTS + 8)
    headers = dict(service_credentials.headers)
    try:
        async with httpx.AsyncClient(
            base_url=service.base_url, limits=limits, headers=headers, timeout=GRACE_SECONDS + 5
        ) as client:
            traffic = Traffic(client, LABEL)
            loops = traffic.run(CLIENTS)
            async with asyncio.timeout(30):  # until the service is under steady load
                await traffic.warmed_up.wait()
            slow = [
                asyncio.create_task(
                    traffic.send("slow", "GET", SLOW, params={"seconds": SLOW_SECONDS})
                )
                for _ in range(3)
            ]
            await _until_in_flight(client, len(slow))

            signalled = time.monotonic()
            service.signal(signal.SIGTERM)
            async with httpx.AsyncClient(base_url=service.base_url) as probe:
                readiness = await probe.get("/health/ready")
            exit_code, exited = await asyncio.to_thread(
                service.wait_timed, GRACE_SECONDS + DRAIN_SECONDS + 10
            )
            await asyncio.sleep(0.3)  # and keep sending at a service that is gone
            traffic.stop.set()
            await asyncio.gather(*loops)
            slow_attempts = await asyncio.gather(*slow)
    finally:
        service.stop()
    names_in_database = await stored_widget_names(emptied_database, LABEL)

    attempts = traffic.attempts
    accepted = accepted_by_service(service.output())
    sent_before = [a for a in attempts if a.started < signalled]
    while_draining = [a for a in attempts if a.started >= signalled and a.ok]
    refused = [a for a in attempts if a.error is not None]

    assert exit_code == 0, service.output()[-3000:]
    assert readiness.status_code == 503
    assert readiness.json()["status"] == "draining"
    # Sent before the signal: every one answered, successfully, unless the client (slow on a
    # busy machine) had not connected it before the listener closed: a clean refusal, which
    # the checks below hold to "after the drain" and "never accepted".
    unanswered = [a for a in sent_before if not a.ok and a.error != "ConnectError"]
    assert not unanswered, unanswered
    # Draining still serves: readiness takes the replica out, the listener stays open.
    assert while_draining, "nothing was served between the signal and the listener closing"
    # Requests running when the listener closed finished within the grace period.
    assert all(a.status == 200 for a in slow_attempts), slow_attempts
    assert all(a.ended - signalled > DRAIN_SECONDS for a in slow_attempts)
    # Every answer is a success: no 5xx, nothing cut off after the service accepted it.
    answered = [a for a in attempts if a.status is not None]
    assert all(a.ok for a in answered), [a for a in answered if not a.ok]
    assert all(accepted[a.request_id] == a.status for a in answered if a.request_id in accepted)
    unanswered_but_accepted = [a for a in refused if a.request_id in accepted]
    assert not unanswered_but_accepted, "the service accepted these and never answered"
    # The rest were refused cleanly, at the connection, once the listener had closed.
    assert refused, "no request was refused: the test stopped sending too early"
    assert {a.error for a in refused} <= REFUSALS, {a.error for a in refused}
    # (A refusal ends after the listener closed, which was at least DRAIN_SECONDS after the
    # signal; when it started says little on a busy machine, where the client is slow too.)
    early = [a for a in refused if a.ended < signalled + DRAIN_SECONDS]
    assert not early, f"refused while draining: {early[:3]} (signal at {signalled})"
    assert any(a.error == "ConnectError" and a.started >= exited for a in refused)
    # Nothing accepted is lost, nothing unanswered was written.
    assert names_in_database == traffic.created_names()

    figures.add(
        "Graceful shutdown under load (INF-3)",
        f"{len(attempts)} requests from {CLIENTS} clients: {len(sent_before)} sent before "
        f"SIGTERM, all answered 2xx; {len(while_draining)} served while draining "
        f"({DRAIN_SECONDS:.0f} s); {len(refused)} refused after the listener closed; 0 lost. "
        f"Shutdown complete {shutdown_seconds(service.output()):.1f} s after SIGTERM, "
        f"exit code 0 after {exited - signalled:.1f} s",
    )


async def _until_in_flight(client: httpx.AsyncClient, count: int) -> None:
    """Wait until the service is serving `count` slow requests (on a busy machine they may take
    a while to connect), so that the signal lands while they are in flight."""
    async with asyncio.timeout(30):
        while True:
            if (await client.get(SLOW + "/in-flight")).json()["in_flight"] >= count:
                return
            await asyncio.sleep(0.05)
