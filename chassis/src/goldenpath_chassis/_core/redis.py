"""The shared Redis client, one per process, or none in development without `REDIS_URL`.

Redis backs the cache, the rate limiter's counters and the signed-out sessions, so every
replica sees the same state. Start-up does not wait for Redis: an outage shows in readiness (as
"degraded": the check is not critical) and the users of the client degrade by their documented
policy (the cache is bypassed, the rate limiter counts in each process's memory, browser
sessions answer 503 while bearer tokens and API keys work on), rather than the process refusing
to start or leaving rotation. A Redis that stops answering costs a request one timeout, not
one per user: after any timeout the client skips Redis for a moment, then one command tries it
again (redis_unanswered.py).

Over TLS (`rediss://`) the server's certificate must verify, for the URL's host: said here for
every client the chassis makes (`redis_from_url`), not left to redis-py, whose default before 6.0
(the chassis allows 5.2) checked the chain but not the name, so any certificate a trusted CA
issued, for any host, was accepted.

A connection that Redis answers with READONLY has reached a replica: after a failover the old
primary comes back as one, and for a while (a DNS record's lifetime, a Service's endpoints
catching up) the address may still lead there. Such a connection stays open once the address
names the new primary, and the pool's health check (a PING, which a replica answers) keeps it,
so every write through it would be refused until the process restarted. So a connection that
was refused as a replica is closed before its next command (not at once: a pipeline's other
replies are still to be read), and the pool opens a new one to wherever the address now leads.
The error itself reaches the caller as before (an outage, by each user's policy), and the
readiness check reports such a Redis as failing (`ReadOnlyError`) rather than answering.
Whatever else holds a connection of its own through the address (the near cache's listener)
is told (`when_refused_as_replica`), so that it connects again too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar, cast

from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .health import HealthRegistry
from .redis_unanswered import UnansweredWindow
from .settings import ChassisSettings


def tls_verification(url: str) -> dict[str, Any]:
    """The options that make a `rediss://` connection verify the server's certificate and its
    hostname; none for a connection without TLS (redis-py refuses them there). A URL's own
    query options still apply over these: turning a check off stays the URL's explicit choice."""
    if not url.startswith("rediss://"):
        return {}
    return {"ssl_cert_reqs": "required", "ssl_check_hostname": True}


class _ReplicaRefusalMixin:
    """Closes the connection before its next command once Redis refused a write as a replica."""

    _refused_as_replica = False
    # Set for each client's connections, a class of their own (`redis_from_url`).
    replica_refusal_callbacks: ClassVar[tuple[Callable[[], None], ...]] = ()

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ReadOnlyError:
            self._refused_as_replica = True
            for callback in self.replica_refusal_callbacks:
                callback()
            raise

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        if self._refused_as_replica:
            self._refused_as_replica = False
            await self.disconnect()  # type: ignore[attr-defined]
        await super().send_packed_command(*args, **kwargs)  # type: ignore[misc]


class _UnansweredMixin:
    """Skips Redis for a moment after a timeout, on every connection of the client at once,
    then lets one command try it again (redis_unanswered.py); off unless
    `skip_while_unanswered` set the client's window."""

    # Set for each client's connections, a class of their own (`redis_from_url`).
    unanswered: ClassVar[UnansweredWindow | None] = None

    async def connect(self, *args: Any, **kwargs: Any) -> None:
        # The pool calls this before every command, connected or not: refused here, nothing is
        # opened or sent, and the pool keeps the connection as it was.
        with self._asking_redis(admit=True):
            await super().connect(*args, **kwargs)  # type: ignore[misc]

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        with self._asking_redis(admit=True):
            await super().send_packed_command(*args, **kwargs)  # type: ignore[misc]

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        with self._asking_redis(admit=False):
            response = await super().read_response(*args, **kwargs)  # type: ignore[misc]
        if self.unanswered is not None:
            self.unanswered.answered()
        return response

    @contextmanager
    def _asking_redis(self, *, admit: bool) -> Iterator[None]:
        """Tells the window how asking Redis ended, whatever ended it (a trial left unresolved
        would keep the other commands refused)."""
        window = self.unanswered
        if window is None:
            yield
            return
        if admit:
            window.admit(self)
        try:
            yield
        except RedisTimeoutError:
            window.timed_out()
            raise
        except ResponseError:  # an error reply: Redis answered
            window.answered()
            raise
        except BaseException:
            window.failed(self)
            raise


