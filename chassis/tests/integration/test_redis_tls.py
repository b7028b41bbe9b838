"""Redis over TLS (`rediss://`) against a real redis-server with a TLS listener on loopback: the
server's certificate must be for the URL's host, on each of the chassis's clients (the shared
one, the near cache's tracking connection, `sessions revoke`'s).

The certificates come from a test CA, trusted the way a service trusts a private CA
(SSL_CERT_FILE). A certificate that CA issued for another name is what an attacker on the path
holding any valid certificate presents: it must be refused at the handshake.
"""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import trustme
from redis.exceptions import ConnectionError as RedisConnectionError

from goldenpath_chassis import load_settings
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis._core.redis import redis_client, tracking_connection
from goldenpath_chassis._core.security.revocation import RevocationUnavailableError
from goldenpath_chassis._core.sessions.cli import _revoke_subject
from goldenpath_chassis.testing.servers import PORT_ATTEMPTS, RedisServer, free_port, port_taken

from tests.example.service import ExampleSettings

pytestmark = pytest.mark.integration

Ping = Callable[[str], Awaitable[None]]


async def ping_through_client(url: str) -> None:
    """The process's shared client, as `open_resources` opens it."""
    settings = load_settings(ExampleSettings, {"app_env": "test", "redis_url": url})
    async with redis_client(settings, HealthRegistry()) as client:
        assert client is not None
        await client.ping()


async def ping_through_tracking(url: str) -> None:
    """The near cache's own connection."""
    connection = await tracking_connection(url, connect_timeout=5)
    try:
        await connection.send_command("PING")
        assert await connection.read_response() == b"PONG"
    finally:
        await connection.disconnect()


async def revoke_through_command(url: str) -> None:
    """`sessions revoke`'s own client, what an operator runs after an account was stolen."""
    settings = load_settings(ExampleSettings, {"app_env": "test", "redis_url": url})
    await _revoke_subject(argparse.Namespace(subject="stolen", tenant=None), settings)


PINGS = [
    pytest.param(ping_through_client, id="client"),
    pytest.param(ping_through_tracking, id="tracking"),
    pytest.param(revoke_through_command, id="sessions-revoke"),
]


def verification_failure(error: BaseException) -> ssl.SSLCertVerificationError:
    """The certificate's refusal behind `error` (a cause, or the error being handled when it was
    raised: the revocation store raises its own error in place of Redis's)."""
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, ssl.SSLCertVerificationError):
            return link
        link = link.__cause__ or link.__context__
    raise AssertionError(f"no certificate refusal behind {error!r}")


@pytest.fixture
def test_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca


def serving_tls(ca: trustme.CA, certified: str, folder: Path) -> Iterator[int]:
    """A redis-server whose TLS port presents a certificate for `certified`; yields that port."""
    issued = ca.issue_cert(certified)
    certificate, key = folder / f"{certified}.pem", folder / f"{certified}.key"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    server, tls_port = started_with_tls(certificate, key)
    try:
        yield tls_port
    finally:
        server.destroy()


def started_with_tls(certificate: Path, key: Path) -> tuple[RedisServer, int]:
    """A started redis-server with a TLS port as well, and that port. A TLS port found taken
    (a free port is free only until someone binds it) is replaced, as `start` replaces the
    plain one."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        tls_port = free_port()
        server = RedisServer.create(
            options=(
                "--tls-port", str(tls_port),
                "--tls-cert-file", str(certificate),
                "--tls-key-file", str(key),
                "--tls-auth-clients", "no",
            )
        )  # fmt: skip
        try:
            server.start()
        except RuntimeError:
            taken = port_taken(server.log_path.read_text(errors="replace"))
            server.destroy()
            if not taken or attempt == PORT_ATTEMPTS:
                raise
        else:
            return server, tls_port
    raise AssertionError("PORT_ATTEMPTS is at least 1")


@pytest.fixture
def tls_for_localhost(test_ca: trustme.CA, tmp_path: Path) -> Iterator[int]:
    yield from serving_tls(test_ca, "localhost", tmp_path)


@pytest.fixture
def tls_for_another_host(test_ca: trustme.CA, tmp_path: Path) -> Iterator[int]:
    yield from serving_tls(test_ca, "example.test", tmp_path)


@pytest.mark.parametrize("ping", PINGS)
async def test_a_certificate_for_the_urls_host_is_accepted(
    tls_for_localhost: int, ping: Ping
) -> None:
    """The set-up works: the test CA is trusted, and TLS to this server answers."""
    await ping(f"rediss://localhost:{tls_for_localhost}/0")


@pytest.mark.parametrize("ping", PINGS)
async def test_a_certificate_for_another_host_is_refused(
    tls_for_another_host: int, ping: Ping
) -> None:
    """Signed by the trusted CA, valid, but for example.test: refused as the handshake verifies
    it. redis-py before 6.0 checked only the chain and answered PONG."""
    with pytest.raises((RedisConnectionError, RevocationUnavailableError)) as refused:
        await ping(f"rediss://localhost:{tls_for_another_host}/0")
    failure = verification_failure(refused.value)
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in str(failure)
