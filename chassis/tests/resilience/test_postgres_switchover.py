"""A PostgreSQL switchover, as the service's database address sees it (RES-1, DB-1).

The old primary comes back as a standby, and for a while (a DNS record's lifetime, a Service's
endpoints catching up) the address the service uses still reaches it: connections open and
reads work, but every write is refused with "cannot execute ... in a read-only transaction".
Those connections stay alive once the address names the new primary, so the pool (whose
pre-ping only asks whether a connection is alive) would keep them until it recycles them.

A real primary and a real hot standby made from it with `pg_basebackup`, behind a forwarder
that plays the address.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from goldenpath_chassis import Service
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.databases import create_postgres_database, migrate
from goldenpath_chassis.testing.servers import PostgresServer

from tests.resilience.probes import assert_database_unavailable
from tests.support.tcp_forwarder import TcpForwarder

pytestmark = pytest.mark.resilience


def _standby_of(primary: PostgresServer) -> PostgresServer:
    root = Path(tempfile.mkdtemp(prefix="test-postgres-standby-"))
    if primary._run_as:
        shutil.chown(root, user=primary.user)
    standby = PostgresServer(bindir=primary.bindir, root=root, _run_as=primary._run_as)
    standby._run(
        "pg_basebackup", "--pgdata", str(standby.data), "--host", "127.0.0.1",
        "--port", str(primary.port), "--username", primary.user,
        "--write-recovery-conf", "--checkpoint", "fast",
    )  # fmt: skip
    return standby


@pytest.fixture(scope="module")
def primary_and_standby(postgres_service: Service) -> Iterator[tuple[PostgresServer, str, str]]:
    """A primary holding the example's migrated database, a hot standby of it, and the
    database's URL on each."""
    primary = PostgresServer.create()
    standby: PostgresServer | None = None
    try:
        primary.start()
        url = create_postgres_database(primary.url)
        migrate(postgres_service, url)
        standby = _standby_of(primary)
        standby.start()
        name = make_url(url).database
        assert name is not None
        yield primary, url, standby.url_for(name)
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()


def _through(url: str, forwarder: TcpForwarder) -> str:
    return make_url(url).set(port=forwarder.port).render_as_string(hide_password=False)


@pytest.fixture
async def forwarder(
    primary_and_standby: tuple[PostgresServer, str, str],
) -> AsyncIterator[TcpForwarder]:
    primary, _, _ = primary_and_standby
    forwarder = TcpForwarder(primary.port)
    await forwarder.start()
    yield forwarder
    await forwarder.close()


@pytest.fixture(params=["", "?target_session_attrs=read-write"], ids=["any", "read-write"])
async def client(  # noqa: PLR0917 - pytest passes fixtures by name
    request: pytest.FixtureRequest,
    postgres_service: Service,
    primary_and_standby: tuple[PostgresServer, str, str],
    forwarder: TcpForwarder,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
) -> AsyncIterator[httpx.AsyncClient]:
    """The service on the address, with the driver's default or asking for a server that takes
    writes (libpq's `target_session_attrs`, which asyncpg reads in the URL)."""
    _, url, _ = primary_and_standby
    settings = postgres_service.load_settings(
        **auth_settings, app_env="test", database_url=_through(url, forwarder) + request.param
    )
    app = postgres_service.create_app(settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as http:
        yield http


def _port(url: str) -> int:
    port = make_url(url).port
    assert port is not None
    return port


async def test_res1_writes_a_standby_refuses_are_503_and_the_pool_leaves_it_when_the_address_moves(
    client: httpx.AsyncClient,
    forwarder: TcpForwarder,
    primary_and_standby: tuple[PostgresServer, str, str],
) -> None:
    primary, _, standby_url = primary_and_standby
    run = uuid.uuid4().hex  # the database is the module's: names of this run's own
    assert (await client.post("/v1/widgets", json={"name": f"Before {run}"})).status_code == 201

    # The old primary restarts as a standby: its connections close, and the address reaches it.
    forwarder.retarget(_port(standby_url), drop=True)
    refused = [
        await client.post("/v1/widgets", json={"name": f"Refused {n} {run}"}) for n in range(3)
    ]
    for response in refused:
        assert_database_unavailable(response)  # a database not there for writes: never a 500
    # Reads still work, unless the URL asked for a server that takes writes.
    assert (await client.get("/v1/widgets")).status_code in {200, 503}

    # The address now names the new primary; the standby stays up, its connections open.
    forwarder.retarget(primary.port, drop=False)
    after = [await client.post("/v1/widgets", json={"name": f"After {n} {run}"}) for n in range(3)]
    statuses = [response.status_code for response in after]
    # At most the first write meets a pooled connection to the standby; it clears the pool.
    assert statuses in ([201, 201, 201], [503, 201, 201]), [r.text for r in after]
