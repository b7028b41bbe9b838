"""SEC-1: URLs from users go through a client that refuses non-public destinations (SSRF).

Real servers on loopback: one that records every connection made to it shows a refused call
never connected; the guard's own backend shows the address connected to is the one checked; an
HTTPS server with a test CA's certificate shows TLS is still about the URL's host, not the
address connected to.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import httpcore
import httpx
import pytest
import trustme

from goldenpath_chassis._core.http_client import (
    OutboundHttp,
    RetryPolicy,
    load_tls_context,
    outbound_http,
)
from goldenpath_chassis._core.resilience import CircuitBreakers, DependencyUnavailableError
from goldenpath_chassis._core.settings import ChassisSettings
from goldenpath_chassis._core.user_urls import (
    ANY_PORT,
    PinningBackend,
    UserUrlPolicy,
    UserUrlTransport,
    is_public,
)
from goldenpath_chassis.security import UnsafeUrlError
from goldenpath_chassis.testing.loopback_http import served_from_a_thread

from tests.support.flaky_server import flaky_server
from tests.support.tls_server import serving_tls

pytestmark = pytest.mark.integration

ONCE = RetryPolicy(attempts=1, deadline_seconds=5)


class _Answer(BaseHTTPRequestHandler):
    location: str | None = None

    def do_GET(self) -> None:
        self.server.arrivals.append(self.headers.get("Host", ""))  # type: ignore[attr-defined]
        self.send_response(302 if self.location else 200)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    """Counts the connections it accepts, before any byte is read."""

    def __init__(self, host: str, location: str | None) -> None:
        handler = type("Handler", (_Answer,), {"location": location})
        super().__init__((host, 0), handler)
        self.connections = 0
        self.arrivals: list[str] = []

    def get_request(self) -> tuple[socket.socket, Any]:
        accepted = super().get_request()
        self.connections += 1
        return accepted

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def serving(host: str = "127.0.0.1", location: str | None = None) -> Iterator[RecordingServer]:
    with served_from_a_thread(RecordingServer(host, location)) as server:
        yield server


class RecordingBackend(httpcore.AnyIOBackend):
    """The real backend, noting the host of every connection it opens."""

    def __init__(self) -> None:
        super().__init__()
        self.connected_to: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected_to.append(host)
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


def guarded(
    allowed: Sequence[str] = (),
    *,
    ports: Iterable[int] | Literal["*"] = ANY_PORT,
    https_only: bool = False,
    backend: Any = None,
    tls: ssl.SSLContext | None = None,
) -> OutboundHttp:
    policy = UserUrlPolicy(
        https_only=https_only,
        allowed_networks=[ipaddress.ip_network(n) for n in allowed],
        allowed_ports=ports,
    )
    transport = UserUrlTransport(
        policy,
        tls=tls if tls is not None else httpx.create_ssl_context(),
        limits=httpx.Limits(),
        backend=PinningBackend(policy, inner=backend) if backend is not None else None,
    )
    client = httpx.AsyncClient(transport=transport, timeout=2)
    return OutboundHttp(
        httpx.AsyncClient(timeout=2),
        breakers=CircuitBreakers(threshold=50, reset_seconds=60),
        policy=ONCE,
        user_url_client=client,
        user_url_policy=policy,
    ).for_user_urls()


@pytest.fixture
async def user_urls() -> AsyncIterator[OutboundHttp]:
    http = guarded()
    yield http
    await http.client.aclose()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"], ids=["ip", "name", "mapped"]
)
async def test_sec1_a_user_url_to_loopback_is_refused_unconnected(
    user_urls: OutboundHttp, host: str
) -> None:
    with serving() as server, pytest.raises(UnsafeUrlError, match="not a public address"):
        await user_urls.request("GET", f"http://{host}:{server.port}/", dependency="hook")
    assert server.connections == 0


async def test_sec1_the_metadata_address_is_refused_without_a_connection() -> None:
    backend = RecordingBackend()
    http = guarded(backend=backend)
    with pytest.raises(UnsafeUrlError, match=r"169\.254\.169\.254"):
        await http.request("GET", "http://169.254.169.254/latest/meta-data/", dependency="hook")
    assert backend.connected_to == []
    await http.client.aclose()


async def test_sec1_an_allowed_network_is_reached() -> None:
    http = guarded(["127.0.0.0/8"])
    with serving() as server:
        response = await http.request("GET", f"http://localhost:{server.port}/", dependency="hook")
    assert response.status_code == 200
    assert server.arrivals == [f"localhost:{server.port}"]  # the URL's Host, not the address
    await http.client.aclose()


async def test_sec1_a_redirect_to_loopback_is_refused_at_its_hop() -> None:
    """Only 127.0.0.2 is trusted; it redirects to 127.0.0.1, which is never connected to,
    even by a caller that follows redirects (`request` does not follow them at all)."""
    http = guarded(["127.0.0.2/32"])
    with serving("127.0.0.1") as inside:
        target = f"http://127.0.0.1:{inside.port}/"
        with serving("127.0.0.2", location=target) as trusted:
            url = f"http://127.0.0.2:{trusted.port}/"
            response = await http.request("GET", url, dependency="hook")
            assert response.status_code == 302  # returned, not followed
            with pytest.raises(UnsafeUrlError):
                await http.client.get(url, follow_redirects=True)
    assert len(trusted.arrivals) == 2
    assert inside.connections == 0
    await http.client.aclose()


async def test_sec1_a_port_not_allowed_is_refused_unconnected() -> None:
    """The host is trusted, its port is not: refused, nothing connected."""
    http = guarded(["127.0.0.0/8"], ports=(80, 443))
    with serving() as server, pytest.raises(UnsafeUrlError, match=f"Port {server.port} "):
        await http.request("GET", f"http://127.0.0.1:{server.port}/", dependency="hook")
    assert server.connections == 0
    await http.client.aclose()


async def test_sec1_an_allowed_port_is_reached() -> None:
    with serving() as server:
        http = guarded(["127.0.0.0/8"], ports=(443, server.port))
        response = await http.request("GET", f"http://127.0.0.1:{server.port}/", dependency="hook")
    assert response.status_code == 200
    assert server.connections == 1
    await http.client.aclose()


async def test_sec1_a_redirect_to_a_port_not_allowed_is_refused_at_its_hop() -> None:
    """Both servers' host is trusted, only the first one's port: the redirect to the second
    is refused before it is connected to."""
    with serving() as inside:
        target = f"http://127.0.0.1:{inside.port}/"
        with serving(location=target) as trusted:
            http = guarded(["127.0.0.0/8"], ports=(trusted.port,))
            url = f"http://127.0.0.1:{trusted.port}/"
            with pytest.raises(UnsafeUrlError, match=f"Port {inside.port} "):
                await http.client.get(url, follow_redirects=True)
    assert trusted.connections == 1
    assert inside.connections == 0
    await http.client.aclose()


async def test_sec1_the_process_client_allows_the_web_ports_only(
    settings: ChassisSettings,
) -> None:
    """HTTP_USER_URL_ALLOWED_PORTS's default reaches the process's client: a trusted host on
    another port is refused, at registration and at the call, with nothing connected."""
    trusted = settings.http_client.model_copy(
        update={"user_url_allowed_networks": (ipaddress.ip_network("127.0.0.0/8"),)}
    )
    settings = settings.model_copy(update={"http_client": trusted})
    async with outbound_http(settings, breakers=CircuitBreakers()) as http:
        user_urls = http.for_user_urls()
        with serving() as server:
            url = f"http://127.0.0.1:{server.port}/hook"
            with pytest.raises(UnsafeUrlError, match=f"Port {server.port} "):
                await user_urls.check_user_url(url)
            with pytest.raises(UnsafeUrlError, match=f"Port {server.port} "):
                await user_urls.request("GET", url, dependency="hook")
    assert server.connections == 0


async def test_sec1_a_registered_urls_port_is_checked_before_its_host_is_resolved() -> None:
    asked: list[str] = []

    async def recording(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return ["93.184.215.14"]

    policy = UserUrlPolicy(https_only=False)
    with pytest.raises(UnsafeUrlError, match=r"Port 6379 \(cache\.example\.com\)"):
        await policy.check("http://cache.example.com:6379/", resolver=recording)
    assert asked == []
    # A scheme's default port, named or not, is the same port.
    for url in ("https://example.com:443/", "http://example.com:80/", "https://example.com/"):
        await policy.check(url, resolver=recording)
    with pytest.raises(UnsafeUrlError, match="Port 80 "):
        await UserUrlPolicy(https_only=False, allowed_ports=(443,)).check(
            "http://example.com/", resolver=recording
        )


def test_sec1_no_allowed_port_is_not_any_port() -> None:
    with pytest.raises(ValueError, match="No port allowed"):
        UserUrlPolicy(https_only=False, allowed_ports=())


async def test_sec1_a_registered_url_to_a_private_address_is_refused(
    user_urls: OutboundHttp,
) -> None:
    with pytest.raises(UnsafeUrlError, match=r"10\.0\.0\.5"):
        await user_urls.check_user_url("https://10.0.0.5/hooks?token=secret")


async def test_sec1_a_registered_url_to_loopback_is_refused_unconnected(
    settings: ChassisSettings,
) -> None:
    """Through the process's own clients, as a service's registration route calls it."""
    any_port = settings.http_client.model_copy(update={"user_url_allowed_ports": ANY_PORT})
    settings = settings.model_copy(update={"http_client": any_port})
    async with outbound_http(settings, breakers=CircuitBreakers()) as http:
        with serving() as server, pytest.raises(UnsafeUrlError, match="not a public address"):
            await http.check_user_url(f"http://localhost:{server.port}/hook")
    assert server.connections == 0


async def test_sec1_a_registered_url_in_an_allowed_network_is_accepted_unconnected() -> None:
    http = guarded(["127.0.0.0/8"])
    with serving() as server:
        await http.check_user_url(f"http://localhost:{server.port}/hook")
    assert server.connections == 0
    await http.client.aclose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "Only http or https"),
        ("http://user:pass@example.com/", "credentials"),
        ("/relative/path", "Only http or https"),
        ("http://[::1/", "Not a valid URL"),
    ],
)
async def test_sec1_a_registered_url_is_refused_before_its_host_is_resolved(
    user_urls: OutboundHttp, url: str, reason: str
) -> None:
    with pytest.raises(UnsafeUrlError, match=reason):
        await user_urls.check_user_url(url)


async def test_sec1_a_registered_url_whose_host_does_not_resolve_is_refused() -> None:
    """What cannot be checked is not accepted (a call would fail on it anyway)."""

    async def nowhere(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnsafeUrlError, match=r"nowhere\.test did not resolve"):
        await UserUrlPolicy(https_only=False).check("http://nowhere.test/", resolver=nowhere)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "Only http or https"),
        ("http://user:pass@example.com/", "credentials"),
    ],
)
async def test_sec1_other_schemes_and_userinfo_are_refused(url: str, reason: str) -> None:
    backend = RecordingBackend()
    http = guarded(backend=backend)
    with pytest.raises(UnsafeUrlError, match=reason):
        await http.request("GET", url, dependency="hook")
    assert backend.connected_to == []
    await http.client.aclose()


async def test_sec1_production_calls_only_https() -> None:
    backend = RecordingBackend()
    http = guarded(https_only=True, backend=backend)
    with pytest.raises(UnsafeUrlError, match="Only https"):
        await http.request("GET", "http://example.com/", dependency="hook")
    assert backend.connected_to == []
    await http.client.aclose()


async def test_sec1_the_address_connected_to_is_the_one_checked() -> None:
    """DNS rebinding: a name that answers a trusted address first and loopback after. The
    backend asks once and connects to that answer's literal, so no second answer is ever used
    (nor could the system resolver be asked: `rebind.test` resolves nowhere)."""
    answers = iter([["127.0.0.2"], ["127.0.0.1"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    inner = RecordingBackend()
    policy = UserUrlPolicy(
        https_only=False,
        allowed_networks=[ipaddress.ip_network("127.0.0.2/32")],
        allowed_ports=ANY_PORT,
    )
    backend = PinningBackend(policy, resolver=rebinding, inner=inner)
    with serving("127.0.0.1") as inside, serving("127.0.0.2") as trusted:
        stream = await backend.connect_tcp("rebind.test", trusted.port, timeout=2)
        await stream.aclose()
    assert asked == ["rebind.test"]
    assert inner.connected_to == ["127.0.0.2"]
    assert inside.connections == 0


async def test_sec1_any_private_answer_refuses_the_name() -> None:
    async def mixed(host: str, port: int) -> Sequence[str]:
        return ["93.184.215.14", "10.0.0.5"]

    inner = RecordingBackend()
    backend = PinningBackend(UserUrlPolicy(https_only=False), resolver=mixed, inner=inner)
    with pytest.raises(UnsafeUrlError, match=r"10\.0\.0\.5"):
        await backend.connect_tcp("mixed.test", 80, timeout=2)
    assert inner.connected_to == []


async def test_a_streamed_body_is_sent_and_the_connection_closed_with_the_client() -> None:
    """The chassis's transport passes the body as it streams, keeps the connection for the
    next call, and closes its pool when the client closes."""

    async def body() -> AsyncIterator[bytes]:
        for part in (b"hello, ", b"stream"):
            yield part

    policy = UserUrlPolicy(
        https_only=False,
        allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
        allowed_ports=ANY_PORT,
    )
    transport = UserUrlTransport(policy, tls=httpx.create_ssl_context(), limits=httpx.Limits())
    with flaky_server() as server:
        async with httpx.AsyncClient(transport=transport, timeout=2) as client:
            headers = {"Content-Length": "13"}
            first = await client.post(server.url, content=body(), headers=headers)
            second = await client.get(server.url)
            assert (first.status_code, second.status_code) == (200, 200)
            assert len(transport.pool.connections) == 1  # kept alive, used again
        assert transport.pool.connections == []
    assert server.arrivals[0].body == b"hello, stream"


@pytest.mark.parametrize(
    "answer", ["::ffff:0:a9fe:a9fe", "::a9fe:a9fe"], ids=["ipv4-translated", "ipv4-compatible"]
)
async def test_sec1_an_ipv6_answer_carrying_the_metadata_address_is_refused(answer: str) -> None:
    """A name whose only answer is IPv6 with 169.254.169.254 in its last 32 bits, which a
    translator (SIIT) or an automatic tunnel delivers there: refused, nothing connected."""

    async def carrying(host: str, port: int) -> Sequence[str]:
        return [answer]

    inner = RecordingBackend()
    backend = PinningBackend(UserUrlPolicy(https_only=False), resolver=carrying, inner=inner)
    with pytest.raises(UnsafeUrlError, match="not a public address"):
        await backend.connect_tcp("carrying.test", 80, timeout=2)
    assert inner.connected_to == []


@pytest.mark.parametrize(
    "address",
    [
        "0.1.2.3",
        "10.1.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.168.1.1",
        "224.0.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::ffff:0:a9fe:a9fe",  # IPv4-translated (SIIT) 169.254.169.254
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT) 127.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::a00:1",  # IPv4-compatible 10.0.0.1
    ],
)
def test_sec1_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "64:ff9b::808:808"])
def test_sec1_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.fixture
async def test_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[trustme.CA, ssl.SSLContext]:
    """A test CA, and the chassis's outbound TLS context trusting it the way a service trusts a
    private CA: SSL_CERT_FILE."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca, await load_tls_context()


