"""PostgreSQL over TLS, as the service's security guide tells a team to configure it, against a
real PostgreSQL whose certificate comes from a test CA: `DATABASE_URL`'s `sslmode` and
`sslrootcert` reach asyncpg through the chassis's engine.

With `sslmode=verify-full` a certificate for another host is refused; without `sslmode` it is
taken (asyncpg's `prefer`, which the guide warns about): if asyncpg's default changes, the
guide's warning is out of date and this says so.
"""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import Iterator

import pytest
import trustme
from sqlalchemy import text

from goldenpath_chassis import load_settings
from goldenpath_chassis._core.database import DatabaseUnavailableError, open_database
from goldenpath_chassis._core.health import HealthRegistry
from goldenpath_chassis.testing.servers import PostgresServer

from tests.example.service import ExampleSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_for_localhost(test_ca: trustme.CA) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster presenting a certificate for `localhost` only, the CA's certificate
    written beside it as `ca.pem`. Reached as 127.0.0.1, it is a certificate for another host."""
    server = PostgresServer.create()
    issued = test_ca.issue_cert("localhost")
    certificate, key = server.root / "server.pem", server.root / "server.key"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    test_ca.cert_pem.write_to_path(str(server.root / "ca.pem"))
    key.chmod(0o600)  # PostgreSQL refuses a key others can read
    if os.geteuid() == 0:
        for path in (certificate, key):
            shutil.chown(path, user="postgres")
    server.settings = ("ssl=on", f"ssl_cert_file={certificate}", f"ssl_key_file={key}")
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def url_of(server: PostgresServer, host: str, query: str) -> str:
    return f"postgresql+asyncpg://{server.user}@{host}:{server.port}/postgres{query}"


def verifying(server: PostgresServer) -> str:
    return f"?sslmode=verify-full&sslrootcert={server.root / 'ca.pem'}"


async def is_tls(url: str) -> bool:
    """Connect through the chassis's engine; whether the session is encrypted."""
    settings = load_settings(ExampleSettings, {"app_env": "test", "database_url": url})
    async with (
        open_database(settings, HealthRegistry()) as database,
        database.engine.connect() as connection,
    ):
        found = await connection.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        )
        return bool(found.scalar_one())


async def test_verify_full_with_the_ca_connects_encrypted(
    tls_for_localhost: PostgresServer,
) -> None:
    server = tls_for_localhost
    assert await is_tls(url_of(server, "localhost", verifying(server)))


async def test_verify_full_refuses_a_certificate_for_another_host(
    tls_for_localhost: PostgresServer,
) -> None:
    """Refused at the handshake; the chassis reports it as the database being unreachable."""
    server = tls_for_localhost
    with pytest.raises(DatabaseUnavailableError) as refused:
        await is_tls(url_of(server, "127.0.0.1", verifying(server)))
    failure = refused.value.__cause__
    assert isinstance(failure, ssl.SSLCertVerificationError), repr(failure)
    assert "certificate is not valid for '127.0.0.1'" in str(failure)


async def test_without_sslmode_a_certificate_for_another_host_is_taken(
    tls_for_localhost: PostgresServer,
) -> None:
    """What the guide warns about: asyncpg's `prefer` encrypts and checks nothing."""
    assert await is_tls(url_of(tls_for_localhost, "127.0.0.1", ""))