class _PrimaryConnection(_UnansweredMixin, _ReplicaRefusalMixin, Connection):
    pass


class _PrimarySSLConnection(_UnansweredMixin, _ReplicaRefusalMixin, SSLConnection):
    pass


class _PrimaryUnixConnection(_UnansweredMixin, _ReplicaRefusalMixin, UnixDomainSocketConnection):
    pass


_PRIMARY_CONNECTIONS: dict[type[Any], type[Any]] = {
    Connection: _PrimaryConnection,
    SSLConnection: _PrimarySSLConnection,
    UnixDomainSocketConnection: _PrimaryUnixConnection,
}


def redis_from_url(url: str, **options: Any) -> Redis:
    """A client for `url` with `options`, its TLS, if any, verified for the URL's host, whose
    connections refused as a replica's are replaced (the module docstring says why)."""
    # No `retry`: the connections `from_url` makes retry nothing (redis-py 5.2 to 8.x; the default
    # `Retry` of 6.0 and later is `Redis(...)`'s, for a pool it builds itself). So a Redis that
    # stops answering costs a command one timeout, as the documents say, and each user's breaker
    # or cool-down decides what follows (tests/resilience/test_redis_blackholed.py).
    client = Redis.from_url(url, **options, **tls_verification(url))
    pool = client.connection_pool
    primary = _PRIMARY_CONNECTIONS.get(pool.connection_class)
    if primary is not None:
        pool.connection_class = type(primary.__name__, (primary,), {})
    return client


def when_refused_as_replica(client: Redis, callback: Callable[[], None]) -> None:
    """Call `callback` each time Redis refuses one of `client`'s commands as a replica."""
    connection_class = client.connection_pool.connection_class
    if issubclass(connection_class, _ReplicaRefusalMixin):
        connection_class.replica_refusal_callbacks = (
            *connection_class.replica_refusal_callbacks,
            callback,
        )


def skip_while_unanswered(client: Redis, window: UnansweredWindow) -> None:
    """After a timeout, fail `client`'s commands at once while `window` says so, whichever
    user of the client sent the command that timed out (redis_unanswered.py)."""
    connection_class = client.connection_pool.connection_class
    if issubclass(connection_class, _UnansweredMixin):
        connection_class.unanswered = window


@asynccontextmanager
async def redis_client(
    settings: ChassisSettings, health: HealthRegistry
) -> AsyncIterator[Redis | None]:
    if settings.redis.url is None:
        yield None
        return
    client = redis_from_url(
        settings.redis.url.get_secret_value(),
        socket_connect_timeout=settings.redis.timeout_seconds,
        socket_timeout=settings.redis.timeout_seconds,
        health_check_interval=30,
    )
    # Every part of a request that reaches Redis uses this client: one timeout is the request's.
    skip_while_unanswered(client, UnansweredWindow())

    async def ping() -> None:
        await answers_as_primary(client)

    health.register("redis", ping, critical=False)
    try:
        yield client
    finally:
        await client.aclose()


async def answers_as_primary(client: Redis) -> None:
    """Raise unless Redis answers, as a primary: a replica answers PING too, but refuses every
    write the service makes (`ReadOnlyError`, which readiness then names). Without the right to
    ask (ROLE is an admin command an ACL may withhold), an answer is all it can tell."""
    try:
        role = await client.execute_command("ROLE")  # type: ignore[no-untyped-call]
    except ResponseError:
        await client.ping()
        return
    if role[0] not in (b"master", "master"):
        raise ReadOnlyError("Redis answers as a replica")


async def tracking_connection(url: str, *, connect_timeout: float) -> Connection:
    """A connection of its own for the near cache's invalidations (`near_cache.py`).

    RESP2, so the invalidations arrive as Pub/Sub messages on it, and no read timeout: it waits
    for messages, and the listener's PINGs tell whether Redis still answers.
    """
    client = redis_from_url(
        url,
        protocol=2,
        socket_connect_timeout=connect_timeout,
        socket_timeout=None,
        health_check_interval=0,
    )
    made = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
    connection = cast(Connection, made)
    await connection.connect()  # type: ignore[no-untyped-call]
    return connection