def cause[E: BaseException](exc: BaseException, kind: type[E]) -> E:
    """The first exception of `kind` in `exc`'s chain of causes."""
    link: BaseException | None = exc
    while link is not None:
        if isinstance(link, kind):
            return link
        link = link.__cause__
    raise AssertionError(f"no {kind.__name__} caused {exc!r}")


async def test_sec1_tls_to_the_pinned_address_is_about_the_urls_host(
    test_ca: tuple[trustme.CA, ssl.SSLContext],
) -> None:
    """Connected to the literal checked, yet the hello names the URL's host (SNI) and the
    certificate, for localhost and not for 127.0.0.1, is verified against that host."""
    ca, tls = test_ca
    backend = RecordingBackend()
    http = guarded(["127.0.0.0/8"], https_only=True, backend=backend, tls=tls)
    with serving_tls(ca.issue_cert("localhost")) as server:
        url = f"https://localhost:{server.port}/"
        response = await http.request("GET", url, dependency="hook")
    assert response.status_code == 200
    assert backend.connected_to == ["127.0.0.1"]
    assert server.server_names == ["localhost"]
    assert server.arrivals == [f"localhost:{server.port}"]
    await http.client.aclose()


@pytest.mark.parametrize("certified", ["example.test", "127.0.0.1"], ids=["other-name", "the-ip"])
async def test_sec1_a_certificate_for_another_host_is_refused_at_the_handshake(
    test_ca: tuple[trustme.CA, ssl.SSLContext], certified: str
) -> None:
    """The address is allowed and connected to, the certificate is signed by a trusted CA, but
    it is for another name, or for the very address connected to: the handshake refuses it.
    Not earlier (the guard let the connection through, the hello was sent), and before any
    request."""
    ca, tls = test_ca
    backend = RecordingBackend()
    http = guarded(["127.0.0.0/8"], https_only=True, backend=backend, tls=tls)
    with serving_tls(ca.issue_cert(certified)) as server:
        url = f"https://localhost:{server.port}/"
        with pytest.raises(DependencyUnavailableError) as refused:
            await http.request("GET", url, dependency="hook")
    # httpcore keeps OpenSSL's message but not the ssl error itself.
    failure = str(cause(refused.value, httpx.ConnectError))
    assert "CERTIFICATE_VERIFY_FAILED" in failure
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in failure
    assert backend.connected_to == ["127.0.0.1"]
    assert server.connections == 1
    assert server.server_names == ["localhost"]
    assert server.arrivals == []
    await http.client.aclose()


async def test_a_certificate_that_does_not_verify_is_tried_once(
    test_ca: tuple[trustme.CA, ssl.SSLContext],
) -> None:
    """No retry makes a certificate for another host verify: one connection, not one per
    attempt, and it counts once against the breaker (the second call opens it at 2)."""
    ca, tls = test_ca
    http = OutboundHttp(
        httpx.AsyncClient(verify=tls, timeout=2),
        breakers=CircuitBreakers(threshold=2, reset_seconds=60),
        policy=RetryPolicy(attempts=3, deadline_seconds=5, wait_initial=0.01, wait_jitter=0),
    )
    with serving_tls(ca.issue_cert("example.test")) as server:
        url = f"https://localhost:{server.port}/"
        with pytest.raises(DependencyUnavailableError, match="certificate did not verify"):
            await http.request("GET", url, dependency="partner")
        assert server.connections == 1
        assert http.breakers.state("partner") == "closed"
        with pytest.raises(DependencyUnavailableError):
            await http.request("GET", url, dependency="partner")
        assert server.connections == 2
    assert http.breakers.state("partner") == "open"
    await http.client.aclose()
