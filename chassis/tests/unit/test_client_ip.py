"""SEC-4: the client address comes from forwarding headers only through trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from goldenpath_chassis._core.security.client_ip import ClientIpResolver, ProxyHeader, parse_ip
from goldenpath_chassis._core.security.rate_limit import ip_bucket

pytestmark = pytest.mark.unit

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


def scope(peer: str, *headers: tuple[str, str]) -> dict[str, object]:
    return {
        "type": "http",
        "client": (peer, 50000),
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


def resolve(peer: str, *headers: tuple[str, str], header: ProxyHeader = "x-forwarded-for") -> str:
    return ClientIpResolver(PROXIES, header=header)(scope(peer, *headers))


def test_sec4_headers_from_an_untrusted_peer_change_nothing() -> None:
    assert resolve("203.0.113.7", ("x-forwarded-for", "1.2.3.4")) == "203.0.113.7"
    assert resolve("203.0.113.7", ("forwarded", "for=1.2.3.4")) == "203.0.113.7"


def test_sec4_the_rightmost_untrusted_address_is_the_client() -> None:
    # The client forged "6.6.6.6"; our proxy appended the address it really saw.
    forged = ("x-forwarded-for", "6.6.6.6, 198.51.100.20")
    assert resolve("10.0.0.5", forged) == "198.51.100.20"
    # Two proxies of ours in a row are skipped.
    chained = ("x-forwarded-for", "6.6.6.6, 198.51.100.20, 10.1.1.1")
    assert resolve("10.0.0.5", chained) == "198.51.100.20"


def test_sec4_several_header_lines_are_read_in_order() -> None:
    assert (
        resolve("10.0.0.5", ("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.9"))
        == "198.51.100.9"
    )


def test_sec4_garbage_stops_at_the_last_trusted_hop() -> None:
    assert resolve("10.0.0.5", ("x-forwarded-for", "198.51.100.1, not-an-ip")) == "10.0.0.5"
    assert resolve("10.0.0.5", ("x-forwarded-for", "")) == "10.0.0.5"


def test_sec4_only_the_configured_header_is_read() -> None:
    # The proxy appends X-Forwarded-For; a client's own Forwarded header must be ignored.
    assert (
        resolve("10.0.0.5", ("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "198.51.100.3"))
        == "198.51.100.3"
    )
    assert (
        resolve(
            "10.0.0.5",
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"'),
            header="forwarded",
        )
        == "2001:db8:cafe::17"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1:8080 ", "192.0.2.1"),
        ('"[2001:db8::1]:443"', "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", None),
        ("_hidden", None),
        ("999.1.1.1", None),
    ],
)
def test_sec4_header_entries_are_parsed_strictly(text: str, expected: str | None) -> None:
    assert parse_ip(text) == expected


def test_sec4_ipv6_clients_share_one_counter_per_64() -> None:
    assert ip_bucket("2001:db8:1:2:aaaa::1") == ip_bucket("2001:db8:1:2:bbbb::2")
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("192.0.2.1") == "192.0.2.1"
