"""Outbound calls to URLs that came from users (callbacks, webhooks): the SSRF guard (SEC-1).

A URL a user gave must not make the service call what only the service can reach: the cloud's
metadata endpoint (169.254.169.254), its own loopback, the cluster's private addresses. The
guard sits where a connection is made, so nothing about the request can slip past it:
- the transport refuses any scheme but http/https (https only in production), any URL with
  userinfo, and any port but the allowed ones (`HTTP_USER_URL_ALLOWED_PORTS`, 80 and 443 by
  default: a public host's SMTP, Redis or admin port is not a callback), on every request,
  redirects included;
- the network backend resolves the host itself, refuses when ANY address it resolves to is not
  globally routable, or carries an IPv4 address that is not (unless inside
  `HTTP_USER_URL_ALLOWED_NETWORKS`), and connects to the address it checked: there is no second
  resolution an attacker's DNS could answer differently (DNS rebinding). TLS still verifies the
  certificate against the URL's hostname (httpcore passes the origin's host as the server
  name), and the Host header is the URL's.

A refusal raises `UnsafeUrlError` before any byte is sent. Proxies from the environment are
not used: a proxy would resolve the name again, out of the guard's sight.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, Literal

import anyio
import httpcore
import httpx

from .pool_transport import PoolTransport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
# Any port, said explicitly: an empty list never means it.
ANY_PORT: Final = "*"
AllowedPorts = frozenset[int] | Literal["*"]
WEB_PORTS: Final = frozenset({80, 443})

# Refused whatever `is_global` says (it has been wrong for some of these across Python
# versions, and multicast counts as global).
_NEVER_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
# IPv6 addresses whose last 32 bits are an IPv4 address a translator or tunnel reaches: NAT64's
# well-known prefix, SIIT's IPv4-translated addresses (RFC 2765) and the deprecated
# IPv4-compatible ones (RFC 4291). Python calls the last two global whatever they carry.
_CARRYING_IPV4: tuple[ipaddress.IPv6Network, ...] = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("::/96"),
)


class UnsafeUrlError(Exception):
    """A user's URL the service refuses to call; nothing was sent. The message says why, and
    names the host but never the whole URL (its path and query often carry tokens)."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to the same host: mapped, NAT64, IPv4-translated,
    IPv4-compatible, 6to4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in network for network in _CARRYING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: IPAddress) -> bool:
    """Globally routable, and so is the IPv4 address it embeds, if any."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    if any(address in network for network in _NEVER_PUBLIC if network.version == address.version):
        return False
    return address.is_global


def port_of(url: httpx.URL) -> int:
    """The port connected to: the URL's, or its scheme's default (httpx drops an explicit
    default port, so `https://host:443/` is `https://host/`)."""
    return url.port or (443 if url.scheme == "https" else 80)


class UserUrlPolicy:
    """What a user's URL may point at. `allowed_networks` are internal networks a team trusts
    (their own partners' hosts); everything else must be public. `allowed_ports`: the ports it
    may name, or `ANY_PORT`."""

    def __init__(
        self,
        *,
        https_only: bool,
        allowed_networks: Iterable[IPNetwork] = (),
        allowed_ports: Iterable[int] | Literal["*"] = WEB_PORTS,
    ) -> None:
        self.https_only = https_only
        self.allowed_networks = tuple(allowed_networks)
        self.allowed_ports: AllowedPorts = (
            ANY_PORT if allowed_ports == ANY_PORT else frozenset(allowed_ports)
        )
        if not self.allowed_ports:
            raise ValueError("No port allowed: name them (80, 443), or ANY_PORT for any.")

    def check_url(self, url: httpx.URL) -> None:
        schemes = {"https"} if self.https_only else {"http", "https"}
        if url.scheme not in schemes:
            raise UnsafeUrlError(f"Only {' or '.join(sorted(schemes))} URLs may be called.")
        if url.userinfo:
            raise UnsafeUrlError("A URL with credentials in it (user:password@) is refused.")
        if not url.host:
            raise UnsafeUrlError("The URL has no host.")
        self.check_port(url.host, port_of(url))

    def check_port(self, host: str, port: int) -> None:
        if self.allowed_ports != ANY_PORT and port not in self.allowed_ports:
            raise UnsafeUrlError(f"Port {port} ({host}) is not one a user's URL may reach.")

    async def check(
        self,
        url: str | httpx.URL,
        *,
        resolver: Resolver | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (bounds the resolution only)
    ) -> None:
        """A call's checks without the call: the URL, then every address its host resolves to
        (once). For a URL a user registers, so a bad one is refused then, not at its first
        call. A host that does not resolve (within `timeout`) is refused too: what cannot be
        checked is not accepted."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise UnsafeUrlError("Not a valid URL.") from exc
        self.check_url(parsed)
        port = port_of(parsed)
        try:
            with anyio.fail_after(timeout):
                addresses = await self.checked_addresses(parsed.host, port, resolver or resolve)
        except OSError as exc:  # TimeoutError is one
            raise UnsafeUrlError(f"{parsed.host} did not resolve.") from exc
        if not addresses:
            raise UnsafeUrlError(f"{parsed.host} resolved to no address.")

    async def checked_addresses(self, host: str, port: int, resolver: Resolver) -> list[IPAddress]:
        """The host's addresses, resolved once, every one checked: any one could be the one
        connected to. Raises `OSError` when the host does not resolve."""
        found = await resolver(host, port)
        # A scoped IPv6 address (fe80::1%eth0) parses without its zone.
        addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in found]
        for address in addresses:
            self.check_address(host, address)
        return addresses

    def check_address(self, host: str, address: IPAddress) -> None:
        if any(address in network for network in self.allowed_networks):
            return
        if not is_public(address):
            raise UnsafeUrlError(
                f"{host} resolves to {address}, which is not a public address: refused."
            )


async def resolve(host: str, port: int) -> Sequence[str]:
    """The host's addresses, as the system resolver gives them (an address stays itself)."""
    answers = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class PinningBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address, connects only to a checked one (by its literal)."""

    def __init__(
        self,
        policy: UserUrlPolicy,
        *,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        # anyio's backend runs on asyncio (the service's loop) and on trio alike.
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The transport checked the URL's port; the connection's is checked too, where it is made.
        self.policy.check_port(host, port)
        with anyio.fail_after(timeout):
            try:
                addresses = await self.policy.checked_addresses(host, port, self.resolver)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} did not resolve: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolved to no address.")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeUrlError("A user's URL never reaches a unix socket.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class UserUrlTransport(PoolTransport):
    """A transport whose connection pool connects through the pinning backend; every
    request's URL (each redirect hop's too) checked before it is sent. No proxy: none is
    configured, and the environment's is not read."""

    def __init__(
        self,
        policy: UserUrlPolicy,
        *,
        tls: ssl.SSLContext,
        limits: httpx.Limits,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(
            httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=backend or PinningBackend(policy),
            )
        )
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)
        return await super().handle_async_request(request)
